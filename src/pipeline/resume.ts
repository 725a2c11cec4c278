/**
 * `airlock resume`: finishing what a dead process left. An interrupted deploy, promotion or
 * rollback is finished from its last completed step — every step is safe to redo (migrations
 * are ledgered, a deploy of the same release is a zero-downtime restart, checks are reads) and
 * completed ones are adopted rather than run again — and, when it cannot be finished on this
 * machine (the release's bytes are not here), the environment is rolled back to what served
 * before. Either way the old run is resolved and the audit log says how.
 */

import { environmentNamed } from '../config/environments.ts';
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { toAirlockError } from '../errors.ts';
import type { Release, Run, ServingRecord } from '../state/state-store.ts';
import { type AirlockContext, serviceTarget } from './context.ts';
import { type ExecuteResult, executeResumed } from './execute.ts';
import { gatherFacts } from './facts.ts';
import { buildPlan } from './plan.ts';
import { recoverInterruptedRuns } from './recover.ts';

export interface ResumeOutcome {
  runId: number;
  environment: string;
  releaseId: string | null;
  /** `finished`: the run completed; `rolled-back`: the previous release serves again. */
  outcome: 'finished' | 'rolled-back' | 'nothing-to-do';
  reason: string;
  result: ExecuteResult | null;
}

/** What `airlock resume` is about to do to an environment, for a confirmation. */
export interface ResumeChange {
  runId: number;
  environment: ResolvedEnvironment;
  /** `finish`: run the rest of the interrupted run; `roll back`: serve `releaseId` again. */
  action: 'finish' | 'roll back';
  /** The interrupted run's kind (`deploy`, `promote`, `rollback`). */
  kind: string;
  /** The release that will serve once the change is made. */
  releaseId: string;
  /** Why it rolls back instead of finishing (the interrupted release cannot be used here). */
  reason?: string;
}

/** What served each service before run `run` started (the release its deployment replaced). */
async function servingBefore(ctx: AirlockContext, run: Run): Promise<ServingRecord[]> {
  const [deployment] = await ctx.store.listDeployments({ runId: run.id, limit: 1 });
  const previous = deployment?.previousReleaseId;
  if (!previous || previous === 'mixed') return [];
  const history = await ctx.store.listDeployments({
    environment: run.environment,
    releaseId: previous,
    limit: 20,
  });
  const served = history.find((d) => d.switchedAt !== null && d.runId !== run.id);
  if (!served) return [];
  return ctx.config.services.map((service) => ({
    environment: run.environment,
    service,
    releaseId: previous,
    deploymentId: served.id,
    since: served.switchedAt as string,
  }));
}

/**
 * A switch the dead run made may have been undone since (the local runtime switches back when a
 * switch's checks lease runs out): a `deploy:<service>` step whose service no longer serves
 * `release` is done again rather than adopted, so the checks that follow check `release`.
 */
async function forgetUndoneSwitches(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: string,
  completed: Map<string, Record<string, unknown> | null>,
): Promise<void> {
  for (const name of [...completed.keys()]) {
    if (!name.startsWith('deploy:')) continue;
    const service = name.slice('deploy:'.length);
    const state = await ctx
      .providerFor(env)
      .describe(serviceTarget(ctx.config, env, service))
      .catch(() => null);
    if (state && state.release !== release) completed.delete(name);
  }
}

/** True when every artifact of the release verifies on this machine. */
async function verifiable(ctx: AirlockContext, release: Release): Promise<string | null> {
  try {
    for (const artifact of Object.values(release.services)) {
      await ctx.artifacts.verify(artifact.digest);
      if (artifact.migrationsDigest) await ctx.artifacts.verify(artifact.migrationsDigest);
    }
    return null;
  } catch (error) {
    return toAirlockError(error).message;
  }
}

/**
 * Resolves the interrupted runs of one environment (or all), oldest first. `beforeApply` is
 * called before each change to an environment (e.g. to confirm it on a protected one);
 * throwing stops there, that run still interrupted.
 * @throws UserError `LOCK_HELD` when a live command holds the environment; what `beforeApply`
 *   throws.
 */
export async function resumeInterruptedRuns(
  ctx: AirlockContext,
  environment?: string,
  options: { signal?: AbortSignal; beforeApply?: (change: ResumeChange) => Promise<void> } = {},
): Promise<ResumeOutcome[]> {
  await recoverInterruptedRuns(ctx);
  const runs = (await ctx.store.listRuns({ status: 'interrupted', limit: 100 }))
    .filter((r) => !environment || r.environment === environment)
    .sort((a, b) => a.id - b.id);
  const outcomes: ResumeOutcome[] = [];
  for (const run of runs) {
    // A newer run of the same environment may have resolved it meanwhile.
    if ((await ctx.store.getRun(run.id))?.status !== 'interrupted') continue;
    const env = environmentNamed(ctx.config, run.environment);
    const release = run.releaseId ? await ctx.store.findRelease(run.releaseId) : undefined;
    const before = await servingBefore(ctx, run);
    const missing = release ? await verifiable(ctx, release) : 'the run names no release';
    const kind = run.kind === 'migrate' ? 'deploy' : run.kind;
    if (release && !missing) {
      const completed = new Map(
        (await ctx.store.listSteps(run.id))
          .filter((s) => s.status === 'succeeded')
          .map((s) => [s.name, s.output]),
      );
      await options.beforeApply?.({
        runId: run.id,
        environment: env,
        action: 'finish',
        kind,
        releaseId: release.id,
      });
      await forgetUndoneSwitches(ctx, env, release.id, completed);
      const facts = { ...(await gatherFacts(ctx, kind, env, release)), serving: before };
      const result = await executeResumed(ctx, facts, buildPlan(facts), {
        resume: { runId: run.id, completed, before },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      outcomes.push({
        runId: run.id,
        environment: env.name,
        releaseId: release.id,
        outcome: result.status === 'succeeded' ? 'finished' : 'rolled-back',
        reason:
          result.status === 'succeeded'
            ? `finished ${kind} of ${release.id} from the last completed step (${completed.size} of ${result.steps.length} steps were done)`
            : `finishing failed at ${result.failedStep?.name}: ${result.failedStep?.message}`,
        result,
      });
      continue;
    }
    // Cannot finish here: put back what served before.
    const previous = before[0] ? await ctx.store.findRelease(before[0].releaseId) : undefined;
    if (!previous) {
      await ctx.store.updateRun(run.id, {
        status: 'resolved',
        message: `could not resume: ${missing}; nothing served before`,
      });
      outcomes.push({
        runId: run.id,
        environment: env.name,
        releaseId: run.releaseId,
        outcome: 'nothing-to-do',
        reason: `cannot finish (${missing}) and nothing served before`,
        result: null,
      });
      continue;
    }
    await options.beforeApply?.({
      runId: run.id,
      environment: env,
      action: 'roll back',
      kind,
      releaseId: previous.id,
      ...(missing ? { reason: missing } : {}),
    });
    const facts = await gatherFacts(ctx, 'rollback', env, previous);
    const result = await executeResumed(ctx, facts, buildPlan(facts), {
      resume: { runId: run.id, completed: new Map(), before },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    outcomes.push({
      runId: run.id,
      environment: env.name,
      releaseId: run.releaseId,
      outcome: 'rolled-back',
      reason: `cannot finish (${missing}); rolled back to ${previous.id}`,
      result,
    });
  }
  return outcomes;
}
