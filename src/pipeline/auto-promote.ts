/**
 * The automatic policy (seed 001: "the staging test gate is the authorization mechanism —
 * passing it is both necessary and sufficient"): `airlock promote <env> --auto` promotes the
 * release serving on the previous environment as soon as every gate holds, waiting while a
 * gate is pending (CI still running, soak time, deploy window); `--watch` keeps doing so for
 * every new release. A newer release supersedes an older one still waiting (audited
 * `promotion.superseded`); nothing waiting for an approval is involved, since approvals belong
 * to the manual policy.
 */
import { hasCode, UserError } from '../errors.ts';
import type { Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { type ExecuteResult, executePlan, refusePlan } from './execute.ts';
import type { OperationHooks } from './operations.ts';
import {
  buildPlan,
  currentRelease,
  environmentNamed,
  gatherFacts,
  type Plan,
  promotionCandidate,
} from './plan.ts';

export interface AutoPromoteOptions extends OperationHooks {
  /** Keep watching after a promotion (until `signal` aborts), promoting each new release. */
  watch?: boolean;
  /** How long (ms) to wait for pending gates before giving up; 0 evaluates once. Ignored with `watch`. */
  timeoutMs: number;
  /** Time (ms) between evaluations while waiting. */
  intervalMs: number;
  /** `--override-window "reason"` (audited as `gate.overridden`). */
  windowOverride?: string;
  /**
   * Promote only this release (a CI job promotes the bytes it built). When a newer release
   * reaches the previous environment first, this one is superseded: the outcome says so and
   * the newer release's own job promotes it. Not with `watch`.
   */
  release?: Release;
  /** Called with each evaluated plan whose gates differ from the previous evaluation. */
  onEvaluate?: (plan: Plan) => void;
  /** Called with each promotion that ran (watch mode runs several). */
  onPromoted?: (result: ExecuteResult) => void;
  /** Called when a newer release replaces the one being waited for. */
  onSuperseded?: (older: string, newer: string) => void;
  /** Waits `ms` or until the signal aborts (tests pass a faster one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export type AutoPromoteOutcome =
  | { status: 'promoted' | 'failed'; result: ExecuteResult }
  /** The target already serves the candidate. */
  | { status: 'unchanged'; release: Release }
  /** A gate fails: it will not hold by waiting. */
  | { status: 'blocked'; plan: Plan }
  /** Still pending when the timeout ran out (or the watch was stopped). */
  | { status: 'pending'; plan: Plan }
  /** Stopped (watch mode) with nothing waiting. */
  | { status: 'stopped' }
  /** `release` was given and a newer release replaced it on the previous environment. */
  | { status: 'superseded'; release: Release; by: Release };

const defaultSleep = (delay: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, delay);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

const gateKey = (plan: Plan) =>
  `${plan.release.id}|${plan.gates.map((g) => `${g.gate}:${g.status}:${g.reason}`).join('|')}`;

/**
 * Promotes into `environment` when its gate holds, under the automatic policy.
 * @throws UserError `USAGE` when the environment's policy is manual; `NOTHING_TO_PROMOTE`;
 *   `LOCK_HELD`; gate and step failures are outcomes, not errors.
 */
export async function autoPromote(
  ctx: AirlockContext,
  environment: string,
  options: AutoPromoteOptions,
): Promise<AutoPromoteOutcome> {
  const env = environmentNamed(ctx.config, environment);
  if (!env.previous) {
    throw new UserError(
      'NOTHING_TO_PROMOTE',
      `${env.name} is the first environment; releases are deployed into it, not promoted.`,
      { hint: `Run \`airlock deploy ${env.name}\`.` },
    );
  }
  if (env.promotion.policy !== 'automatic') {
    throw new UserError(
      'USAGE',
      `${env.name} is promoted by hand (promotion: manual), so --auto does not apply.`,
      {
        hint: `Promote with \`airlock promote ${env.name}\` once its gate holds, or set environments.${env.name}.promotion: automatic (seed 001).`,
      },
    );
  }
  const sleep = options.sleep ?? defaultSleep;
  /** On the record: `older` waited for this environment and `newer` took its place. */
  const superseded = async (older: Release, newer: Release) => {
    await ctx.store.appendAudit({
      at: ctx.now().toISOString(),
      actor: ctx.actor,
      action: 'promotion.superseded',
      environment: env.name,
      releaseId: older.id,
      runId: null,
      result: 'superseded',
      detail: { by: newer.id, policy: 'automatic' },
    });
    options.onSuperseded?.(older.id, newer.id);
  };
  const deadline = Date.now() + options.timeoutMs;
  let waitingFor: Release | null = null;
  /** Releases whose promotion ran and failed: a watch does not retry them. */
  const failed = new Set<string>();
  let lastKey = '';
  let last: AutoPromoteOutcome = { status: 'stopped' };
  for (;;) {
    if (options.signal?.aborted) return last.status === 'unchanged' ? { status: 'stopped' } : last;
    let candidate = await promotionCandidate(ctx, env).catch((error) => {
      // Watching an empty pipeline: wait for its first release.
      if (options.watch && hasCode(error, 'NOTHING_TO_PROMOTE')) return null;
      throw error;
    });
    const only = options.release;
    if (only && candidate && candidate.id !== only.id) {
      if (candidate.seq > only.seq) {
        await superseded(only, candidate);
        return { status: 'superseded', release: only, by: candidate };
      }
      // Not on the previous environment (yet): its gate says so.
      candidate = only;
    }
    if (waitingFor && candidate && candidate.id !== waitingFor.id) {
      await superseded(waitingFor, candidate);
      waitingFor = null;
    }
    if (candidate && currentRelease(await ctx.store.getServing(env.name)) === candidate.id) {
      waitingFor = null;
      last = { status: 'unchanged', release: candidate };
      if (!options.watch) return last;
    } else if (candidate && failed.has(candidate.id)) {
      waitingFor = null;
    } else if (candidate) {
      const facts = await gatherFacts(ctx, 'promote', env, candidate, {
        ...(options.windowOverride ? { windowOverride: options.windowOverride } : {}),
      });
      const plan = buildPlan(facts);
      const key = gateKey(plan);
      const changed = key !== lastKey;
      if (changed) options.onEvaluate?.(plan);
      lastKey = key;
      if (!plan.blocked) {
        waitingFor = null;
        let result: ExecuteResult;
        try {
          result = await executePlan(ctx, facts, {
            queue: 'automatic',
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.waitMs ? { waitMs: options.waitMs } : {}),
            ...(options.onWait ? { onWait: options.onWait } : {}),
          });
        } catch (error) {
          // A newer release took this promotion's place in the queue: evaluate again.
          if (hasCode(error, 'SUPERSEDED')) continue;
          throw error;
        }
        options.onPromoted?.(result);
        if (result.status !== 'succeeded') failed.add(candidate.id);
        last = { status: result.status === 'succeeded' ? 'promoted' : 'failed', result };
        if (!options.watch) return last;
      } else {
        const failing = plan.gates.some((g) => g.status === 'fails');
        // On the record once per change (audit `promotion.refused`, notification `gate.failed`).
        if (failing && changed) await refusePlan(ctx, plan);
        last = failing ? { status: 'blocked', plan } : { status: 'pending', plan };
        waitingFor = candidate;
        if (!options.watch && (failing || Date.now() >= deadline)) return last;
      }
    }
    const left = options.watch
      ? options.intervalMs
      : Math.min(options.intervalMs, deadline - Date.now());
    await sleep(Math.max(0, left), options.signal);
  }
}
