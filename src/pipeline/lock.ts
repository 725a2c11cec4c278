/**
 * The environment lock: one deployment per environment at a time (Kamal's deploy lock, with a
 * message). A run holds a lease that it renews while it works; a holder that died (its process
 * is gone on this host, or its lease expired) is taken over, and the takeover is audited. Every
 * acquisition gets a larger fencing token, and writes made under a lost lock are refused
 * (`StateStore.fenced`). A manual lock (`airlock lock acquire -m why`) holds until released.
 *
 * Waiting (`--wait`) queues the command: a newer release supersedes a waiting *automatic*
 * promotion of an older one; a manual one is never cancelled behind its back.
 */
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import { LATEST_LOCK_EXPIRY } from '../state/lock-queries.ts';
import type { Lock, QueueEntry, Release, StateStore } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';

export interface HeldLock {
  environment: string;
  token: string;
  fence: number;
  /** Extends the lease; false when another process took the lock over. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

/** A manual lock lasts until released: its expiry is the latest a lock can have. */
export const MANUAL_LOCK_EXPIRY = LATEST_LOCK_EXPIRY;

/** True when the process is known to be gone (same host and no such pid). */
export function processGone(pid: number, host: string, thisHost: string): boolean {
  if (host !== thisHost || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A run's lock whose holder can no longer finish: its process is gone, or its lease ran out. */
export function lockIsStale(lock: Lock, ctx: Pick<AirlockContext, 'host' | 'now'>): boolean {
  if (lock.kind === 'manual') return false;
  return lock.expiresAt <= ctx.now().toISOString() || processGone(lock.pid, lock.host, ctx.host);
}

/** `staging is locked by ann@example.com (pid 4242 on build-1) since …: "promote r3"`. */
export function describeLock(lock: Lock): string {
  const by =
    lock.kind === 'manual'
      ? `${lock.holder} (a manual lock)`
      : `${lock.holder} (pid ${lock.pid} on ${lock.host})`;
  return `${lock.environment} is locked by ${by} since ${lock.acquiredAt}: "${lock.message}"`;
}

export interface AcquireOptions {
  /** Wait up to this long (ms) for a held lock instead of failing at once. */
  waitMs?: number;
  /** Join the environment's queue while waiting. */
  queue?: { release: Release; kind: QueueEntry['kind'] };
  /** Called once when the wait begins. */
  onWait?: (holder: Lock) => void;
  signal?: AbortSignal;
  /** Poll interval while waiting (ms). Default 250. */
  pollMs?: number;
  /** Do not audit a refusal (the caller decides whether it is one, and audits it). */
  quietRefusal?: boolean;
}

/**
 * Puts a refused lock on the record (`lock.refused`): who holds it and why, what was wanted,
 * and how long the refused command waited.
 */
export async function auditLockRefused(
  ctx: AirlockContext,
  holder: Lock,
  wanted: string,
  waitedMs: number,
): Promise<void> {
  await audit(ctx, 'lock.refused', {
    environment: holder.environment,
    result: 'refused',
    detail: {
      wanted,
      holder: holder.holder,
      kind: holder.kind,
      since: holder.acquiredAt,
      message: holder.message,
      waitedMs,
    },
  });
}

function heldError(holder: Lock, waitedMs: number): UserError {
  const waited = waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : '';
  return new UserError('LOCK_HELD', `${describeLock(holder)}${waited}.`, {
    hint:
      holder.kind === 'manual'
        ? `Wait until ${holder.holder} runs \`airlock lock release ${holder.environment}\`, or pass --wait 10m.`
        : `Wait for it to finish (or pass --wait 10m). If that process is gone, Airlock frees the lock by itself (at once on the same host, otherwise when its lease ends at ${holder.expiresAt}).`,
    details: { lock: { ...holder, token: undefined } },
  });
}

/**
 * Takes an environment's lock for a run, waiting in the queue when `waitMs` is given.
 * @throws UserError `LOCK_HELD` naming who holds it, since when and why; `SUPERSEDED` when a
 *   newer release took this automatic promotion's place in the queue.
 */
export async function acquireEnvironmentLock(
  ctx: AirlockContext,
  environment: string,
  message: string,
  options: AcquireOptions = {},
): Promise<HeldLock> {
  const token = randomUUID();
  const request = {
    environment,
    token,
    holder: ctx.actor,
    runId: null,
    pid: ctx.pid,
    host: ctx.host,
    message,
    ttlMs: ctx.lockTtlMs,
  };
  const started = Date.now();
  let entry: QueueEntry | null = null;
  for (;;) {
    // A holder that died or whose lease ran out is taken over — on the record.
    const current = await ctx.store.getLock(environment);
    const stale = current && lockIsStale(current, ctx) ? current : undefined;
    const attempt = await ctx.store.acquireLock({
      ...request,
      now: ctx.now(),
      ...(stale ? { takeoverToken: stale.token } : {}),
    });
    if (attempt.acquired && stale) {
      await audit(ctx, 'lock.taken-over', {
        environment,
        detail: {
          previousHolder: stale.holder,
          pid: stale.pid,
          host: stale.host,
          since: stale.acquiredAt,
          message: stale.message,
          why:
            stale.expiresAt <= ctx.now().toISOString()
              ? 'its lease expired'
              : 'its process is gone',
          fence: attempt.lock.fence,
        },
      });
    }
    if (attempt.acquired) {
      if (entry) await ctx.store.updateQueueEntry(entry.id, 'started', null, ctx.now());
      const { fence } = attempt.lock;
      return {
        environment,
        token,
        fence,
        renew: () => ctx.store.renewLock(environment, token, ctx.lockTtlMs, ctx.now()),
        release: async () => {
          await ctx.store.releaseLock(environment, token);
        },
      };
    }
    const waited = Date.now() - started;
    if (!options.waitMs || waited >= options.waitMs || options.signal?.aborted) {
      if (entry)
        await ctx.store.updateQueueEntry(entry.id, 'gave-up', 'stopped waiting', ctx.now());
      if (!options.quietRefusal)
        await auditLockRefused(ctx, attempt.holder, message, options.waitMs ? waited : 0);
      throw heldError(attempt.holder, options.waitMs ? waited : 0);
    }
    if (!entry && options.queue) {
      const queued = await ctx.store.enqueue(
        {
          environment,
          releaseId: options.queue.release.id,
          releaseSeq: options.queue.release.seq,
          kind: options.queue.kind,
          actor: ctx.actor,
          pid: ctx.pid,
          host: ctx.host,
          createdAt: ctx.now().toISOString(),
        },
        ctx.now(),
      );
      entry = queued.entry;
      for (const old of queued.superseded) {
        await audit(ctx, 'queue.superseded', {
          environment,
          releaseId: old.releaseId,
          result: 'superseded',
          detail: { by: options.queue.release.id, waitingSince: old.createdAt, waiter: old.actor },
        });
      }
      options.onWait?.(attempt.holder);
    } else if (!entry) {
      options.onWait?.(attempt.holder);
    }
    if (entry) {
      const now = await ctx.store.getQueueEntry(entry.id);
      if (now?.status === 'superseded') {
        throw new UserError(
          'SUPERSEDED',
          `this automatic promotion of ${entry.releaseId} to ${environment} gave way to a newer release (${now.message ?? 'superseded'}).`,
          {
            hint: 'Nothing to do: the newer release is promoted instead.',
            details: { entry: now },
          },
        );
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
}

/**
 * `airlock lock acquire <env> -m why`: a manual lock, held until `airlock lock release`.
 * @throws UserError `LOCK_HELD`.
 */
export async function acquireManualLock(
  ctx: AirlockContext,
  environment: string,
  message: string,
): Promise<Lock> {
  const now = ctx.now();
  const request = {
    environment,
    kind: 'manual' as const,
    token: randomUUID(),
    holder: ctx.actor,
    runId: null,
    pid: 0,
    host: ctx.host,
    message,
    ttlMs: Date.parse(MANUAL_LOCK_EXPIRY) - now.getTime(),
    now,
  };
  let attempt = await ctx.store.acquireLock(request);
  if (!attempt.acquired && lockIsStale(attempt.holder, ctx)) {
    attempt = await ctx.store.acquireLock({
      ...request,
      takeoverToken: attempt.holder.token,
    });
  }
  if (!attempt.acquired) {
    await auditLockRefused(ctx, attempt.holder, `lock acquire: ${message}`, 0);
    throw heldError(attempt.holder, 0);
  }
  await audit(ctx, 'lock.acquired', {
    environment,
    detail: { message, manual: true, fence: attempt.lock.fence },
  });
  return attempt.lock;
}

/**
 * `airlock lock release <env>`: frees your own manual lock, or with `force` another person's
 * manual lock or a run's lock whose holder is still alive (as with a run's lock, releasing what
 * someone else holds on purpose takes `--force`). Audited as `lock.released`, with
 * `forced: true` for a run's lock or another person's manual lock released with `force`; a
 * refusal is audited as `lock.refused`.
 * @throws UserError `LOCK_HELD` when a live run or another person's manual lock holds it and
 *   `force` is not set.
 */
export async function releaseLockByCommand(
  ctx: AirlockContext,
  environment: string,
  force: boolean,
): Promise<Lock | null> {
  const lock = await ctx.store.getLock(environment);
  if (!lock || (lock.kind === 'run' && lock.expiresAt <= ctx.now().toISOString())) return null;
  const anothersManualLock = lock.kind === 'manual' && lock.holder !== ctx.actor;
  if (lock.kind === 'run' && !lockIsStale(lock, ctx) && !force) {
    await auditLockRefused(ctx, lock, 'lock release', 0);
    throw new UserError('LOCK_HELD', `${describeLock(lock)}; a running command holds it.`, {
      hint: `Let it finish. To take it anyway (that command's writes will then be refused), run \`airlock lock release ${environment} --force\`.`,
    });
  }
  if (anothersManualLock && !force) {
    await auditLockRefused(ctx, lock, 'lock release', 0);
    throw new UserError(
      'LOCK_HELD',
      `${describeLock(lock)}; it is ${lock.holder}'s manual lock, not yours (${ctx.actor}).`,
      {
        hint: `Ask ${lock.holder} to run \`airlock lock release ${environment}\`, or, to release it anyway (audited), run \`airlock lock release ${environment} --force\`.`,
        details: { lock: { ...lock, token: undefined } },
      },
    );
  }
  await ctx.store.releaseLock(environment, lock.token);
  await audit(ctx, 'lock.released', {
    environment,
    detail: {
      holder: lock.holder,
      since: lock.acquiredAt,
      message: lock.message,
      kind: lock.kind,
      forced: force && (lock.kind === 'run' || anothersManualLock),
    },
  });
  return lock;
}

/**
 * A held environment lock kept alive: its lease is renewed every third of `ctx.lockTtlMs`
 * until `stop`. If another process takes the lock over, `signal` aborts at once. Once a run
 * exists, each renewal also marks the run alive (`heartbeatAt`), which `airlock resume` reads.
 */
export interface Lease {
  lock: HeldLock;
  /** Aborted when the lock was taken over. */
  signal: AbortSignal;
  trackRun(runId: number, store: StateStore): void;
  /** Stops renewing and releases the lock. */
  end(): Promise<void>;
}

/** Starts keeping `lock` alive (see `Lease`). */
export function keepAlive(ctx: Pick<AirlockContext, 'lockTtlMs' | 'now'>, lock: HeldLock): Lease {
  const lost = new AbortController();
  let run: { id: number; store: StateStore } | null = null;
  const timer = setInterval(
    () => {
      void (async () => {
        if (!(await lock.renew())) lost.abort(new Error('the environment lock was taken over'));
        else if (run) await run.store.updateRun(run.id, { heartbeatAt: ctx.now().toISOString() });
      })().catch(() => {});
    },
    Math.max(100, Math.floor(ctx.lockTtlMs / 3)),
  );
  return {
    lock,
    signal: lost.signal,
    trackRun(id, store) {
      run = { id, store };
    },
    async end() {
      clearInterval(timer);
      await lock.release();
    },
  };
}
