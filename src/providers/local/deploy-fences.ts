/**
 * Fencing for the local runtime's deploys: each deploy may carry the environment lock's fence
 * (a number that grows with every new holder of the lock, as in Martin Kleppmann's "How to do
 * distributed locking"). A deploy from a process that lost the lock is refused, and a newer
 * holder's deploy abandons the unfinished ones of older holders.
 */
import { ProviderError } from '../../errors.ts';
import type { ProcessDeployment } from '../provider.ts';

/** One deploy's view of the fences of its environment; see {@link DeployFences.guard}. */
export interface FenceGuard {
  /** Aborted when a deploy with a higher fence arrives for the same environment. */
  controller: AbortController;
  /** @throws ProviderError `LOCK_LOST` when a higher fence has been seen since. */
  check(): void;
  /** True when a higher fence has been seen since. */
  superseded(): boolean;
  /** The `LOCK_LOST` error to throw for this deploy. */
  lost(): ProviderError;
  /** Call when the deploy has finished (either way). */
  done(): void;
}

/** Highest lock fence seen per environment, and the deploys in flight under lower ones. */
export class DeployFences {
  readonly #fences = new Map<
    string,
    { max: number; inflight: Set<{ fence: number; controller: AbortController }> }
  >();

  /**
   * Fencing (the lock's token): a deploy carrying a fence lower than one already seen for its
   * environment comes from a process that lost the lock, and is refused; a higher fence
   * abandons the unfinished deploys of lower ones (the old release keeps serving until the
   * newer deploy switches). A deploy without `d.fence` is never fenced.
   * @throws ProviderError `LOCK_LOST`.
   */
  guard(d: ProcessDeployment): FenceGuard {
    const controller = new AbortController();
    const fence = d.fence;
    const lost = () =>
      new ProviderError(
        'LOCK_LOST',
        `${d.environment} is now deployed under a newer lock (fence ${this.#fences.get(d.environment)?.max}); this deploy of ${d.release.id} (fence ${fence}) is refused.`,
        {
          hint: 'Another Airlock process took the environment lock over. Run `airlock status` to see what serves.',
        },
      );
    if (fence === undefined) {
      return { controller, check() {}, superseded: () => false, lost, done() {} };
    }
    let entry = this.#fences.get(d.environment);
    if (!entry) {
      entry = { max: fence, inflight: new Set() };
      this.#fences.set(d.environment, entry);
    }
    if (fence < entry.max) throw lost();
    if (fence > entry.max) {
      entry.max = fence;
      for (const other of entry.inflight) if (other.fence < fence) other.controller.abort();
    }
    const mine = { fence, controller };
    entry.inflight.add(mine);
    const state = entry;
    return {
      controller,
      check() {
        if (fence < state.max) throw lost();
      },
      superseded: () => fence < state.max,
      lost,
      done() {
        state.inflight.delete(mine);
      },
    };
  }
}
