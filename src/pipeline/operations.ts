/**
 * The pipeline's verbs, shared by the CLI and `airlock demo`: each resolves a release, gathers
 * facts, builds the plan and (unless asked only to plan) applies it.
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { ConfigError, UserError } from '../errors.ts';
import type { Provider } from '../providers/provider.ts';
import { type BuildProgress, type BuildResult, buildRelease } from '../releases/build.ts';
import type { Lock, Release } from '../state/state-store.ts';
import { type AirlockContext, readLedger, serviceTarget } from './context.ts';
import { contractsNotCarried, type UncarriedContract } from './contract.ts';
import { type ExecuteOptions, type ExecuteResult, executePlan, refusePlan } from './execute.ts';
import {
  buildPlan,
  currentRelease,
  environmentNamed,
  gatherFacts,
  type Plan,
  type PlanAction,
  type PlanFacts,
  promotionCandidate,
  releaseNamed,
} from './plan.ts';

export interface ReleaseChoice {
  /** `r3`, a digest prefix or a commit prefix. */
  release?: string;
  /** Build (or reuse) the release of this commit. */
  commit?: string;
  /** `--override-window "reason"`: promote outside the deploy window or during a freeze (audited). */
  windowOverride?: string;
}

export interface OperationHooks {
  signal?: AbortSignal;
  /** Wait this long (ms) in the environment's queue when its lock is held. */
  waitMs?: number;
  /** Called once when the command starts waiting for the lock. */
  onWait?: (holder: Lock) => void;
  onBuild?: (progress: BuildProgress) => void;
  /** Called with the plan before it is applied (e.g. to ask for confirmation). */
  beforeApply?: (plan: Plan) => Promise<void>;
}

/** `airlock build` with the context's store, artifacts and identity (see `buildRelease`). */
export function buildForContext(
  ctx: AirlockContext,
  options: {
    commit?: string;
    rebuild?: boolean;
    signal?: AbortSignal;
    onProgress?: (p: BuildProgress) => void;
  },
): Promise<BuildResult> {
  // Each platform the pipeline uses packages the release once (e.g. Fly pushes one image),
  // with the settings of the first environment that uses it.
  const packagers = new Map<string, { env: ResolvedEnvironment; provider: Provider }>();
  for (const name of ctx.config.pipeline) {
    const env = environmentNamed(ctx.config, name);
    const provider = ctx.providerFor(env);
    if (provider.packageRelease && !packagers.has(provider.name))
      packagers.set(provider.name, { env, provider });
  }
  return buildRelease({
    config: ctx.config,
    store: ctx.store,
    artifacts: ctx.artifacts,
    home: ctx.home,
    actor: ctx.actor,
    now: ctx.now,
    ...(packagers.size > 0
      ? {
          packageRelease: async (service, outputDir, release, onLine) => {
            for (const { env, provider } of packagers.values()) {
              await provider.packageRelease?.(
                serviceTarget(ctx.config, env, service),
                outputDir,
                release,
                { onProgress: onLine, ...(options.signal ? { signal: options.signal } : {}) },
              );
            }
          },
        }
      : {}),
    ...options,
  });
}

/** The release a deploy into `env` takes: given, built from a commit, or built from HEAD. */
export async function chooseRelease(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  choice: ReleaseChoice,
  hooks: OperationHooks,
  options: { build: boolean },
): Promise<{ release: Release; build: BuildResult | null }> {
  if (choice.release && choice.commit) {
    throw new UserError('USAGE', 'pass either --release or --commit, not both.');
  }
  if (choice.release) return { release: await releaseNamed(ctx, choice.release), build: null };
  if (env.previous && !choice.commit)
    return { release: await promotionCandidate(ctx, env), build: null };
  if (!options.build) {
    const found = choice.commit ? await ctx.store.findRelease(choice.commit) : undefined;
    if (found) return { release: found, build: null };
    throw new UserError(
      'RELEASE_NOT_FOUND',
      `no release is built for ${choice.commit ?? 'HEAD'} yet.`,
      {
        hint: `Run \`airlock build${choice.commit ? ` --commit ${choice.commit}` : ''}\` (or \`airlock deploy ${env.name}\`, which builds).`,
      },
    );
  }
  const build = await buildForContext(ctx, {
    ...(choice.commit ? { commit: choice.commit } : {}),
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(hooks.onBuild ? { onProgress: hooks.onBuild } : {}),
  });
  return { release: build.release, build };
}

const gatherOptions = (choice: ReleaseChoice) =>
  choice.windowOverride ? { windowOverride: choice.windowOverride } : {};

function executeOptions(hooks: OperationHooks, queue: 'manual' | 'automatic'): ExecuteOptions {
  return {
    queue,
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(hooks.waitMs ? { waitMs: hooks.waitMs } : {}),
    ...(hooks.onWait ? { onWait: hooks.onWait } : {}),
  };
}

/** The action that puts a release into `env`: deploying into the first, promoting into later ones. */
export function actionFor(env: ResolvedEnvironment): PlanAction {
  return env.previous ? 'promote' : 'deploy';
}

export interface DeployResult extends ExecuteResult {
  build: BuildResult | null;
}

/**
 * `airlock deploy <env>` / `airlock promote <env>`: into the first environment a release is
 * deployed directly (built if needed); into a later one it is promoted through the gate.
 * @throws UserError `GATE_BLOCKED`, `LOCK_HELD`, `RELEASE_NOT_FOUND`, `NOTHING_TO_PROMOTE`, build errors.
 */
export async function deploy(
  ctx: AirlockContext,
  environment: string,
  choice: ReleaseChoice,
  hooks: OperationHooks = {},
): Promise<DeployResult> {
  const env = environmentNamed(ctx.config, environment);
  const { release, build } = await chooseRelease(ctx, env, choice, hooks, { build: !env.previous });
  const facts = await gatherFacts(ctx, actionFor(env), env, release, gatherOptions(choice));
  await hooks.beforeApply?.(buildPlan(facts));
  const result = await executePlan(ctx, facts, executeOptions(hooks, 'manual'));
  if (result.status === 'succeeded') await announceApprovalRequest(ctx, env, release);
  return { ...result, build };
}

/**
 * After `release` succeeded in `env`: when the next environment is promoted by hand with
 * required approvals, and nothing but approvals (and waits such as soak) stands in the way,
 * observers are told it awaits approval (notification `approval.requested`).
 */
export async function announceApprovalRequest(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<void> {
  if (!ctx.observe || !env.next) return;
  const next = environmentNamed(ctx.config, env.next);
  if (next.promotion.policy !== 'manual' || next.promotion.approval.required === 0) return;
  // The next environment's database may be out of reach here (a CI job for staging holds no
  // production secret): approvals and the other gates do not need it.
  const plan = buildPlan(
    await gatherFacts(ctx, 'promote', next, release).catch((error) => {
      if (error instanceof ConfigError)
        return gatherFacts(ctx, 'promote', next, release, { skipMigrations: true });
      throw error;
    }),
  );
  const approval = plan.gates.find((g) => g.gate === 'approval');
  if (approval?.status === 'pending' && !plan.gates.some((g) => g.status === 'fails'))
    ctx.observe({ type: 'awaiting-approval', plan, at: ctx.now().toISOString(), actor: ctx.actor });
}

/** The plan of a deploy or promotion, without applying it. Builds nothing. */
export async function planDeploy(
  ctx: AirlockContext,
  environment: string,
  choice: ReleaseChoice,
): Promise<Plan> {
  const env = environmentNamed(ctx.config, environment);
  const { release } = await chooseRelease(ctx, env, choice, {}, { build: false });
  return buildPlan(await gatherFacts(ctx, actionFor(env), env, release, gatherOptions(choice)));
}

/** The release a rollback returns to: `to`, or the one that served before the current one. */
export async function rollbackTarget(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  to?: string,
): Promise<Release> {
  if (to) return releaseNamed(ctx, to);
  const current = currentRelease(await ctx.store.getServing(env.name));
  const history = await ctx.store.listDeployments({ environment: env.name, limit: 200 });
  const earlier = history.find(
    (d) => d.switchedAt !== null && d.releaseId !== current && d.status !== 'failed',
  );
  if (!earlier) {
    throw new UserError(
      'NOTHING_TO_ROLL_BACK',
      `${env.name} has no earlier release to roll back to.`,
      {
        hint: `Run \`airlock history ${env.name}\` to see what ran there, or pass --to <release>.`,
      },
    );
  }
  return releaseNamed(ctx, earlier.releaseId);
}

/**
 * The rollback guard (issue 4): refuses to go back to a release that does not carry a contract
 * migration the environment has applied — its code would meet a schema it does not know.
 * With `force` it returns the audit of the override (`rollback.forced`), written once the
 * rollback is confirmed.
 * @throws UserError `ROLLBACK_UNSAFE` (audited `rollback.refused`).
 */
async function guardRollback(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  force: boolean,
): Promise<(() => Promise<unknown>) | null> {
  const candidates = await ctx.store.listReleases(200);
  const unsafe: UncarriedContract[] = [];
  for (const name of ctx.config.services) {
    const database = env.services[name]?.database;
    if (!database) continue;
    unsafe.push(
      ...(await contractsNotCarried(ctx, name, await readLedger(database), release, candidates)),
    );
  }
  if (unsafe.length === 0) return null;
  const files = unsafe.map((u) => `${u.service}/${u.filename}`);
  const at = ctx.now().toISOString();
  const audit = {
    at,
    actor: ctx.actor,
    environment: env.name,
    releaseId: release.id,
    runId: null,
    detail: { contracts: unsafe },
  };
  if (force)
    return async () => ctx.store.appendAudit({ ...audit, action: 'rollback.forced', result: 'ok' });
  await ctx.store.appendAudit({ ...audit, action: 'rollback.refused', result: 'refused' });
  throw new UserError(
    'ROLLBACK_UNSAFE',
    `rolling ${env.name} back to ${release.id} would start its code against a schema it does not know: ${files.join(', ')} ${unsafe.length === 1 ? 'is a contract migration' : 'are contract migrations'} applied on ${env.name} that ${release.id} does not carry.`,
    {
      hint: `Fix forward instead: commit the fix, \`airlock deploy ${ctx.config.pipeline[0]}\` and promote it. If ${release.id} truly runs without what ${unsafe.length === 1 ? 'it' : 'they'} removed, pass --force (audited).`,
      details: { contracts: unsafe },
    },
  );
}

/** `airlock rollback <env> [--to R] [--force]`: serve an earlier release again (instantly when warm). */
export async function rollback(
  ctx: AirlockContext,
  environment: string,
  to: string | undefined,
  hooks: OperationHooks & { force?: boolean } = {},
): Promise<ExecuteResult> {
  const env = environmentNamed(ctx.config, environment);
  const release = await rollbackTarget(ctx, env, to);
  const current = currentRelease(await ctx.store.getServing(env.name));
  if (current === release.id) {
    throw new UserError('NOTHING_TO_ROLL_BACK', `${env.name} already serves ${release.id}.`, {
      hint: `Pass --to <release> to choose another one (see \`airlock history ${env.name}\`).`,
    });
  }
  const forced = await guardRollback(ctx, env, release, hooks.force ?? false);
  const facts = await gatherFacts(ctx, 'rollback', env, release);
  await hooks.beforeApply?.(buildPlan(facts));
  await forced?.();
  return executePlan(ctx, facts, executeOptions(hooks, 'manual'));
}

export interface AutomaticPromotion {
  environment: string;
  /** The promotion that ran, or null when the gate did not hold. */
  result: ExecuteResult | null;
  /** The plan that was evaluated; null when the environment is out of reach here. */
  plan: Plan | null;
  /** Why the environment could not be evaluated here (e.g. its database secret is not set). */
  unavailable?: string;
}

/**
 * After a release succeeded in `environment`, promote it onward while the next environment's
 * policy is `automatic` and its gate holds (seed 001: "passing the staging gate is both
 * necessary and sufficient"). Stops at the first environment that is manual or blocked.
 */
export async function followAutomaticPromotions(
  ctx: AirlockContext,
  environment: string,
  release: Release,
  hooks: OperationHooks & { onPlan?: (p: AutomaticPromotion) => void } = {},
): Promise<AutomaticPromotion[]> {
  const out: AutomaticPromotion[] = [];
  let env = environmentNamed(ctx.config, environment);
  while (env.next) {
    const next = environmentNamed(ctx.config, env.next);
    if (next.promotion.policy !== 'automatic') break;
    let facts: PlanFacts;
    try {
      facts = await gatherFacts(ctx, 'promote', next, release);
    } catch (error) {
      // This process cannot reach the next environment (its secret is not set here): that
      // environment's own job promotes it (`airlock promote <env> --auto`).
      if (!(error instanceof ConfigError)) throw error;
      const entry = {
        environment: next.name,
        result: null,
        plan: null,
        unavailable: error.message,
      };
      hooks.onPlan?.(entry);
      out.push(entry);
      break;
    }
    const plan = buildPlan(facts);
    if (plan.blocked) {
      // A failing gate stops the automatic flow on the record (audited, notified); a pending
      // one (CI still running, soak) waits for `airlock promote --auto`.
      if (plan.gates.some((g) => g.status === 'fails')) await refusePlan(ctx, plan);
      const entry = { environment: next.name, result: null, plan };
      hooks.onPlan?.(entry);
      out.push(entry);
      break;
    }
    hooks.onPlan?.({ environment: next.name, result: null, plan });
    const result = await executePlan(ctx, facts, executeOptions(hooks, 'automatic'));
    out.push({ environment: next.name, result, plan });
    if (result.status !== 'succeeded') break;
    await announceApprovalRequest(ctx, next, release);
    env = next;
  }
  return out;
}
