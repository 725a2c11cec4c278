/**
 * The environment lock: one deployment per environment at a time (Kamal's deploy lock, with
 * a message). A lease that the holder renews while it runs; a holder that died (its process is
 * gone on this host, or its lease expired) is taken over, and the takeover is audited.
 */
import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.ts';
import type { Lock } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';

export interface HeldLock {
  environment: string;
  token: string;
  fence: number;
  /** Extends the lease; false when another process took the lock over. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

/** True when the process is known to be gone (same host and no such pid). */
export function processGone(pid: number, host: string, thisHost: string): boolean {
  if (host !== thisHost) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A lock whose holder can no longer finish: its process is gone, or its lease ran out. */
export function lockIsStale(lock: Lock, ctx: Pick<AirlockContext, 'host' | 'now'>): boolean {
  return lock.expiresAt <= ctx.now().toISOString() || processGone(lock.pid, lock.host, ctx.host);
}

/** `staging is locked by ann@example.com (pid 4242 on build-1) since …: "promote r3".` */
export function describeLock(lock: Lock): string {
  return `${lock.environment} is locked by ${lock.holder} (pid ${lock.pid} on ${lock.host}) since ${lock.acquiredAt}: "${lock.message}"`;
}

/**
 * Takes an environment's lock.
 * @throws UserError `LOCK_HELD` naming who holds it, since when and why.
 */
export async function acquireEnvironmentLock(
  ctx: AirlockContext,
  environment: string,
  message: string,
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
  let attempt = await ctx.store.acquireLock({ ...request, now: ctx.now() });
  if (!attempt.acquired && lockIsStale(attempt.holder, ctx)) {
    const stale = attempt.holder;
    attempt = await ctx.store.acquireLock({
      ...request,
      now: ctx.now(),
      takeoverToken: stale.token,
    });
    if (attempt.acquired) {
      await ctx.store.appendAudit({
        at: ctx.now().toISOString(),
        actor: ctx.actor,
        action: 'lock.taken-over',
        environment,
        releaseId: null,
        runId: null,
        result: 'ok',
        detail: {
          previousHolder: stale.holder,
          pid: stale.pid,
          host: stale.host,
          since: stale.acquiredAt,
          message: stale.message,
        },
      });
    }
  }
  if (!attempt.acquired) {
    const holder = attempt.holder;
    throw new UserError('LOCK_HELD', `${describeLock(holder)}.`, {
      hint: `Wait for it to finish, then retry. If that process is gone, Airlock frees the lock by itself (at once on the same host, otherwise when its lease ends at ${holder.expiresAt}).`,
      details: { lock: { ...holder, token: undefined } },
    });
  }
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
