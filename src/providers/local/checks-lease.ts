/**
 * "Checks pending": every switch the pipeline makes to a new release carries a lease
 * (`ProcessDeployment.checksLeaseMs`). The CLI renews it while the environment's checks run and
 * confirms it when they complete. If the lease runs out first (the CLI was killed with -9, the
 * machine running it went away), the runtime switches back by itself to the deployment that
 * served before, and reports `lease.expired` (audited as `runtime.reverted`). A release nobody
 * checked never keeps serving for longer than its lease (Argo Rollouts' abort to stable,
 * without needing the controller that started it).
 *
 * A lease is kept in state.json with the previous deployment, so a daemon that restarts carries
 * it on (an expired one is acted on at once). A first deployment (nothing served before) and a
 * rollback get no lease: there is nothing to switch back to, or it goes back to what was checked.
 */
import type { ChecksLeaseState, ProcessDeployment } from '../provider.ts';
import type { RuntimeContext, ServiceSlot } from './service-slot.ts';

/** A switch waiting for its checks. */
export interface PendingLease {
  /** The release switched to. */
  release: string;
  /** What served before the switch: what an expiry switches back to. */
  previous: ProcessDeployment;
  /** Lease length (ms): each renewal without its own length extends by this much. */
  leaseMs: number;
  /** Runtime-clock ms of the switch. */
  since: number;
  /** Runtime-clock ms the lease ends. */
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** How a lease is kept in state.json (times ISO-8601). */
export interface LeaseRecord {
  release: string;
  previous: ProcessDeployment;
  leaseMs: number;
  since: string;
  expiresAt: string;
}

/**
 * Switches `slot` back to `previous` (under the slot's lock, as a deployment without a lease).
 * Resolves false when there was nothing to do (another release serves by now).
 * @throws what a deployment throws.
 */
export type Revert = (
  slot: ServiceSlot,
  previous: ProcessDeployment,
  /** The release the lease was for: nothing is done when another one serves by now. */
  release: string,
) => Promise<boolean>;

/** Keeps the slots' leases; see the module comment. */
export class ChecksLeases {
  readonly #ctx: RuntimeContext;
  readonly #revert: Revert;

  constructor(ctx: RuntimeContext, revert: Revert) {
    this.#ctx = ctx;
    this.#revert = revert;
  }

  /**
   * Called at every switch of `slot` to `d`, with the deployment that served before: a switch to
   * another release with `d.checksLeaseMs > 0` is leased; any other switch ends the slot's lease,
   * except a restart of the pending release itself (it stays pending).
   */
  onSwitch(slot: ServiceSlot, d: ProcessDeployment, before: ProcessDeployment | null): void {
    const current = slot.pending;
    if (current && current.release === d.release.id && d.checksLeaseMs) return;
    this.clear(slot);
    const leaseMs = d.checksLeaseMs ?? 0;
    if (leaseMs <= 0 || !before || before.release.id === d.release.id) return;
    const now = this.#ctx.now();
    this.arm(slot, { release: d.release.id, previous: before, leaseMs, since: now }, now + leaseMs);
  }

  /** Starts (or restarts, after a daemon restart) a lease ending at `expiresAt` (runtime-clock ms). */
  arm(
    slot: ServiceSlot,
    lease: Omit<PendingLease, 'expiresAt' | 'timer'>,
    expiresAt: number,
  ): void {
    this.clear(slot);
    const pending: PendingLease = { ...lease, expiresAt, timer: undefined };
    slot.pending = pending;
    this.#schedule(slot, pending);
  }

  /** Ends the slot's lease without acting on it (a new switch, the slot closing). */
  clear(slot: ServiceSlot): void {
    if (slot.pending) clearTimeout(slot.pending.timer);
    slot.pending = null;
  }

  /** Stops the timer but keeps the lease (shutdown: state.json keeps it for the next daemon). */
  suspend(slot: ServiceSlot): void {
    if (slot.pending) clearTimeout(slot.pending.timer);
  }

  /**
   * `renew` extends the lease of `release` by `ms` (default: its own length) from now;
   * `confirm` ends it. A no-op when `release` is not pending.
   */
  update(
    slot: ServiceSlot | undefined,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): ChecksLeaseState {
    const pending = slot?.pending;
    if (slot && pending && pending.release === release) {
      if (action === 'confirm') {
        this.clear(slot);
        void this.#ctx.persist();
      } else {
        clearTimeout(pending.timer);
        pending.expiresAt = this.#ctx.now() + (ms && ms > 0 ? ms : pending.leaseMs);
        this.#schedule(slot, pending);
        void this.#ctx.persist();
      }
    }
    const still = slot?.pending;
    return {
      pending: still?.release === release,
      serving: slot?.serving?.release ?? slot?.desired?.release.id ?? null,
      expiresAt: still?.release === release ? new Date(still.expiresAt).toISOString() : null,
    };
  }

  /** The slot's lease as state.json keeps it. */
  record(slot: ServiceSlot): LeaseRecord | undefined {
    const p = slot.pending;
    if (!p) return undefined;
    return {
      release: p.release,
      previous: p.previous,
      leaseMs: p.leaseMs,
      since: new Date(p.since).toISOString(),
      expiresAt: new Date(p.expiresAt).toISOString(),
    };
  }

  /** Re-arms a lease read from state.json (a daemon restart); an expired one is acted on at once. */
  restore(slot: ServiceSlot, record: LeaseRecord): void {
    const expiresAt = Date.parse(record.expiresAt);
    const since = Date.parse(record.since);
    if (!Number.isFinite(expiresAt) || !record.previous?.release) return;
    this.arm(
      slot,
      {
        release: record.release,
        previous: record.previous,
        leaseMs: record.leaseMs,
        since: Number.isFinite(since) ? since : this.#ctx.now(),
      },
      expiresAt,
    );
  }

  #schedule(slot: ServiceSlot, pending: PendingLease): void {
    const delay = Math.max(0, pending.expiresAt - this.#ctx.now());
    pending.timer = setTimeout(() => void this.#expire(slot, pending), delay);
  }

  async #expire(slot: ServiceSlot, lease: PendingLease): Promise<void> {
    if (slot.pending !== lease || slot.closed || this.#ctx.closing.aborted) return;
    slot.pending = null;
    const failed = slot.serving?.deployment ?? slot.desired;
    const about = failed ?? {
      ...lease.previous,
      release: { ...lease.previous.release, id: lease.release },
    };
    const pid = slot.serving?.pid;
    let error: string | null = null;
    try {
      if (!(await this.#revert(slot, lease.previous, lease.release))) return;
    } catch (caught) {
      error = (caught as Error).message;
    }
    const now = this.#ctx.now();
    this.#ctx.emit('lease.expired', about, pid, {
      previousRelease: lease.previous.release.id,
      reverted: error === null,
      leaseMs: lease.leaseMs,
      // How long the release served without its checks confirmed (switch → switched back).
      servedUncheckedMs: now - lease.since,
      ...(error ? { error } : {}),
    });
    await this.#ctx.persist();
  }
}
