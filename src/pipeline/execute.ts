/**
 * Executing a choice: the decision is made under the environment lock (Kamal does all of a
 * deploy's work inside its lock). The lock is tried at once; when another run holds it, the
 * decision is made first without it (a blocked gate is refused at once instead of waiting in
 * the queue, and the plan can be confirmed), then, once the lock is held, made again from the
 * facts as they are now. What runs, and what an automatic rollback puts back, follow that
 * second decision. Whatever happens the lock is released.
 */
import { AirlockError, hasCode, type UserError } from '../errors.ts';
import { audit, runAction } from '../state/audit.ts';
import type { Lock } from '../state/state-store.ts';
import { type ApplyOptions, applyPlan, type ExecuteResult } from './apply-plan.ts';
import type { AirlockContext } from './context.ts';
import { type Choice, type Decision, decide } from './decide.ts';
import type { GatherOptions } from './facts.ts';
import { gateBlockedError } from './gate-blocked.ts';
import { acquireEnvironmentLock, auditLockRefused, type HeldLock, keepAlive } from './lock.ts';
import type { Plan, PlanFacts } from './plan.ts';

export type { ExecuteResult } from './apply-plan.ts';

export interface ExecuteOptions {
  /** Aborting (Ctrl-C) stops the current step as if it failed (a release not yet switched to never serves). */
  signal?: AbortSignal;
  /** Wait this long (ms) for a held lock, in the environment's queue, instead of failing at once. */
  waitMs?: number;
  /** How this command queues: `automatic` gives way to a newer release; `manual` never does. */
  queue?: 'automatic' | 'manual';
  /** Called once when the command starts waiting for the lock. */
  onWait?: (holder: Lock) => void;
  /**
   * Called once with the plan before anything changes (e.g. to ask for confirmation); throwing
   * stops the command. Under the lock when the lock was free, before waiting otherwise.
   */
  beforeApply?: (plan: Plan) => Promise<void>;
  /** How the facts are gathered (`--override-window`). */
  gather?: GatherOptions;
}

/** The environment already serves the chosen release and the intent said to skip it. */
export interface UnchangedOutcome {
  status: 'unchanged';
  choice: Choice;
  reason: string;
  /** What to run when something is left to do there (a held-back migration: see `alreadyServing`). */
  hint?: string;
}

/** A gate did not hold: nothing ran. On the record (`<action>.refused`). */
export interface RefusedOutcome {
  status: 'refused';
  plan: Plan;
  /** The `GATE_BLOCKED` error naming each gate that does not hold. */
  error: UserError;
  /** True when the gate held before the wait for the lock and no longer held under it. */
  changedUnderLock: boolean;
}

export type ExecuteOutcome = ExecuteResult | UnchangedOutcome | RefusedOutcome;

/** Where a refusal was decided (recorded with it). */
export interface RefusalContext {
  /** Decided while holding the environment lock. */
  underLock: boolean;
  /** The gate held before the wait for the lock and no longer held once it was taken. */
  changedUnderLock?: boolean;
  /** How long (ms) the command waited for the lock. */
  waitedMs?: number;
}

/**
 * Records that a blocked plan was refused (audit `<action>.refused` naming the gates that do
 * not hold; observers told) and returns the error to throw.
 */
export async function refusePlan(
  ctx: AirlockContext,
  plan: Plan,
  lock: RefusalContext = { underLock: false },
): Promise<UserError> {
  const at = ctx.now().toISOString();
  await audit(ctx, runAction(plan.action, 'refused'), {
    at,
    environment: plan.environment,
    releaseId: plan.release.id,
    result: 'refused',
    detail: {
      gates: plan.gates.filter((g) => g.status !== 'holds'),
      checkedUnderLock: lock.underLock,
      ...(lock.changedUnderLock ? { changedUnderLock: true, waitedMs: lock.waitedMs ?? null } : {}),
    },
  });
  ctx.observe?.({ type: 'refused', plan, at, actor: ctx.actor });
  return gateBlockedError(plan, lock.changedUnderLock ?? false);
}

/** Tries the lock without waiting: null when another run holds it. */
async function tryLock(
  ctx: AirlockContext,
  choice: Choice,
  message: string,
): Promise<{ lock: HeldLock } | { held: AirlockError }> {
  try {
    return {
      lock: await acquireEnvironmentLock(ctx, choice.env.name, message, { quietRefusal: true }),
    };
  } catch (error) {
    if (hasCode(error, 'LOCK_HELD') && error instanceof AirlockError) return { held: error };
    throw error;
  }
}

/**
 * Decides `choice` under the environment lock and applies what it decides.
 * @throws UserError `LOCK_HELD` (no `waitMs`, or the wait ran out), `SUPERSEDED` (a newer release
 *   took this automatic promotion's place in the queue), `NOTHING_TO_ROLL_BACK`,
 *   `ROLLBACK_UNSAFE`, what `beforeApply` throws. A blocked gate is an outcome (`refused`), and
 *   so is a failed step (in the `ExecuteResult`).
 */
export async function execute(
  ctx: AirlockContext,
  choice: Choice,
  options: ExecuteOptions = {},
): Promise<ExecuteOutcome> {
  const message = `${choice.action} ${choice.release.id}`;
  let before: Decision | null = null;
  let waitStarted = 0;
  const attempt = await tryLock(ctx, choice, message);
  let lock: HeldLock;
  if ('lock' in attempt) {
    lock = attempt.lock;
  } else {
    // Another run holds the environment: decide now, so a gate that fails is refused at once,
    // and the person confirms before waiting.
    before = await decide(ctx, choice, options.gather);
    if (before.outcome === 'unchanged') return unchanged(before);
    if (before.outcome === 'blocked') return refused(ctx, before.plan, { underLock: false });
    if (!options.waitMs) {
      const holder = attempt.held.details.lock as Lock;
      await auditLockRefused(ctx, holder, message, 0);
      throw attempt.held;
    }
    await options.beforeApply?.(before.plan);
    waitStarted = Date.now();
    lock = await acquireEnvironmentLock(ctx, choice.env.name, message, {
      waitMs: options.waitMs,
      queue: { release: choice.release, kind: options.queue ?? 'manual' },
      ...(options.onWait ? { onWait: options.onWait } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  const lease = keepAlive(ctx, lock);
  try {
    // Under the lock: the facts as they are now decide, whatever was seen before the wait.
    const decision = await decide(ctx, choice, options.gather);
    if (decision.outcome === 'unchanged') return unchanged(decision);
    if (decision.outcome === 'blocked') {
      return refused(
        ctx,
        decision.plan,
        before
          ? { underLock: true, changedUnderLock: true, waitedMs: Date.now() - waitStarted }
          : { underLock: true },
      );
    }
    if (!before) await options.beforeApply?.(decision.plan);
    await decision.recordForce?.();
    return await applyPlan(ctx, lease, decision.facts, decision.plan, applyOptions(options));
  } finally {
    await lease.end();
  }
}

function applyOptions(options: { signal?: AbortSignal }): ApplyOptions {
  return options.signal ? { signal: options.signal } : {};
}

function unchanged(decision: Extract<Decision, { outcome: 'unchanged' }>): UnchangedOutcome {
  return {
    status: 'unchanged',
    choice: decision.choice,
    reason: decision.reason,
    ...(decision.hint ? { hint: decision.hint } : {}),
  };
}

async function refused(
  ctx: AirlockContext,
  plan: Plan,
  when: RefusalContext,
): Promise<RefusedOutcome> {
  const error = await refusePlan(ctx, plan, when);
  return { status: 'refused', plan, error, changedUnderLock: when.changedUnderLock ?? false };
}

/**
 * Finishes an interrupted run (`airlock resume`) under the environment lock. A resumed run was
 * authorised when it started: its gate is not asked again, and `facts.serving` must be what
 * served before it started (the automatic rollback's target).
 * @throws UserError `LOCK_HELD`.
 */
export async function executeResumed(
  ctx: AirlockContext,
  facts: PlanFacts,
  plan: Plan,
  options: ApplyOptions & { resume: NonNullable<ApplyOptions['resume']> },
): Promise<ExecuteResult> {
  const lock = await acquireEnvironmentLock(
    ctx,
    facts.environment.name,
    `${plan.action} ${facts.release.id}`,
    options.signal ? { signal: options.signal } : {},
  );
  const lease = keepAlive(ctx, lock);
  try {
    return await applyPlan(ctx, lease, facts, plan, options);
  } finally {
    await lease.end();
  }
}
