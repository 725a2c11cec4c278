/**
 * The audit log in the state store: append-only events (who did what, where, with which
 * result), listed newest first.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import { type Kysely, sql } from 'kysely';
import type { AuditAction, AuditResult } from './audit-action.ts';
import {
  type AuditHead,
  type AuditVerification,
  ChainCheck,
  type ChainRow,
  chainHash,
  eventContent,
} from './audit-chain.ts';
import { AUDIT_GENESIS } from './audit-guards.ts';
import {
  type D1Transaction,
  d1Statement,
  d1TransactionOf,
  guardStatement,
} from './d1-transaction.ts';
import type { StateDatabase } from './schema.ts';
import type { AuditEvent, NewAuditEvent } from './state-store.ts';
import { json, parse, type Row, type StoreAccess } from './store-access.ts';

function toAudit(r: Row<'audit_events'>): AuditEvent {
  return {
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    // Text in the database: what an older Airlock wrote is read back as it is.
    action: r.action as AuditAction,
    environment: r.environment,
    releaseId: r.release_id,
    runId: r.run_id === null ? null : Number(r.run_id),
    result: r.result as AuditResult,
    detail: parse(r.detail) ?? {},
  };
}

function toHead(r: Row<'audit_head'>): AuditHead {
  return {
    seq: Number(r.seq),
    hash: r.hash,
    chainStart: Number(r.chain_start),
    brokenAt: r.broken_at === null ? null : Number(r.broken_at),
    brokenReason: r.broken_reason,
  };
}

/** The head row, locked for this transaction on Postgres (FOR UPDATE): appends queue on it. */
async function lockedHead(
  db: Kysely<StateDatabase>,
  forUpdate: boolean,
): Promise<AuditHead | undefined> {
  let q = db.selectFrom('audit_head').selectAll().where('id', '=', 1);
  if (forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  return row ? toHead(row) : undefined;
}

/**
 * Appends one event to the chain, in one transaction with the head row: the head is locked
 * (Postgres: `SELECT … FOR UPDATE`; SQLite: the transaction holds the write lock), the event gets
 * the next id and `hash(head.hash, content)`, and the head moves to it. `resync` chains on the
 * last stored event instead of the head (`airlock audit accept` after a removed tail); `accept`
 * also clears the head's `broken_at`. A missing head row is written again, marked broken at the
 * new event (the event itself is never lost).
 */
export async function appendAudit(
  access: StoreAccess,
  e: NewAuditEvent,
  options: { accept?: boolean; pgSchema?: string | null } = {},
): Promise<AuditEvent> {
  if (options.pgSchema && !options.accept) {
    const row = await access.write((db) => appendInOneStatement(db, options.pgSchema as string, e));
    if (row) return toAudit(row);
  }
  const row = await access.write(async (db) => {
    const d1 = d1TransactionOf(db);
    if (d1) return appendDeferred(db, d1, e, options.accept ?? false);
    const head = await lockedHead(db, Boolean(options.pgSchema));
    const last = await db
      .selectFrom('audit_events')
      .select(['id', 'hash'])
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const next = nextEvent(
      db,
      head,
      last ? { id: Number(last.id), hash: last.hash } : undefined,
      e,
      options.accept ?? false,
    );
    const inserted = await next.insertEvent.returningAll().executeTakeFirstOrThrow();
    await next.moveHead.execute();
    return inserted;
  }, true);
  return toAudit(row);
}

const HEAD_REWRITTEN =
  'the chain head row was removed (and written again here): events before this one may have been removed.';

/**
 * The event that follows `head` and the `last` stored event, and the statements that write it
 * and move the head to it (or write a missing head again, marked broken at it unless `accept`).
 */
function nextEvent(
  db: Kysely<StateDatabase>,
  head: AuditHead | undefined,
  last: { id: number; hash: string | null } | undefined,
  e: NewAuditEvent,
  accept: boolean,
) {
  const id = Math.max(head?.seq ?? 0, last?.id ?? 0) + 1;
  const prev = accept || !head ? (last?.hash ?? AUDIT_GENESIS) : head.hash;
  const values = {
    id,
    at: e.at,
    actor: e.actor,
    action: e.action,
    environment: e.environment,
    release_id: e.releaseId,
    run_id: e.runId,
    result: e.result,
    detail: json(e.detail),
  };
  const hash = chainHash(prev, eventContent(values));
  const row = { ...values, prev_hash: prev, hash };
  const newHead: AuditHead = head
    ? { ...head, seq: id, hash, ...(accept ? { brokenAt: null, brokenReason: null } : {}) }
    : {
        seq: id,
        hash,
        chainStart: 1,
        brokenAt: accept ? null : id,
        brokenReason: accept ? null : HEAD_REWRITTEN,
      };
  return {
    row,
    head: newHead,
    insertEvent: db.insertInto('audit_events').values(row),
    moveHead: head
      ? db
          .updateTable('audit_head')
          .set({ seq: id, hash, ...(accept ? { broken_at: null, broken_reason: null } : {}) })
          .where('id', '=', 1)
      : db.insertInto('audit_head').values({
          id: 1,
          seq: id,
          hash,
          chain_start: 1,
          broken_at: newHead.brokenAt,
          broken_reason: newHead.brokenReason,
        }),
  };
}

/**
 * D1: the append as statements kept for the transaction's batch (`d1-transaction.ts`), with the
 * same id, `prev` and hash as above. The first append of a transaction reads the head and the
 * last event and guards the batch on both being unchanged (another process appending meanwhile
 * fails the batch, and the transaction runs again); later appends chain on the pending ones.
 */
async function appendDeferred(
  db: Kysely<StateDatabase>,
  tx: D1Transaction,
  e: NewAuditEvent,
  accept: boolean,
): Promise<Row<'audit_events'>> {
  let chain = tx.audit;
  if (!chain) {
    // The head and the last event in one request.
    const { rows } = await sql<
      Partial<Row<'audit_head'>> & { last_id: number | null; last_hash: string | null }
    >`SELECT h.*, (SELECT max("id") FROM "audit_events") AS last_id,
        (SELECT "hash" FROM "audit_events" ORDER BY "id" DESC LIMIT 1) AS last_hash
      FROM (SELECT 1) LEFT JOIN "audit_head" h ON h."id" = 1`.execute(db);
    const found = rows[0];
    const head =
      found?.seq === null || found?.seq === undefined
        ? undefined
        : toHead(found as Row<'audit_head'>);
    chain = {
      head,
      last:
        found?.last_id === null || found?.last_id === undefined
          ? undefined
          : { id: Number(found.last_id), hash: found.last_hash ?? null },
    };
    tx.guard(
      guardStatement(
        '(SELECT count(*) FROM "audit_head") = ? AND (SELECT count(*) FROM "audit_head" WHERE "id" = 1 AND "seq" = ? AND "hash" = ?) = ? AND (SELECT coalesce(max("id"), 0) FROM "audit_events") = ?',
        [head ? 1 : 0, head?.seq ?? -1, head?.hash ?? '', head ? 1 : 0, chain.last?.id ?? 0],
      ),
    );
  }
  const next = nextEvent(db, chain.head, chain.last, e, accept);
  tx.defer(d1Statement(next.insertEvent.compile()), 'audit_events');
  tx.defer(d1Statement(next.moveHead.compile()), 'audit_head');
  tx.audit = { head: next.head, last: { id: next.row.id, hash: next.row.hash } };
  return next.row as Row<'audit_events'>;
}

/**
 * Postgres: the append as one statement (one round trip, no explicit transaction): the head row
 * locked FOR UPDATE, the next id, the hash computed by Postgres's `sha256()` over the same bytes
 * `chainHash` hashes (`eventContent` is `[id,` + the rest as JSON, built here), the event
 * inserted and the head moved. Undefined when the head row is missing (the caller then writes it).
 */
async function appendInOneStatement(
  db: Kysely<StateDatabase>,
  schema: string,
  e: NewAuditEvent,
): Promise<Row<'audit_events'> | undefined> {
  const detail = json(e.detail);
  const rest = JSON.stringify([
    e.at,
    e.actor,
    e.action,
    e.environment,
    e.releaseId,
    e.runId,
    e.result,
    detail,
  ]).slice(1);
  const events = sql.id(schema, 'audit_events');
  const head = sql.id(schema, 'audit_head');
  const { rows } = await sql<Row<'audit_events'>>`
    WITH h AS (SELECT seq, hash FROM ${head} WHERE id = 1 FOR UPDATE),
    n AS (
      SELECT greatest(h.seq, coalesce((SELECT max(id) FROM ${events}), 0)) + 1 AS id, h.hash AS prev
      FROM h
    ),
    c AS (
      SELECT n.id, n.prev,
        encode(sha256(convert_to(n.prev || E'\n' || '[' || n.id::text || ',' || ${rest}::text, 'UTF8')), 'hex') AS hash
      FROM n
    ),
    ins AS (
      INSERT INTO ${events} (id, at, actor, action, environment, release_id, run_id, result, detail, prev_hash, hash)
      SELECT c.id, ${e.at}, ${e.actor}, ${e.action}, ${e.environment}, ${e.releaseId}, ${e.runId}::bigint,
        ${e.result}, ${detail}, c.prev, c.hash
      FROM c
      RETURNING *
    ),
    upd AS (UPDATE ${head} SET seq = ins.id, hash = ins.hash FROM ins WHERE ${head}.id = 1)
    SELECT * FROM ins`.execute(db);
  return rows[0];
}

/** The chain's head row, or undefined when it is missing. */
export async function auditHead(access: StoreAccess): Promise<AuditHead | undefined> {
  return lockedHead(access.db, false);
}

const CHAIN_COLUMNS = [
  'id',
  'at',
  'actor',
  'action',
  'environment',
  'release_id',
  'run_id',
  'result',
  'detail',
  'prev_hash',
  'hash',
] as const;

function toChainRow(r: Pick<Row<'audit_events'>, (typeof CHAIN_COLUMNS)[number]>): ChainRow {
  return { ...r, id: Number(r.id), run_id: r.run_id === null ? null : Number(r.run_id) };
}

/**
 * Checks the chain: `tail` > 0 checks only the newest `tail` events and the head (a few ms at any
 * size: what every gate does); otherwise the whole log, read in pages of 5 000 by id.
 */
export async function verifyAudit(
  access: StoreAccess,
  options: { tail?: number } = {},
): Promise<AuditVerification> {
  const head = (await auditHead(access)) ?? null;
  if (options.tail && options.tail > 0) {
    const check = new ChainCheck('tail', head);
    const rows = await access.db
      .selectFrom('audit_events')
      .select(CHAIN_COLUMNS)
      .orderBy('id', 'desc')
      .limit(options.tail)
      .execute();
    for (const r of rows.reverse()) check.add(toChainRow(r));
    return check.finish();
  }
  const check = new ChainCheck('full', head);
  let after = 0;
  for (;;) {
    const rows = await access.db
      .selectFrom('audit_events')
      .select(CHAIN_COLUMNS)
      .where('id', '>', after)
      .orderBy('id', 'asc')
      .limit(5000)
      .execute();
    for (const r of rows) check.add(toChainRow(r));
    if (rows.length < 5000) break;
    after = Number(rows[rows.length - 1]?.id);
  }
  return check.finish();
}

/**
 * Records on the head that the log was found altered at `id` (kept when an earlier event is
 * already recorded), so every gate fails until `airlock audit accept`.
 * @returns whether the head changed.
 */
export async function markAuditBroken(
  access: StoreAccess,
  id: number,
  reason: string,
): Promise<boolean> {
  const result = await access.write((db) =>
    db
      .updateTable('audit_head')
      .set({ broken_at: id, broken_reason: reason })
      .where('id', '=', 1)
      .where((w) => w.or([w('broken_at', 'is', null), w('broken_at', '>', id)]))
      .executeTakeFirst(),
  );
  return Number(result.numUpdatedRows) > 0;
}

export async function listAudit(
  access: StoreAccess,
  filter: {
    environment?: string;
    limit: number;
    beforeId?: number;
    steps?: boolean;
  },
): Promise<AuditEvent[]> {
  let q = access.db.selectFrom('audit_events').selectAll();
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  if (filter.steps === false) q = q.where('action', 'not like', 'step.%');
  if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
  const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
  return rows.map(toAudit);
}
