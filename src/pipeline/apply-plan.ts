/**
 * Applying a plan under a held environment lock: the only place a deployment, promotion or
 * rollback has side effects. Records the run and the deployment, runs the steps through the
 * engine, then records the outcome and its audit events. `execute.ts` takes the lock and
 * decides what runs; this module runs it.
 */
import { hasCode } from '../errors.ts';
import { audit, runAction } from '../state/audit.ts';
import type {
  Deployment,
  DeploymentStatus,
  Run,
  RunStep,
  ServingRecord,
  StoredCheckResult,
} from '../state/state-store.ts';
import { ChecksLeaseKeeper } from './checks-lease.ts';
import type { AirlockContext } from './context.ts';
import { runSteps, type Step, type StepOutcome } from './engine.ts';
import type { Lease } from './lock.ts';
import type { Plan, PlanFacts } from './plan.ts';
import { checkStep, recheckStep } from './steps/check-step.ts';
import { deployStep, unchangedStep } from './steps/deploy-step.ts';
import type { DeploymentRun } from './steps/deployment-run.ts';
import { lintStep } from './steps/lint-step.ts';
import { migrateStep } from './steps/migrate-step.ts';
import { rehearseStep } from './steps/rehearse-step.ts';
import { rollbackStep } from './steps/rollback-step.ts';
import { verifyStep } from './steps/verify-step.ts';

export interface ApplyOptions {
  /** Aborting (Ctrl-C) stops the current step as if it failed (a release not yet switched to never serves). */
  signal?: AbortSignal;
  /** Finishing an interrupted run: its id, and the steps it completed (name → output). */
  resume?: {
    runId: number;
    completed: Map<string, Record<string, unknown> | null>;
    before: ServingRecord[];
  };
}

export interface ExecuteResult {
  plan: Plan;
  run: Run;
  deployment: Deployment;
  status: 'succeeded' | 'failed' | 'errored';
  failedStep: { name: string; message: string | null; code?: string; hint?: string } | null;
  /** Release serving after the run, per service. */
  serving: Record<string, string | null>;
  /** True when an on-failure rollback put the previous release back. */
  rolledBack: boolean;
  urls: Record<string, string>;
  checks: StoredCheckResult[];
  /** Every step as recorded (timing in ms, outputs such as bootMs and switchMs). */
  steps: RunStep[];
  durationMs: number;
  outcomes: Record<string, StepOutcome>;
}

/**
 * An interrupted run of this environment is resolved by this one: resumed (when this run
 * resumes it) or replaced (any newer deployment decides what serves; an old run must never be
 * resumed over it).
 */
async function resolveInterrupted(
  ctx: AirlockContext,
  environment: string,
  runId: number,
  resumes: number | null,
): Promise<void> {
  const { store } = ctx;
  for (const old of await store.listRuns({ status: 'interrupted', environment, limit: 50 })) {
    const message = old.id === resumes ? `resumed by run #${runId}` : `replaced by run #${runId}`;
    await store.updateRun(old.id, { status: 'resolved', message });
    await audit(ctx, old.id === resumes ? 'run.resumed' : 'run.replaced', {
      environment,
      releaseId: old.releaseId,
      runId: old.id,
      detail: { by: runId },
    });
  }
}

function stepsFor(plan: Plan, facts: PlanFacts, d: DeploymentRun): Step[] {
  return plan.steps.map((s) => {
    const service = s.service as string;
    switch (s.kind) {
      case 'verify':
        return verifyStep(d, s.title);
      case 'recheck': {
        const g = facts.gates;
        const previous = g ? facts.config.environments[g.previous] : undefined;
        if (!g?.previousDeployment || !previous)
          throw new Error(`${s.name}: the plan has no previous deployment to re-check`);
        return recheckStep(d, previous, g.previousDeployment.id, service, s.title);
      }
      case 'lint':
        return lintStep(d, service, s.title);
      case 'migrate':
        return migrateStep(d, service, s.title);
      case 'deploy':
        return deployStep(d, service, s.title);
      case 'unchanged':
        return unchangedStep(d, service, s.title, plan.unchanged?.[service] ?? null);
      case 'check':
        return checkStep(d, service, s.title);
      case 'rehearse':
        return rehearseStep(d, service, s.title);
      default:
        return rollbackStep(d, service, s.title);
    }
  });
}

/**
 * Runs `plan` (built from `facts`) under `lease`, the environment lock this process holds.
 * Step failures do not throw, they are in the result; a lost lock throws `LOCK_LOST`.
 * What serves in `facts` is the automatic rollback's target: gather the facts under the lock.
 */
export async function applyPlan(
  ctx: AirlockContext,
  lease: Lease,
  facts: PlanFacts,
  plan: Plan,
  options: ApplyOptions = {},
): Promise<ExecuteResult> {
  const { lock } = lease;
  const env = facts.environment;
  const release = facts.release;
  // Every write of this run is fenced: if another process takes the lock over (this one was
  // paused past its lease), the writes are refused instead of interleaving with theirs.
  const store = ctx.store.fenced({ environment: env.name, token: lock.token });
  const rctx: AirlockContext = { ...ctx, store };
  const startedAt = ctx.now().toISOString();
  let run: Run | undefined;
  try {
    run = await store.createRun({
      kind: plan.action,
      environment: env.name,
      releaseId: release.id,
      actor: ctx.actor,
      pid: ctx.pid,
      host: ctx.host,
      startedAt,
      resumedFrom: options.resume?.runId ?? null,
    });
    await resolveInterrupted(rctx, env.name, run.id, options.resume?.runId ?? null);
    const deployment = await store.createDeployment({
      runId: run.id,
      environment: env.name,
      releaseId: release.id,
      kind: plan.action,
      actor: ctx.actor,
      previousReleaseId: plan.current,
      startedAt,
    });
    await audit(rctx, runAction(plan.action, 'started'), {
      at: startedAt,
      environment: env.name,
      releaseId: release.id,
      runId: run.id,
      detail: {
        from: plan.current,
        lockFence: lock.fence,
        ...(options.resume ? { resumes: options.resume.runId } : {}),
      },
    });
    ctx.observe?.({
      type: 'started',
      plan,
      runId: run.id,
      deploymentId: deployment.id,
      resumes: options.resume?.runId ?? null,
      at: startedAt,
      actor: ctx.actor,
    });
    for (const gate of plan.gates.filter((g) => g.overridden)) {
      await audit(rctx, 'gate.overridden', {
        at: startedAt,
        environment: env.name,
        releaseId: release.id,
        runId: run.id,
        detail: { gate: gate.gate, reason: gate.overridden, gateReason: gate.reason },
      });
    }

    const d: DeploymentRun = {
      ctx: rctx,
      env,
      release,
      kind: plan.action,
      runId: run.id,
      deploymentId: deployment.id,
      fence: lock.fence,
      before: options.resume?.before ?? facts.serving,
      switched: new Set(),
      rolledBack: new Set(),
      urls: {},
      leases: new ChecksLeaseKeeper(ctx.providerFor(env), ctx.config, env),
    };

    // The lease's keep-alive now also marks the run alive (`airlock resume` reads it).
    lease.trackRun(run.id, store);
    const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal;

    const completed = new Map(
      [...(options.resume?.completed ?? [])].map(([name, output]) => [
        name,
        { runId: options.resume?.runId as number, output },
      ]),
    );
    // A lease still held when the run ends (a failure with nothing to roll back to here) is no
    // longer renewed: the platform switches back when it runs out.
    const result = await runSteps({
      store,
      runId: run.id,
      title: `${plan.action} ${release.id} → ${env.name}${options.resume ? ` (resuming run #${options.resume.runId})` : ''}`,
      steps: stepsFor(plan, facts, d),
      sink: ctx.sink,
      signal,
      now: ctx.now,
      audit: { actor: ctx.actor, environment: env.name, releaseId: release.id },
      completed,
      ...(ctx.pause ? { pause: ctx.pause } : {}),
    }).finally(() => d.leases?.releaseAll());

    // Record the outcome.
    const finishedAt = ctx.now().toISOString();
    const checkOutcomes = [...result.outcomes.entries()].filter(([name]) =>
      name.startsWith('check:'),
    );
    const checksStatus =
      checkOutcomes.length === 0
        ? null
        : checkOutcomes.some(([, o]) => o.status === 'failed' || o.status === 'errored')
          ? 'failed'
          : 'passed';
    const rolledBack = d.rolledBack.size > 0;
    const status: DeploymentStatus =
      result.status === 'succeeded' ? 'succeeded' : rolledBack ? 'rolled_back' : 'failed';
    const failure = result.failedStep;
    const message = failure
      ? `${failure.name}: ${failure.message ?? failure.status}${rolledBack ? ` — rolled back to ${plan.current}` : ''}`
      : null;
    await store.updateDeployment(deployment.id, { status, finishedAt, checksStatus, message });
    if (plan.action === 'rollback' && result.status === 'succeeded') {
      for (const id of new Set(facts.serving.map((s) => s.deploymentId))) {
        await store.updateDeployment(id, { status: 'rolled_back' });
      }
    }
    await store.updateRun(run.id, { status: result.status, finishedAt, message });
    const waiting = facts.awaitingApproval;
    if (waiting && result.status === 'succeeded') {
      await audit(rctx, 'approval.superseded', {
        at: finishedAt,
        environment: waiting.environment,
        releaseId: waiting.release,
        runId: run.id,
        result: 'superseded',
        detail: {
          by: release.id,
          on: env.name,
          approvals: waiting.approvals,
          required: waiting.required,
        },
      });
    }

    const serving: Record<string, string | null> = {};
    for (const record of await store.getServing(env.name))
      serving[record.service] = record.releaseId;
    const checks = await store.listCheckResults(deployment.id);
    await audit(
      rctx,
      runAction(plan.action, result.status === 'succeeded' ? 'succeeded' : 'failed'),
      {
        at: finishedAt,
        environment: env.name,
        releaseId: release.id,
        runId: run.id,
        result: result.status === 'succeeded' ? 'ok' : result.status,
        detail: {
          from: plan.current,
          durationMs: result.durationMs,
          checks: checks.map((c) => ({ service: c.service, name: c.name, status: c.status })),
          ...(failure ? { failedStep: failure.name, reason: failure.message } : {}),
          ...(rolledBack ? { rolledBackTo: plan.current } : {}),
          ...(plan.unchanged && Object.keys(plan.unchanged).length > 0
            ? { unchanged: plan.unchanged }
            : {}),
          serving,
        },
      },
    );
    const outcome: ExecuteResult = {
      plan,
      run: { ...run, status: result.status, finishedAt, message },
      deployment: { ...deployment, status, finishedAt, checksStatus, message },
      status: result.status,
      failedStep: failure
        ? {
            name: failure.name,
            message: failure.message,
            ...(failure.code ? { code: failure.code } : {}),
            ...(failure.hint ? { hint: failure.hint } : {}),
          }
        : null,
      serving,
      rolledBack,
      urls: d.urls,
      checks,
      steps: await store.listSteps(run.id),
      durationMs: result.durationMs,
      outcomes: Object.fromEntries(result.outcomes),
    };
    ctx.observe?.({ type: 'finished', result: outcome, at: finishedAt, actor: ctx.actor });
    return outcome;
  } catch (error) {
    if (run && !hasCode(error, 'LOCK_LOST')) {
      await store
        .updateRun(run.id, {
          status: 'errored',
          finishedAt: ctx.now().toISOString(),
          message: String((error as Error).message),
        })
        .catch(() => {});
    }
    throw error;
  }
}
