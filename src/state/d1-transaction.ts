/**
 * A transaction of the D1 state store (`d1-state-store.ts`). D1's HTTP API has no interactive
 * transactions: each request is one batch, and a batch is one transaction (a failing statement
 * rolls the whole batch back). A `D1Transaction` therefore keeps the writes it can — plain
 * INSERTs without RETURNING (saving a step, a release) and the audit log's appends — in a
 * pending list, and sends them as one batch when the transaction ends, so a transaction that
 * throws leaves nothing behind. A statement whose answer is needed now (a read, an UPDATE or
 * DELETE whose row count a caller checks, an INSERT … RETURNING) goes at once, in one batch
 * behind the pending writes; a read that touches no pending table goes alone.
 *
 * Every batch a transaction sends starts with its guards: the fence (the environment lock is
 * still this view's) and, once the audit chain was read, the chain head it was read at. A guard
 * that no longer holds fails the batch (`json()` of text that is not JSON is an error in D1
 * and SQLite alike), so the writes behind it are not made: conditional writes instead of the
 * row locks D1 does not have.
 */
import type { CompiledQuery, Kysely, QueryResult } from 'kysely';
import type { AuditHead } from './audit-chain.ts';
import type { StateDatabase } from './schema.ts';

/** One statement of a D1 batch: SQL with `?` placeholders and the JSON values bound to them. */
export interface D1Statement {
  sql: string;
  params?: (string | number | null)[];
}

/** D1's answer to one statement of a batch. */
export interface D1QueryResult {
  results?: Record<string, unknown>[];
  success: boolean;
  meta?: { changes?: number; last_row_id?: number; duration?: number; [key: string]: unknown };
}

/**
 * What the D1 state store needs of D1's HTTP API, passed in by whoever opens the store (the
 * Cloudflare provider's `D1HttpMigrationDriver` is one): `query` sends one batch (one D1
 * transaction) and throws when D1 refused a statement (none of the batch stays); `lock` takes
 * a lease for the store's schema migrations and returns its release.
 */
export interface D1StateClient {
  query(batch: D1Statement[]): Promise<D1QueryResult[]>;
  lock(): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Sends one batch to D1. */
export type D1Batch = D1StateClient['query'];

/** A guard of the batch failed: what the transaction read has changed since. */
export class D1GuardFailed extends Error {}

/** A value as D1's HTTP API binds it. */
export function d1Param(value: unknown): string | number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number' || typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** A compiled Kysely query as a D1 statement. */
export function d1Statement(query: CompiledQuery): D1Statement {
  return { sql: query.sql, params: query.parameters.map(d1Param) };
}

/** D1's answer to one statement as Kysely's result. */
export function toQueryResult<R>(result: D1QueryResult | undefined): QueryResult<R> {
  const changes = result?.meta?.changes;
  const lastRowId = result?.meta?.last_row_id;
  return {
    rows: (result?.results ?? []) as R[],
    ...(typeof changes === 'number' ? { numAffectedRows: BigInt(changes) } : {}),
    ...(typeof lastRowId === 'number' && lastRowId > 0 ? { insertId: BigInt(lastRowId) } : {}),
  };
}

/** The fragment that makes a guard fail: `json()` of text that is not JSON is an error. */
const FAIL = "json('airlock: a guard of this write no longer holds')";

/** A statement that fails the batch unless `condition` (SQL, with `params`) is true. */
export function guardStatement(condition: string, params: (string | number | null)[]): D1Statement {
  return { sql: `SELECT CASE WHEN ${condition} THEN 1 ELSE ${FAIL} END AS held`, params };
}

/** D1 refused the batch at a guard: its only word for it is SQLite's message for `json()`. */
const isGuardFailure = (error: unknown) =>
  (error as { code?: unknown })?.code === 7500 &&
  /malformed JSON|a guard of this write/i.test(String((error as Error).message));

/** The audit chain as this transaction has left it (after its pending appends). */
export interface PendingAuditChain {
  head: AuditHead | undefined;
  last: { id: number; hash: string | null } | undefined;
}

export class D1Transaction {
  readonly #send: D1Batch;
  readonly #guards: D1Statement[];
  /** Guards of the pending statements only (the audit head as read): dropped once they are sent. */
  #once: D1Statement[] = [];
  #pending: D1Statement[] = [];
  /** Tables the pending statements write (a read of one must see them). */
  #pendingTables = new Set<string>();
  /** True once a batch with a write went through: the transaction can no longer be re-run. */
  wrote = false;
  /** Set by the first audit append of the transaction. */
  audit: PendingAuditChain | undefined;

  constructor(send: D1Batch, guards: D1Statement[]) {
    this.#send = send;
    this.#guards = guards;
  }

  /**
   * Guards the next write batch, the one that sends what is pending now (e.g. the audit head as
   * it was read). Once that batch went through, the audit chain is read again by the next append.
   */
  guard(statement: D1Statement): void {
    this.#once.push(statement);
  }

  /** Keeps `statement` (a write whose answer nobody reads) for the batch at the end. */
  defer(statement: D1Statement, table: string): void {
    this.#pending.push(statement);
    this.#pendingTables.add(table);
  }

  /** Runs one compiled query as the module comment says. */
  async execute<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const node = query.query as { kind: string; returning?: unknown; into?: TableRef };
    const statement = d1Statement(query);
    if (node.kind === 'InsertQueryNode' && !node.returning && node.into) {
      this.defer(statement, node.into.table.identifier.name);
      return { rows: [] };
    }
    const read =
      node.kind === 'SelectQueryNode' ||
      (node.kind === 'RawNode' && /^\s*select\b/i.test(query.sql));
    if (read && !this.#touchesPending(query.sql)) {
      const [result] = await this.#batch([statement], false);
      return toQueryResult<R>(result);
    }
    const pending = this.#takePending();
    const results = await this.#batch([...pending, statement], !read || pending.length > 0);
    return toQueryResult<R>(results.at(-1));
  }

  /** Sends what is still pending (the end of a transaction that did not throw). */
  async commit(): Promise<void> {
    if (this.#pending.length > 0) await this.#batch(this.#takePending(), true);
  }

  #touchesPending(sql: string): boolean {
    for (const table of this.#pendingTables) if (sql.includes(`"${table}"`)) return true;
    return false;
  }

  #takePending(): D1Statement[] {
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingTables = new Set();
    return pending;
  }

  /** One batch behind the guards; the guards' own results are dropped. */
  async #batch(statements: D1Statement[], write: boolean): Promise<D1QueryResult[]> {
    const guards = write ? [...this.#guards, ...this.#once] : [];
    try {
      const results = await this.#send([...guards, ...statements]);
      if (write) {
        this.wrote = true;
        this.#once = [];
        this.audit = undefined;
      }
      return results.slice(guards.length);
    } catch (error) {
      if (isGuardFailure(error)) throw new D1GuardFailed((error as Error).message);
      throw error;
    }
  }
}

interface TableRef {
  table: { identifier: { name: string } };
}

/** The D1 transaction a transaction's Kysely instance runs in (see `d1-state-store.ts`). */
const transactions = new WeakMap<Kysely<StateDatabase>, D1Transaction>();

export function bindD1Transaction(db: Kysely<StateDatabase>, tx: D1Transaction): void {
  transactions.set(db, tx);
}

/** The D1 transaction `db` belongs to; undefined on every other store. */
export function d1TransactionOf(db: Kysely<StateDatabase>): D1Transaction | undefined {
  return transactions.get(db);
}
