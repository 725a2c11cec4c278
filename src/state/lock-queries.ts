/**
 * Environment locks and the promotion queue in the state store. A lock is a lease with a
 * fence that grows with every new holder; the queue orders the promotions that wait for it,
 * a newer automatic one superseding older waiting ones.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import { sql } from 'kysely';
import type {
  AcquireLockRequest,
  Lock,
  LockAttempt,
  NewQueueEntry,
  QueueEntry,
} from './state-store.ts';
import type { Row, StoreAccess } from './store-access.ts';

/**
 * The latest expiry a lock can have (a manual lock's). ISO strings are compared as text, and a
 * date past year 9999 is written `+010000-…`, which sorts before every real date: a lease that
 * reached past this would read as long expired.
 */
export const LATEST_LOCK_EXPIRY = '9999-12-31T23:59:59.999Z';

/** `now + ttlMs` as an ISO string, never later than {@link LATEST_LOCK_EXPIRY}. */
export function lockExpiry(now: Date, ttlMs: number): string {
  return new Date(Math.min(now.getTime() + ttlMs, Date.parse(LATEST_LOCK_EXPIRY))).toISOString();
}

export function toLock(r: Row<'locks'>): Lock {
  return {
    environment: r.environment,
    kind: r.kind === 'manual' ? 'manual' : 'run',
    token: r.token,
    fence: Number(r.fence),
    holder: r.holder,
    runId: r.run_id === null ? null : Number(r.run_id),
    pid: Number(r.pid),
    host: r.host,
    message: r.message,
    acquiredAt: r.acquired_at,
    expiresAt: r.expires_at,
  };
}

function toQueueEntry(r: Row<'queue'>): QueueEntry {
  return {
    id: Number(r.id),
    environment: r.environment,
    releaseId: r.release_id,
    releaseSeq: Number(r.release_seq),
    kind: r.kind === 'automatic' ? 'automatic' : 'manual',
    actor: r.actor,
    pid: Number(r.pid),
    host: r.host,
    status: r.status as QueueEntry['status'],
    message: r.message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function acquireLock(
  access: StoreAccess,
  req: AcquireLockRequest,
): Promise<LockAttempt> {
  const now = req.now.toISOString();
  const expires = lockExpiry(req.now, req.ttlMs);
  const takeover = req.takeoverToken ?? '';
  // One statement, so it is atomic on every dialect: insert, or replace a free/expired/dead lease.
  const row = await access.db
    .insertInto('locks')
    .values({
      environment: req.environment,
      token: req.token,
      kind: req.kind ?? 'run',
      fence: 1,
      holder: req.holder,
      run_id: req.runId,
      pid: req.pid,
      host: req.host,
      message: req.message,
      acquired_at: now,
      expires_at: expires,
    })
    .onConflict((oc) =>
      oc
        .column('environment')
        .doUpdateSet({
          token: req.token,
          kind: req.kind ?? 'run',
          fence: sql<number>`locks.fence + 1`,
          holder: req.holder,
          run_id: req.runId,
          pid: req.pid,
          host: req.host,
          message: req.message,
          acquired_at: now,
          expires_at: expires,
        })
        .where((eb) =>
          eb.or([eb('locks.expires_at', '<=', now), eb('locks.token', '=', takeover)]),
        ),
    )
    .returningAll()
    .executeTakeFirst();
  if (row && row.token === req.token) return { acquired: true, lock: toLock(row) };
  const holder = await getLock(access, req.environment);
  if (!holder) return acquireLock(access, req); // released between the two statements
  return { acquired: false, holder };
}

export async function renewLock(
  access: StoreAccess,
  environment: string,
  token: string,
  ttlMs: number,
  now: Date,
): Promise<boolean> {
  const result = await access.db
    .updateTable('locks')
    .set({ expires_at: lockExpiry(now, ttlMs) })
    .where('environment', '=', environment)
    .where('token', '=', token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function releaseLock(
  access: StoreAccess,
  environment: string,
  token: string,
): Promise<boolean> {
  // Keep the row (its fence counter must keep growing); mark the lease as over.
  const result = await access.db
    .updateTable('locks')
    .set({ expires_at: new Date(0).toISOString(), token: '' })
    .where('environment', '=', environment)
    .where('token', '=', token)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function getLock(access: StoreAccess, environment: string): Promise<Lock | undefined> {
  const row = await access.db
    .selectFrom('locks')
    .selectAll()
    .where('environment', '=', environment)
    .where('token', '!=', '')
    .executeTakeFirst();
  return row ? toLock(row) : undefined;
}

/** The query of `getLocks` (at least one environment). */
export function locksQuery(access: StoreAccess, environments: string[]) {
  return access.db
    .selectFrom('locks')
    .selectAll()
    .where('environment', 'in', [...new Set(environments)])
    .where('token', '!=', '')
    .orderBy('environment');
}

export async function getLocks(access: StoreAccess, environments: string[]): Promise<Lock[]> {
  if (environments.length === 0) return [];
  return (await locksQuery(access, environments).execute()).map(toLock);
}

export async function enqueue(
  access: StoreAccess,
  entry: NewQueueEntry,
  now: Date,
): Promise<{ entry: QueueEntry; superseded: QueueEntry[] }> {
  const at = now.toISOString();
  return access.write(async (db) => {
    let superseded: QueueEntry[] = [];
    if (entry.kind === 'automatic') {
      const older = await db
        .selectFrom('queue')
        .selectAll()
        .where('environment', '=', entry.environment)
        .where('status', '=', 'waiting')
        .where('kind', '=', 'automatic')
        .where('release_seq', '<', entry.releaseSeq)
        .execute();
      superseded = older.map(toQueueEntry);
      if (older.length > 0) {
        await db
          .updateTable('queue')
          .set({
            status: 'superseded',
            message: `superseded by ${entry.releaseId}`,
            updated_at: at,
          })
          .where(
            'id',
            'in',
            older.map((o) => o.id),
          )
          .execute();
      }
    }
    const row = await db
      .insertInto('queue')
      .values({
        environment: entry.environment,
        release_id: entry.releaseId,
        release_seq: entry.releaseSeq,
        kind: entry.kind,
        actor: entry.actor,
        pid: entry.pid,
        host: entry.host,
        status: 'waiting',
        message: null,
        created_at: entry.createdAt,
        updated_at: at,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return {
      entry: toQueueEntry(row),
      superseded: superseded.map((q) => ({ ...q, status: 'superseded' as const })),
    };
  }, true);
}

export async function getQueueEntry(
  access: StoreAccess,
  id: number,
): Promise<QueueEntry | undefined> {
  const row = await access.db
    .selectFrom('queue')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toQueueEntry(row) : undefined;
}

export async function updateQueueEntry(
  access: StoreAccess,
  id: number,
  status: QueueEntry['status'],
  message: string | null,
  now: Date,
): Promise<boolean> {
  const result = await access.write((db) =>
    db
      .updateTable('queue')
      .set({ status, message, updated_at: now.toISOString() })
      .where('id', '=', id)
      .where('status', '=', 'waiting')
      .executeTakeFirst(),
  );
  return Number(result.numUpdatedRows) > 0;
}

export async function listQueue(
  access: StoreAccess,
  environment: string,
  status?: QueueEntry['status'],
): Promise<QueueEntry[]> {
  let q = access.db.selectFrom('queue').selectAll().where('environment', '=', environment);
  if (status) q = q.where('status', '=', status);
  return (await q.orderBy('id').execute()).map(toQueueEntry);
}
