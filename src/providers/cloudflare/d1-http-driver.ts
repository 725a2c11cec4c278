/**
 * Migrations on Cloudflare's remote D1 through the D1 HTTP API:
 * `POST {base}/accounts/{account_id}/d1/database/{database_id}/query` with
 * `Authorization: Bearer <CLOUDFLARE_API_TOKEN>` and a body `{ "batch": [{ "sql", "params" }] }`;
 * the answer is `{ result: [{ results, success, meta }], success, errors: [{ code, message }],
 * messages }` (HTTP 400 and error 7500 for a statement D1 refuses).
 *
 * D1 runs a batch as one transaction: if any statement fails, none of it stays. Each migration
 * file is therefore one request: the ledger table (created if needed), the file's ledger row
 * (first, so a version another process recorded meanwhile stops the batch before the file
 * runs: `UNIQUE constraint failed`), then the file itself. Either all of it commits or nothing
 * does. The ledger is the SQLite driver's (`airlock_migrations`, same columns), so a local and
 * a remote D1 database read alike.
 *
 * D1 has no advisory locks, so `lock()` is a row with an expiry: the table
 * `airlock_migration_lock` is created together with its one row (creating it fails while
 * another process holds the lock), renewed every third of its lifetime, taken over once
 * expired (by D1's clock, not ours), and dropped on release, leaving nothing behind. While
 * held, every batch starts with a guard that fails when the row is no longer ours, so a
 * process that lost the lock cannot apply a file.
 */

import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { ResolvedDatabase } from '../../config/resolve.ts';
import { ProviderError, UserError } from '../../errors.ts';
import type { D1MigrationRow } from '../../migrations/adopt-wrangler.ts';
import { claimSqlite, type DatabaseClaim } from '../../migrations/database-claim.ts';
import { LEDGER_TABLE, type LedgerEntry } from '../../migrations/ledger.ts';
import type { ApplyMeta, MigrationDriver } from '../../migrations/migration-driver.ts';
import type { MigrationFile } from '../../migrations/migration-files.ts';
import {
  formatMigrationVersion,
  shipFixedMigrationAdvice,
} from '../../migrations/migration-name.ts';
import { CREATE_SQLITE_LEDGER } from '../../migrations/sqlite-migration-driver.ts';
import { type ToolLayout, toolLedgerStatements } from '../../migrations/tool-ledgers.ts';
import { toolLedgerOf } from '../../pipeline/databases.ts';
import type { D1QueryResult, D1Statement } from '../../state/d1-transaction.ts';
import { envSuffix, scopedTokenEnv } from '../platform-cli.ts';
import {
  CLOUDFLARE_CREDENTIALS,
  readWranglerConfig,
  wranglerEnvironment,
} from './wrangler-config.ts';

/** Cloudflare's API, as wrangler reaches it (`CLOUDFLARE_API_BASE_URL` overrides it there too). */
export const CLOUDFLARE_API_BASE_URL = 'https://api.cloudflare.com/client/v4';

export const LOCK_TABLE = 'airlock_migration_lock';

/** D1's clock in ms since the epoch (SQLite's `now` is fixed within a statement). */
const NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

/** A statement of a batch and D1's answer to it: the shapes the D1 state store uses too. */
export type { D1QueryResult, D1Statement } from '../../state/d1-transaction.ts';

interface D1Response {
  result?: D1QueryResult[] | null;
  success?: boolean;
  errors?: { code: number; message: string }[];
}

/** D1 refused a statement (HTTP 400, error 7500): the batch was rolled back. */
export class D1QueryError extends Error {
  readonly code: number | null;
  constructor(message: string, code: number | null) {
    super(message);
    this.code = code;
  }
}

export interface D1HttpMigrationDriverOptions {
  accountId: string;
  databaseId: string;
  /** A Cloudflare API token with D1 Edit. Never logged or put in an error. */
  apiToken: string;
  /** Default: {@link CLOUDFLARE_API_BASE_URL}. */
  baseUrl?: string;
  /** How the database is named in messages (e.g. `d1 DB of env.production (remote)`). */
  display?: string;
  /**
   * What the database is for, which decides the hints of errors: `migrations` (default; an
   * unreachable API is `MIGRATION_DATABASE_UNREACHABLE`) or `state` (Airlock's own state store:
   * `PROVIDER_UNAVAILABLE`, pointing at `state:` / AIRLOCK_STATE_URL).
   */
  purpose?: 'migrations' | 'state';
  /** Clock for `appliedAt`. */
  now?: () => Date;
  /** Lifetime of the lock row (ms) without renewal. Default 120 s. */
  lockTtlMs?: number;
  /** How long `lock()` waits for another holder (ms). Default 120 s. */
  lockWaitMs?: number;
  /** Pause between attempts while waiting (ms). Default 1 s. */
  lockPollMs?: number;
  /** Give up on one request after this long (ms). Default 60 s. */
  requestTimeoutMs?: number;
  fetch?: typeof fetch;
  /**
   * Also record each applied file in this tool's ledger (wrangler's `d1_migrations`), in the
   * same batch, so `wrangler d1 migrations apply` afterwards finds nothing to do. Default none.
   */
  toolLedger?: ToolLayout | null;
}

interface LedgerRow {
  version: number;
  name: string;
  sha256: string;
  applied_at: string;
  applied_by: string;
  duration_ms: number;
  release: string | null;
}

const isBlank = (sql: string) =>
  sql
    .replace(/--[^\n]*/g, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/[\s;]/g, '') === '';

export class D1HttpMigrationDriver implements MigrationDriver {
  readonly engine = 'd1' as const;
  readonly #o: Required<Omit<D1HttpMigrationDriverOptions, 'display' | 'fetch' | 'purpose'>> & {
    display: string;
    fetch: typeof fetch;
    purpose: 'migrations' | 'state';
  };
  /** The lock row's owner while this driver holds the lock. */
  #owner: string | null = null;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: D1HttpMigrationDriverOptions) {
    this.#o = {
      baseUrl: CLOUDFLARE_API_BASE_URL,
      now: () => new Date(),
      lockTtlMs: 120_000,
      lockWaitMs: 120_000,
      lockPollMs: 1_000,
      requestTimeoutMs: 60_000,
      toolLedger: null,
      ...options,
      display: options.display ?? `D1 database ${options.databaseId}`,
      fetch: options.fetch ?? fetch,
      purpose: options.purpose ?? 'migrations',
    };
  }

  /**
   * Runs statements as one D1 batch (one transaction).
   * @throws D1QueryError when D1 refused a statement; UserError
   *   `MIGRATION_DATABASE_UNREACHABLE` / ProviderError `PROVIDER_AUTH` when it could not be asked.
   */
  /** The query endpoint this driver posts to (account and database; never the token). */
  get endpoint(): string {
    return `${this.#o.baseUrl.replace(/\/$/, '')}/accounts/${encodeURIComponent(this.#o.accountId)}/d1/database/${encodeURIComponent(this.#o.databaseId)}/query`;
  }

  async query(batch: D1Statement[]): Promise<D1QueryResult[]> {
    const url = this.endpoint;
    let response: Response;
    try {
      response = await this.#o.fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.#o.apiToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          batch: batch.map((s) => (s.params?.length ? s : { sql: s.sql })),
        }),
        signal: AbortSignal.timeout(this.#o.requestTimeoutMs),
      });
    } catch (error) {
      const cause = error instanceof Error ? (error.cause ?? error) : error;
      throw this.#unreachable(
        `${this.#o.display}: the D1 HTTP API could not be reached (${cause instanceof Error ? cause.message : String(cause)}).`,
        this.#o.purpose === 'state'
          ? 'Check the network and CLOUDFLARE_API_BASE_URL, and that state: (or AIRLOCK_STATE_URL) names the right d1:// database.'
          : 'Check the network and CLOUDFLARE_API_BASE_URL, then run `airlock migrate status` to see what was applied.',
      );
    }
    const text = await response.text();
    let body: D1Response;
    try {
      body = JSON.parse(text) as D1Response;
    } catch {
      body = {};
    }
    const first = body.errors?.[0];
    const message = first ? `${first.message}${first.code ? ` [code: ${first.code}]` : ''}` : '';
    if (response.status === 401 || response.status === 403 || first?.code === 10000) {
      throw new ProviderError(
        'PROVIDER_AUTH',
        `${this.#o.display}: Cloudflare refused the API token (HTTP ${response.status}${message ? `: ${message}` : ''}).`,
        {
          hint:
            this.#o.purpose === 'state'
              ? 'Use an AIRLOCK_STATE_TOKEN (or CLOUDFLARE_API_TOKEN) with the D1: Edit permission on the account of the d1:// state URL.'
              : 'Use a CLOUDFLARE_API_TOKEN with the D1: Edit permission on this account (CLOUDFLARE_ACCOUNT_ID).',
        },
      );
    }
    if (response.ok && body.success !== false && Array.isArray(body.result)) return body.result;
    if (response.status === 400 && first) throw new D1QueryError(first.message, first.code ?? null);
    const state = this.#o.purpose === 'state';
    throw this.#unreachable(
      `${this.#o.display}: the D1 HTTP API answered HTTP ${response.status}${message ? `: ${message}` : ''}.`,
      response.status === 404
        ? state
          ? 'Check the account and database ids of the d1:// state URL (`wrangler d1 list`).'
          : 'Check database_id in the wrangler file and CLOUDFLARE_ACCOUNT_ID (`wrangler d1 list`).'
        : state
          ? 'Try again.'
          : 'Try again; run `airlock migrate status` to see what was applied.',
    );
  }

  /**
   * Checks (and with `create`, writes) the database's claim over the HTTP API, as on a SQLite
   * file: a D1 database bound to two environments (one `database_id` in both wrangler
   * environments) is refused by the second, even in a CI job that holds only its own token.
   * @throws UserError `DATABASE_CLAIMED`.
   */
  async claim(claim: DatabaseClaim, options: { create: boolean }): Promise<void> {
    await claimSqlite(
      async (sql, params) => {
        const [result] = await this.query([{ sql, ...(params ? { params } : {}) }]);
        return result?.results ?? [];
      },
      claim,
      this.#o.display,
      options,
    );
  }

  #unreachable(message: string, hint: string): UserError | ProviderError {
    return this.#o.purpose === 'state'
      ? new ProviderError('PROVIDER_UNAVAILABLE', message, { hint })
      : new UserError('MIGRATION_DATABASE_UNREACHABLE', message, { hint });
  }

  async readLedger(): Promise<LedgerEntry[]> {
    const [exists] = await this.query([
      {
        sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
        params: [LEDGER_TABLE],
      },
    ]);
    if (!exists?.results?.length) return [];
    const [rows] = await this.query([{ sql: `SELECT * FROM ${LEDGER_TABLE} ORDER BY version` }]);
    return (rows?.results ?? []).map((row) => toEntry(row as unknown as LedgerRow));
  }

  /** The statement that fails the batch unless this driver still holds the lock. */
  #guard(): D1Statement[] {
    if (!this.#owner) return [];
    return [
      {
        sql: `SELECT CASE WHEN EXISTS (SELECT 1 FROM ${LOCK_TABLE} WHERE owner = ?) THEN 1 ELSE json('airlock: the migration lock is no longer held') END AS held`,
        params: [this.#owner],
      },
    ];
  }

  async applyFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    return this.#apply(file, meta, true);
  }

  async recordFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    return this.#apply(file, meta, false);
  }

  /** `applyFile`, or with `run` false `recordFile`: the ledger rows without the SQL. */
  async #apply(file: MigrationFile, meta: ApplyMeta, run: boolean): Promise<LedgerEntry> {
    const appliedAt = this.#o.now().toISOString();
    const guard = this.#guard();
    const insert: D1Statement = {
      sql: `INSERT INTO ${LEDGER_TABLE} (version, name, sha256, applied_at, applied_by, duration_ms, release) VALUES (?, ?, ?, ?, ?, 0, ${meta.release === null ? 'NULL' : '?'})`,
      params: [
        String(file.version),
        file.name,
        file.sha256,
        appliedAt,
        meta.appliedBy,
        ...(meta.release === null ? [] : [meta.release]),
      ],
    };
    const batch = [
      ...guard,
      { sql: CREATE_SQLITE_LEDGER },
      insert,
      ...(isBlank(file.sql) || !run ? [] : [{ sql: file.sql }]),
      ...(this.#o.toolLedger
        ? toolLedgerStatements(this.#o.toolLedger, 'sqlite', file, this.#o.now()).map((s) => ({
            sql: s.sql,
            params: s.params.map((p) => (p === null ? '' : String(p))),
          }))
        : []),
    ];
    const started = performance.now();
    let results: D1QueryResult[];
    try {
      results = await this.query(batch);
    } catch (error) {
      if (!(error instanceof D1QueryError)) throw error;
      throw await this.#applyError(file, error, guard.length > 0);
    }
    const fileResults = results.slice(guard.length + 2);
    const measured = fileResults.reduce((sum, r) => sum + (Number(r.meta?.duration) || 0), 0);
    let durationMs = run
      ? Math.round(fileResults.length ? measured : performance.now() - started)
      : 0;
    if (run)
      try {
        await this.query([
          {
            sql: `UPDATE ${LEDGER_TABLE} SET duration_ms = ? WHERE version = ?`,
            params: [String(durationMs), String(file.version)],
          },
        ]);
      } catch {
        durationMs = 0; // what the row says
      }
    return {
      version: file.version,
      name: file.name,
      sha256: file.sha256,
      appliedAt,
      appliedBy: meta.appliedBy,
      durationMs,
      release: meta.release,
    };
  }

  /**
   * Writes ledger rows for migrations another tool ran (`airlock migrate adopt --from
   * wrangler`), runs none: one batch with the lock guard, so all rows land or none.
   * @throws UserError `MIGRATION_FAILED` when one of the versions is in the ledger already
   *   (another process recorded it meanwhile) or D1 refused the rows; `MIGRATION_LOCKED` when
   *   this driver held the lock and lost it.
   */
  async recordEntries(entries: LedgerEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const guard = this.#guard();
    const inserts: D1Statement[] = entries.map((e) => ({
      sql: `INSERT INTO ${LEDGER_TABLE} (version, name, sha256, applied_at, applied_by, duration_ms, release) VALUES (?, ?, ?, ?, ?, ?, ${e.release === null ? 'NULL' : '?'})`,
      params: [
        String(e.version),
        e.name,
        e.sha256,
        e.appliedAt,
        e.appliedBy,
        String(e.durationMs),
        ...(e.release === null ? [] : [e.release]),
      ],
    }));
    try {
      await this.query([...guard, { sql: CREATE_SQLITE_LEDGER }, ...inserts]);
    } catch (error) {
      if (!(error instanceof D1QueryError)) throw error;
      const versions = entries.map((e) => formatMigrationVersion(e.version)).join(', ');
      if (guard.length > 0 && /malformed JSON|no longer held/i.test(error.message)) {
        throw new UserError(
          'MIGRATION_LOCKED',
          `${this.#o.display}: the migration lock expired and another process took it over; nothing was adopted.`,
          { hint: 'Run `airlock migrate status`, then `airlock migrate adopt` again.' },
        );
      }
      const raced = /UNIQUE constraint failed/i.test(error.message);
      throw new UserError(
        'MIGRATION_FAILED',
        raced
          ? `${this.#o.display}: another process recorded one of ${versions} in Airlock's ledger while adopting; nothing was adopted.`
          : `${this.#o.display}: D1 refused the adopted ledger rows (${error.message}); nothing was written.`,
        { hint: 'Run `airlock migrate status`, then `airlock migrate adopt` again.' },
      );
    }
  }

  /**
   * The rows of wrangler's own ledger (`d1_migrations`, or the binding's `migrations_table`)
   * in this database, by id; `[]` when wrangler never migrated it.
   * @throws UserError `USAGE` for a table name that is not a plain identifier; what `query`
   *   throws.
   */
  async readWranglerLedger(table = 'd1_migrations'): Promise<D1MigrationRow[]> {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) {
      throw new UserError('USAGE', `"${table}" is not a table name wrangler could have used.`, {
        hint: 'Check migrations_table in the [[d1_databases]] entry of the wrangler file.',
      });
    }
    const [exists] = await this.query([
      { sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", params: [table] },
    ]);
    if (!exists?.results?.length) return [];
    const [rows] = await this.query([
      { sql: `SELECT id, name, applied_at FROM "${table}" ORDER BY id` },
    ]);
    return (rows?.results ?? []).map((r) => ({
      id: Number(r.id),
      name: String(r.name),
      applied_at: r.applied_at === null || r.applied_at === undefined ? null : String(r.applied_at),
    }));
  }

  async #applyError(file: MigrationFile, error: D1QueryError, guarded: boolean): Promise<Error> {
    if (guarded && /malformed JSON|no longer held/i.test(error.message)) {
      return new UserError(
        'MIGRATION_LOCKED',
        `${this.#o.display}: the migration lock expired and another process took it over; ${file.filename} was not applied.`,
        {
          hint: 'Run `airlock migrate status` to see the ledger, then `airlock migrate apply` again.',
        },
      );
    }
    if (/UNIQUE constraint failed: airlock_migrations\.version/i.test(error.message)) {
      const [row] = await this.query([
        { sql: `SELECT * FROM ${LEDGER_TABLE} WHERE version = ?`, params: [String(file.version)] },
      ]).catch(() => [] as D1QueryResult[]);
      const already = row?.results?.[0] as unknown as LedgerRow | undefined;
      return new UserError(
        'MIGRATION_FAILED',
        `Migration ${file.path} was already applied${already ? ` (by ${already.applied_by} at ${already.applied_at})` : ''}; another process got there first.`,
        {
          hint: 'Run `airlock migrate status` to see the ledger, then `airlock migrate apply` again.',
          details: { file: file.path, version: file.version },
        },
      );
    }
    return new UserError('MIGRATION_FAILED', `Migration ${file.path} failed: ${error.message}`, {
      hint: `Nothing from ${file.filename} was kept (D1 ran it with its ledger row as one batch, rolled back). Fix the SQL in ${file.filename}, then ${shipFixedMigrationAdvice()}.`,
      details: {
        file: file.path,
        version: file.version,
        d1Message: error.message,
        d1Code: error.code,
      },
    });
  }

  /**
   * Takes the migration lock (see the module comment).
   * @throws UserError `MIGRATION_LOCKED` naming the holder when it is not free within `lockWaitMs`.
   */
  async lock(): Promise<() => Promise<void>> {
    const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const ttl = String(this.#o.lockTtlMs);
    const deadline = Date.now() + this.#o.lockWaitMs;
    for (;;) {
      if (await this.#tryLock(owner, ttl)) break;
      const [held] = await this.query([
        {
          sql: `SELECT owner, acquired_at, expires_at, ${NOW_MS} AS now FROM ${LOCK_TABLE}`,
        },
      ]).catch((error: unknown) => {
        if (error instanceof D1QueryError && /no such table/i.test(error.message)) return [];
        throw error;
      });
      const row = held?.results?.[0] as
        | { owner: string; acquired_at: string; expires_at: number; now: number }
        | undefined;
      if (row && Number(row.expires_at) < Number(row.now)) {
        // Expired (its holder died or hung): take it over, unless someone else just did.
        const [taken] = await this.query([
          {
            sql: `UPDATE ${LOCK_TABLE} SET owner = ?, acquired_at = ?, expires_at = ${NOW_MS} + ? WHERE owner = ? AND expires_at < ${NOW_MS}`,
            params: [owner, this.#o.now().toISOString(), ttl, row.owner],
          },
        ]);
        if (Number(taken?.meta?.changes) === 1) break;
        continue;
      }
      if (Date.now() >= deadline) {
        throw new UserError(
          'MIGRATION_LOCKED',
          `${this.#o.display}: another process (${row?.owner ?? 'unknown'}) has held the migration lock since ${row?.acquired_at ?? '?'}.`,
          {
            hint: `Wait for it to finish and run the command again. A holder that died frees the lock when it expires (${Math.round(this.#o.lockTtlMs / 1000)} s after its last renewal).`,
            details: { holder: row?.owner ?? null, since: row?.acquired_at ?? null },
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, this.#o.lockPollMs));
    }
    this.#owner = owner;
    this.#heartbeat = setInterval(
      () => {
        void this.query([
          {
            sql: `UPDATE ${LOCK_TABLE} SET expires_at = ${NOW_MS} + ? WHERE owner = ?`,
            params: [ttl, owner],
          },
        ]).catch(() => {});
      },
      Math.max(1_000, Math.floor(this.#o.lockTtlMs / 3)),
    );
    this.#heartbeat.unref();
    return async () => {
      clearInterval(this.#heartbeat);
      const guard = this.#guard();
      this.#owner = null;
      // Dropped only while still ours: a takeover's row stays with its new holder.
      await this.query([...guard, { sql: `DROP TABLE ${LOCK_TABLE}` }]).catch((error: unknown) => {
        if (!(error instanceof D1QueryError)) throw error;
      });
    };
  }

  /** One attempt: the lock table and its row, created together, or not at all. */
  async #tryLock(owner: string, ttl: string): Promise<boolean> {
    try {
      await this.query([
        {
          sql: `CREATE TABLE ${LOCK_TABLE} (owner TEXT NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL, expires_at INTEGER NOT NULL)`,
        },
        {
          sql: `INSERT INTO ${LOCK_TABLE} (owner, host, acquired_at, expires_at) VALUES (?, ?, ?, ${NOW_MS} + ?)`,
          params: [owner, os.hostname(), this.#o.now().toISOString(), ttl],
        },
      ]);
      return true;
    } catch (error) {
      if (error instanceof D1QueryError && /already exists/i.test(error.message)) return false;
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
  }
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    version: Number(row.version),
    name: String(row.name),
    sha256: String(row.sha256),
    appliedAt: String(row.applied_at),
    appliedBy: String(row.applied_by),
    durationMs: Number(row.duration_ms),
    release: row.release ?? null,
  };
}

/**
 * The remote D1 driver of an engine-d1 database: the account from `cloudflare.accountId`, then
 * CLOUDFLARE_ACCOUNT_ID, then `account_id` in the wrangler file; the token from
 * CLOUDFLARE_API_TOKEN; the API from CLOUDFLARE_API_BASE_URL when set (as wrangler).
 * @throws ProviderError `PROVIDER_AUTH` without a token; UserError `PROVIDER_CONFIG_INVALID`
 *   without an account id.
 */
export async function openRemoteD1Driver(
  database: ResolvedDatabase,
  target: { databaseId: string; file: string },
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<D1HttpMigrationDriver> {
  const d1 = database.d1;
  // CLOUDFLARE_API_TOKEN_<ENV> over CLOUDFLARE_API_TOKEN (and the same for the account id).
  const scoped = d1 ? scopedTokenEnv(env, CLOUDFLARE_CREDENTIALS, d1.environment).env : env;
  const apiToken = scoped.CLOUDFLARE_API_TOKEN;
  if (!apiToken) {
    const own = d1 ? `CLOUDFLARE_API_TOKEN_${envSuffix(d1.environment)} or ` : '';
    throw new ProviderError(
      'PROVIDER_AUTH',
      `${database.display}: remote D1 migrations need ${own}CLOUDFLARE_API_TOKEN, which is not set.`,
      {
        hint: `Export ${own}CLOUDFLARE_API_TOKEN (a Cloudflare API token with D1: Edit) and CLOUDFLARE_ACCOUNT_ID, then run the command again. To run the Worker and its D1 database on this machine instead, with no Cloudflare account, set \`cloudflare: { mode: local }\` on the service in airlock.yaml and a port for each environment.`,
      },
    );
  }
  let accountId = d1?.accountId ?? scoped.CLOUDFLARE_ACCOUNT_ID ?? null;
  if (!accountId) {
    const effective = wranglerEnvironment(readWranglerConfig(target.file), d1?.wranglerEnv ?? null);
    accountId = typeof effective.account_id === 'string' ? effective.account_id : null;
  }
  if (!accountId) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${database.display}: no Cloudflare account id for the D1 HTTP API.`,
      {
        hint: `Export CLOUDFLARE_ACCOUNT_ID, or set account_id in ${target.file} (or cloudflare.accountId in airlock.yaml).`,
      },
    );
  }
  return new D1HttpMigrationDriver({
    accountId,
    databaseId: target.databaseId,
    apiToken,
    baseUrl: env.CLOUDFLARE_API_BASE_URL || CLOUDFLARE_API_BASE_URL,
    display: database.display,
    toolLedger: toolLedgerOf(database),
  });
}
