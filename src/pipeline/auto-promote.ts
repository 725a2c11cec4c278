/**
 * The automatic policy ("the staging test gate is the authorization mechanism: passing it is
 * both necessary and sufficient"): `airlock promote <env> --auto` promotes the
 * release serving on the previous environment as soon as every gate holds, waiting while a
 * gate is pending (CI still running, soak time, deploy window); `--watch` keeps doing so for
 * every new release. A newer release supersedes an older one still waiting (audited
 * `promotion.superseded`); nothing waiting for an approval is involved, since approvals belong
 * to the manual policy.
 */
import { environmentNamed } from '../config/environments.ts';
import { hasCode, UserError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import type { Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { alreadyServing, decide, promotionCandidate, promotionChoice } from './decide.ts';
import { type ExecuteResult, execute, refusePlan } from './execute.ts';
import type { OperationHooks } from './operations.ts';
import type { Plan } from './plan.ts';

export interface AutoPromoteOptions extends OperationHooks {
  /** Keep watching after a promotion (until `signal` aborts), promoting each new release. */
  watch?: boolean;
  /** How long (ms) to wait for pending gates before giving up; 0 evaluates once. Ignored with `watch`. */
  timeoutMs: number;
  /** Time (ms) between evaluations while waiting. */
  intervalMs: number;
  /** `--override-window "reason"` (audited as `gate.overridden`). */
  windowOverride?: string;
  /** `--changed`: services whose artifact equals what serves them are not redeployed. */
  changed?: boolean;
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
  /**
   * The target already serves the candidate. `reason` and `hint` when something is left to do
   * there first (a held-back migration that must run on the previous environment first).
   */
  | { status: 'unchanged'; release: Release; reason?: string; hint?: string }
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
  // Promoting into the first environment is refused where every promotion is decided.
  if (!env.previous) await promotionCandidate(ctx, env);
  if (env.promotion.policy !== 'automatic') {
    throw new UserError(
      'USAGE',
      `${env.name} is promoted by hand (promotion: manual), so --auto does not apply.`,
      {
        hint: `Promote with \`airlock promote ${env.name}\` once its gate holds, or set environments.${env.name}.promotion: automatic.`,
      },
    );
  }
  const sleep = options.sleep ?? defaultSleep;
  /** On the record: `older` waited for this environment and `newer` took its place. */
  const superseded = async (older: Release, newer: Release) => {
    await audit(ctx, 'promotion.superseded', {
      environment: env.name,
      releaseId: older.id,
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
    const choice = candidate
      ? promotionChoice(env, candidate, {
          ifServing: 'skip',
          ...(options.windowOverride ? { windowOverride: options.windowOverride } : {}),
          ...(options.changed ? { changed: true } : {}),
        })
      : null;
    const served = choice ? await alreadyServing(ctx, choice) : null;
    if (choice && served) {
      waitingFor = null;
      last = {
        status: 'unchanged',
        release: choice.release,
        ...(served.outcome === 'unchanged' && served.hint
          ? { reason: served.reason, hint: served.hint }
          : {}),
      };
      if (!options.watch) return last;
    } else if (choice && failed.has(choice.release.id)) {
      waitingFor = null;
    } else if (choice) {
      const decision = await decide(ctx, choice);
      if (decision.outcome === 'unchanged') continue;
      const plan = decision.plan;
      const key = gateKey(plan);
      const changed = key !== lastKey;
      if (changed) options.onEvaluate?.(plan);
      lastKey = key;
      if (!plan.blocked) {
        waitingFor = null;
        let outcome: Awaited<ReturnType<typeof execute>>;
        try {
          // Decided again under the lock: a gate that stopped holding meanwhile refuses it.
          outcome = await execute(ctx, choice, {
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
        // Served meanwhile, or refused under the lock: evaluate again.
        if (outcome.status === 'unchanged' || outcome.status === 'refused') continue;
        options.onPromoted?.(outcome);
        if (outcome.status !== 'succeeded') failed.add(choice.release.id);
        last = { status: outcome.status === 'succeeded' ? 'promoted' : 'failed', result: outcome };
        if (!options.watch) return last;
      } else {
        const failing = plan.gates.some((g) => g.status === 'fails');
        // On the record once per change (audit `promotion.refused`, notification `gate.failed`).
        if (failing && changed) await refusePlan(ctx, plan);
        last = failing ? { status: 'blocked', plan } : { status: 'pending', plan };
        waitingFor = choice.release;
        if (!options.watch && (failing || Date.now() >= deadline)) return last;
      }
    }
    const left = options.watch
      ? options.intervalMs
      : Math.min(options.intervalMs, deadline - Date.now());
    await sleep(Math.max(0, left), options.signal);
  }
}
