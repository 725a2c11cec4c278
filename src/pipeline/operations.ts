/**
 * The pipeline's verbs, shared by every entry point (the CLI, `airlock demo`, automatic
 * promotion): each turns a request into an `Intent`, resolves it (`chooseRelease`) and executes
 * it under the environment lock (`execute`), where the gates are decided (`decide.ts`).
 */
import { environmentNamed } from '../config/environments.ts';
import { type ResolvedEnvironment, usableDatabase } from '../config/resolve.ts';
import { ConfigError, InternalError } from '../errors.ts';
import type { BuildProgress, BuildResult } from '../releases/build.ts';
import type { Lock, Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { type Choice, chooseRelease, decide, type Intent, promotionChoice } from './decide.ts';
import {
  type ExecuteOptions,
  type ExecuteOutcome,
  type ExecuteResult,
  execute,
  refusePlan,
  type UnchangedOutcome,
} from './execute.ts';
import { gatherReachableFacts } from './facts.ts';
import { buildPlan, type Plan } from './plan.ts';

export interface ReleaseChoice {
  /** `r3`, a digest prefix or a commit prefix. */
  release?: string;
  /** Build (or reuse) the release of this commit. */
  commit?: string;
  /** `--override-window "reason"`: promote outside the deploy window or during a freeze (audited). */
  windowOverride?: string;
  /** `--fixes <incident>`: the promotion fixes this open incident (the `health` gate lets it through, audited). */
  fixes?: number;
  /** `--fix-forward "reason"`: acknowledges that a release carrying a contract migration cannot be rolled back (the `rehearsal` gate lets it through, audited). */
  fixForward?: string;
  /**
   * `--changed`: a service whose artifact and migrations digests equal those of the release
   * serving it in the environment is not redeployed (recorded as serving this release).
   */
  changed?: boolean;
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

export interface DeployResult extends ExecuteResult {
  build: BuildResult | null;
}

function executeOptions(hooks: OperationHooks, queue: 'manual' | 'automatic'): ExecuteOptions {
  return {
    queue,
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(hooks.waitMs ? { waitMs: hooks.waitMs } : {}),
    ...(hooks.onWait ? { onWait: hooks.onWait } : {}),
    ...(hooks.beforeApply ? { beforeApply: hooks.beforeApply } : {}),
  };
}

/** The result of a run, or the error a refusal is thrown with. */
function ranOrThrow(outcome: ExecuteOutcome): ExecuteResult | UnchangedOutcome {
  if (outcome.status === 'refused') throw outcome.error;
  return outcome;
}

function intentOf(
  verb: 'deploy' | 'promote',
  environment: string,
  choice: ReleaseChoice,
  ifServing: 'skip' | 'redeploy',
): Intent {
  return { verb, environment, ...choice, ifServing };
}

async function run(
  ctx: AirlockContext,
  intent: Intent,
  hooks: OperationHooks,
): Promise<{ choice: Choice; outcome: ExecuteResult | UnchangedOutcome }> {
  // A database URL read from a variable that is not set here stops the command before it
  // builds anything: every deployment reads the database's ledger.
  for (const service of Object.values(ctx.config.environments[intent.environment]?.services ?? {}))
    if (service.database) usableDatabase(service.database);
  const choice = await chooseRelease(ctx, intent, {
    build: true,
    ...(hooks.signal ? { signal: hooks.signal } : {}),
    ...(hooks.onBuild ? { onBuild: hooks.onBuild } : {}),
  });
  const outcome = ranOrThrow(await execute(ctx, choice, executeOptions(hooks, 'manual')));
  if (outcome.status === 'succeeded')
    await announceApprovalRequest(ctx, choice.env, choice.release);
  return { choice, outcome };
}

/**
 * `airlock deploy <env>`: into the first environment a release is deployed directly (built if
 * needed); into a later one it is promoted through the gate. A release the environment already
 * serves is deployed again.
 * @throws UserError `GATE_BLOCKED` (audited as refused), `LOCK_HELD`, `RELEASE_NOT_FOUND`,
 *   `NOTHING_TO_PROMOTE`, build errors.
 */
export async function deploy(
  ctx: AirlockContext,
  environment: string,
  choice: ReleaseChoice,
  hooks: OperationHooks = {},
): Promise<DeployResult> {
  const { choice: chosen, outcome } = await run(
    ctx,
    intentOf('deploy', environment, choice, 'redeploy'),
    hooks,
  );
  if (outcome.status === 'unchanged')
    throw new InternalError('INTERNAL', 'a redeploy cannot end unchanged');
  return { ...outcome, build: chosen.build };
}

/**
 * `airlock promote <env>`: promotes into a later environment the release serving on the
 * previous one (or `choice.release`). Promotion is idempotent: when the environment already
 * serves the candidate (checked again under the lock), nothing runs and the outcome is
 * `unchanged`. A named release is deployed again even when it serves.
 * @throws UserError `NOTHING_TO_PROMOTE` (the first environment, or nothing to take),
 *   `GATE_BLOCKED`, `LOCK_HELD`, `RELEASE_NOT_FOUND`.
 */
export async function promote(
  ctx: AirlockContext,
  environment: string,
  choice: ReleaseChoice,
  hooks: OperationHooks = {},
): Promise<DeployResult | UnchangedOutcome> {
  const { choice: chosen, outcome } = await run(
    ctx,
    intentOf('promote', environment, choice, choice.release ? 'redeploy' : 'skip'),
    hooks,
  );
  return outcome.status === 'unchanged' ? outcome : { ...outcome, build: chosen.build };
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
  const plan = buildPlan(await gatherReachableFacts(ctx, 'promote', next, release));
  const approval = plan.gates.find((g) => g.gate === 'approval');
  if (approval?.status === 'pending' && !plan.gates.some((g) => g.status === 'fails'))
    ctx.observe({ type: 'awaiting-approval', plan, at: ctx.now().toISOString(), actor: ctx.actor });
}

/**
 * The plan of a deploy or promotion, without applying it. Builds nothing. Into the first
 * environment it plans the release `airlock deploy` would deploy (HEAD's, or `choice.commit`'s;
 * see `releaseToDeploy`); into a later one, the candidate serving on the previous environment
 * (or `choice.release`). When that environment already serves the candidate and has run all of
 * its migrations, a note says that `airlock promote` has nothing to do there (the steps are
 * those of `airlock deploy`, which deploys it again).
 * @throws UserError `RELEASE_NOT_FOUND` when deploying into the first environment and HEAD (or
 *   `choice.commit`) is not built yet, or the working tree has uncommitted changes (deploy would
 *   build them: `details.dirtyFiles`); as `chooseRelease`.
 */
export async function planDeploy(
  ctx: AirlockContext,
  environment: string,
  choice: ReleaseChoice,
): Promise<Plan> {
  const chosen = await chooseRelease(ctx, intentOf('deploy', environment, choice, 'redeploy'), {
    build: false,
  });
  const decision = await decide(ctx, chosen);
  if (decision.outcome === 'unchanged')
    throw new InternalError('INTERNAL', 'a redeploy plan cannot end unchanged');
  const { plan } = decision;
  const done = Object.values(plan.migrations).every((files) => files.length === 0);
  const candidate = !choice.release && !choice.commit;
  if (chosen.env.previous && candidate && plan.current === plan.release.id && done) {
    plan.notes.unshift(
      `${environment} already serves ${plan.release.id} and has run all of its migrations: \`airlock promote ${environment}\` has nothing to do; \`airlock deploy ${environment}\` would deploy it again (the steps below).`,
    );
  }
  return plan;
}

/**
 * `airlock rollback <env> [--to R] [--force]`: serve an earlier release again (instantly when
 * warm). The target is checked again under the lock (the rollback guard included).
 * @throws UserError `NOTHING_TO_ROLL_BACK`, `ROLLBACK_UNSAFE` (audited), `LOCK_HELD`.
 */
export async function rollback(
  ctx: AirlockContext,
  environment: string,
  to: string | undefined,
  hooks: OperationHooks & { force?: boolean } = {},
): Promise<ExecuteResult> {
  const choice = await chooseRelease(
    ctx,
    {
      verb: 'rollback',
      environment,
      ...(to ? { to } : {}),
      ...(hooks.force ? { force: true } : {}),
    },
    { build: false },
  );
  const outcome = ranOrThrow(await execute(ctx, choice, executeOptions(hooks, 'manual')));
  if (outcome.status === 'unchanged')
    throw new InternalError('INTERNAL', 'a rollback cannot end unchanged');
  return outcome;
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
 * policy is `automatic` and its gate holds (automatic promotion: passing the previous
 * environment's gate is both necessary and sufficient). Stops at the first environment that is
 * manual or blocked; an environment that already serves the release is passed through, unless
 * one of the release's migrations was held back there and can run now (see `alreadyServing`):
 * then the promotion runs again and applies it.
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
    const choice = promotionChoice(next, release, { ifServing: 'skip' });
    let plan: Plan;
    try {
      const decision = await decide(ctx, choice);
      if (decision.outcome === 'unchanged') {
        env = next;
        continue;
      }
      plan = decision.plan;
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
    const outcome = await execute(ctx, choice, executeOptions(hooks, 'automatic'));
    if (outcome.status === 'unchanged') {
      env = next;
      continue;
    }
    if (outcome.status === 'refused') {
      out.push({ environment: next.name, result: null, plan: outcome.plan });
      break;
    }
    out.push({ environment: next.name, result: outcome, plan: outcome.plan });
    if (outcome.status !== 'succeeded') break;
    await announceApprovalRequest(ctx, next, release);
    env = next;
  }
  return out;
}
