/**
 * Migrations on Postgres (team mode: e.g. Supabase, one database per environment) through one
 * `pg.Client` session, with the same semantics as the SQLite driver:
 *
 * - **Ledger** `airlock.migrations` (postgres-ledger.ts), created by the first `applyFile`,
 *   inside that file's transaction; `readLedger` never creates it.
 * - **One transaction per file**: `BEGIN` → the file (sent as one query string) → the ledger
 *   row → `COMMIT`; `ROLLBACK` on any error. Postgres DDL is transactional, so a failing file
 *   leaves neither schema changes nor a ledger row.
 * - **`-- airlock:no-transaction`** (a comment line anywhere in the file) opts a file out:
 *   its statements are split (`splitSqlStatements`) and sent one by one, outside any
 *   transaction, then the ledger row is written. That is what `CREATE INDEX CONCURRENTLY`,
 *   `DROP INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY` and `ALTER TYPE … ADD VALUE` (before
 *   Postgres 12) need; squawk's `require-concurrent-index-creation` rule recommends building
 *   indexes on live tables that way, so writes are not blocked for the whole build. The price:
 *   **a no-transaction file that fails midway leaves its earlier statements applied** (Postgres
 *   cannot roll them back) and no ledger row; the error names the failing statement (its
 *   number and first line), so the file can be made re-runnable and applied again.
 * - **Timeouts** on the session: `lock_timeout` (default 5 s) makes a migration that waits
 *   for a lock held by live traffic fail fast instead of queueing every other query behind its
 *   `ACCESS EXCLUSIVE` request (squawk's and GitLab's advice on `lock_timeout`), and
 *   `statement_timeout` (default 60 s) bounds each statement.
 * - **A migration lock** (`lock()`): a session-level advisory lock on a fixed key
 *   (`MIGRATION_LOCK_KEY`), taken and released outside any transaction (Flyway also uses a
 *   Postgres advisory lock, polled with `pg_try_advisory_lock`). Session-level, so it holds
 *   across the per-file transactions; polled, not waited for in `pg_advisory_lock`, so a
 *   process waiting for it never sits in an open transaction that another process's
 *   `CREATE INDEX CONCURRENTLY` would have to wait for (the two would deadlock).
 * - **Interruption** (`ApplyOptions.signal`, the command's first Ctrl-C): the running statement
 *   is cancelled as psql's Ctrl-C does, with `pg_cancel_backend` from a second session (a
 *   connection of its own, so it works through a session pooler, and it says when the cancel
 *   was delivered: nothing is sent on the session before that, so a late cancel can never hit
 *   the next statement, e.g. a ledger row's). A transactional file then rolls back with its
 *   ledger row; one that ran to its end before the cancel arrived is rolled back all the same,
 *   since its COMMIT was not sent. Only a COMMIT already sent cannot be stopped: that file is
 *   applied and recorded, and `Migrator.apply` stops before the next one. A no-transaction
 *   file stops at the statement it was running (those before it stay applied, no ledger row),
 *   unless it had run every statement: then its ledger row is written, so it is never applied
 *   without one. Waiting for the migration lock stops too.
 * - **Abandoned session** (a second Ctrl-C, which exits at once; `kill -9`; a crash):
 *   `client_connection_check_interval` (Postgres 14+, where the server supports it; ignored
 *   elsewhere) is set on the session, so the server checks every
 *   `CLIENT_CHECK_INTERVAL_MS` whether Airlock is still connected while a statement runs, and
 *   cancels it once Airlock is gone; the open transaction rolls back. Without it (Postgres
 *   13 and older) the statement runs to its end or `statement_timeout`, then rolls back too,
 *   as no COMMIT comes; it holds its locks and the migration lock until then.
 *
 * The client connects on first use. Every failure is a `UserError` with a stable code.
 */

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, DatabaseError } from 'pg';
import { InternalError, UserError } from '../errors.ts';
import { redactUrl } from '../secrets/redact.ts';
import { claimPostgres, type DatabaseClaim } from './database-claim.ts';
import { NO_TRANSACTION_MARKER, parseDirectives } from './directives.ts';
import { type LedgerEntry, POSTGRES_LEDGER_TABLE } from './ledger.ts';
import {
  type ApplyMeta,
  type ApplyOptions,
  type MigrationDriver,
  stoppedBy,
} from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { shipFixedMigrationAdvice } from './migration-name.ts';
import { errorCode } from './postgres-client.ts';
import {
  ensurePostgresLedger,
  MAX_INTEGER,
  postgresLedgerExists,
  readPostgresLedger,
  recordApplied,
  refuseIfApplied,
} from './postgres-ledger.ts';
import { lineAt, type SqlStatement, splitSqlStatements } from './sql-split.ts';
import {
  type ToolLayout,
  toolLedgerColumnsQuery,
  toolLedgerRow,
  toolLedgerSetup,
} from './tool-ledgers.ts';

export interface PostgresMigrationDriverOptions {
  /**
   * `lock_timeout` of the session (ms): how long a statement may wait for a lock another
   * session holds before it fails. Default 5000. 0 waits forever (Postgres's meaning).
   */
  lockTimeoutMs?: number;
  /** `statement_timeout` of the session (ms), per statement. Default 60000. 0 = no limit. */
  statementTimeoutMs?: number;
  /**
   * How long `lock()` waits (ms) for another process holding the migration lock before it
   * fails with `MIGRATION_LOCKED`. Default 60000.
   */
  migrationLockTimeoutMs?: number;
  /** Clock for `appliedAt`. Default `() => new Date()`. */
  now?: () => Date;
  /**
   * Also record each applied file in this tool's own ledger, in the same transaction
   * (co-existence: the tool run afterwards finds nothing to do; tool-ledgers.ts). Default none.
   */
  toolLedger?: ToolLayout | null;
}

/** The line that opts a file out of its transaction (any line of the file, alone). */
export { NO_TRANSACTION_MARKER };

/**
 * True when `sql` has the line `-- airlock:no-transaction` (spaces around it allowed), as
 * `parseDirectives` reads it, so the driver and `airlock migrate lint` always agree.
 */
export function isNoTransactionMigration(sql: string): boolean {
  return parseDirectives(sql).noTransaction;
}

/**
 * The advisory-lock key of Airlock's migration lock: the first 8 bytes of
 * sha256("airlock:migrations") as a signed 64-bit integer. Stable across versions and
 * processes; advisory locks are per database, so each environment's database has its own.
 */
export const MIGRATION_LOCK_KEY: bigint = BigInt.asIntN(
  64,
  BigInt(`0x${createHash('sha256').update('airlock:migrations').digest('hex').slice(0, 16)}`),
);

const LOCK_KEY = MIGRATION_LOCK_KEY.toString();

/**
 * `client_connection_check_interval` of the session (ms): how soon the server notices that
 * Airlock went away mid-statement and cancels it (see the module comment). One `poll` per
 * interval while a statement runs, nothing while idle.
 */
export const CLIENT_CHECK_INTERVAL_MS = 1000;

/** What cancelling the running statement gave: `pg_cancel_backend`'s answer, or why it failed. */
type CancelOutcome = { delivered: boolean; error?: string };

/** Statements that open or end a transaction (not `ROLLBACK TO SAVEPOINT`). */
const TRANSACTION_CONTROL =
  /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|prepare\s+transaction)\b/i;

/**
 * A `MigrationDriver` over one Postgres database, through one session (`pg.Client`) opened on
 * first use. `url` is a `postgres://user:password@host:port/database` connection string; it
 * never appears in errors with its password.
 */
export class PostgresMigrationDriver implements MigrationDriver {
  readonly engine = 'postgres' as const;
  readonly #url: string;
  readonly #lockTimeoutMs: number;
  readonly #statementTimeoutMs: number;
  readonly #migrationLockTimeoutMs: number;
  readonly #now: () => Date;
  readonly #toolLedger: ToolLayout | null;
  /**
   * Set once a committed transaction of this driver made `airlock.migrations` exist, so later
   * files skip the check (one round trip each).
   */
  #ledgerReady = false;
  /** Likewise once its `version` is known to be `bigint` (timestamped versions). */
  #ledgerWide = false;
  /**
   * Set once a committed transaction of this driver ran the tool's ledger setup: the table's
   * columns as found then. Later files only insert their row.
   */
  #toolLedgerColumns: readonly string[] | undefined;
  #connecting: Promise<Client> | undefined;
  /** The session's backend pid (`pg_backend_pid()`, right through a pooler), to cancel it. */
  #pid: number | undefined;
  /** Set when the session broke (server restart, terminated backend): its locks are gone. */
  #broken: Error | undefined;
  #closed = false;

  constructor(url: string, options: PostgresMigrationDriverOptions = {}) {
    this.#url = url;
    this.#lockTimeoutMs = milliseconds(options.lockTimeoutMs, 5000);
    this.#statementTimeoutMs = milliseconds(options.statementTimeoutMs, 60_000);
    this.#migrationLockTimeoutMs = milliseconds(options.migrationLockTimeoutMs, 60_000);
    this.#now = options.now ?? (() => new Date());
    this.#toolLedger = options.toolLedger ?? null;
  }

  /**
   * The tool's own ledger row for `file`, in the open transaction (co-existence); the first time
   * (per driver) after the statements that make the tool's table exist and a look at its columns.
   * @returns the columns to remember once the transaction commits (undefined: no tool ledger).
   */
  async #recordInToolLedger(
    client: Client,
    file: MigrationFile,
  ): Promise<readonly string[] | undefined> {
    if (!this.#toolLedger) return undefined;
    let columns = this.#toolLedgerColumns;
    if (columns === undefined) {
      for (const s of toolLedgerSetup(this.#toolLedger, 'postgres', file)) {
        await client.query(s.sql, s.params);
      }
      const probe = toolLedgerColumnsQuery(this.#toolLedger, 'postgres');
      columns = probe
        ? (await client.query<{ name: string }>(probe.sql, probe.params)).rows.map((r) => r.name)
        : [];
    }
    for (const s of toolLedgerRow(this.#toolLedger, 'postgres', file, this.#now(), columns)) {
      await client.query(s.sql, s.params);
    }
    return columns;
  }

  /** `airlock.migrations` made to exist (and wide enough for `version`) unless known to. */
  async #ensureLedger(client: Client, version: number): Promise<void> {
    const known = version > MAX_INTEGER ? this.#ledgerWide : this.#ledgerReady;
    if (!known) await ensurePostgresLedger(client, version);
  }

  /** After `file`'s commit: what its transaction made exist stays known for later files. */
  #committed(file: MigrationFile, toolLedgerColumns: readonly string[] | undefined): void {
    this.#ledgerReady = true;
    if (file.version > MAX_INTEGER) this.#ledgerWide = true;
    this.#toolLedgerColumns ??= toolLedgerColumns;
  }

  /**
   * Every ledger row, sorted by version; `[]` when the `airlock` schema or its table does not
   * exist yet. Creates nothing.
   *
   * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the database cannot be reached.
   * @throws UserError `MIGRATION_FAILED` when Postgres refuses the read (e.g. no privilege).
   */
  async readLedger(): Promise<LedgerEntry[]> {
    const client = await this.#client();
    try {
      if (!(await postgresLedgerExists(client))) return [];
      return await readPostgresLedger(client);
    } catch (error) {
      throw this.#sessionError(error, `reading the ledger (${POSTGRES_LEDGER_TABLE})`);
    }
  }

  /**
   * Runs `file` and records it: in one transaction with its ledger row, or statement by
   * statement when it is marked `-- airlock:no-transaction` (see the module comment).
   *
   * @throws UserError `MIGRATION_FAILED` naming the file and Postgres's message (with the line
   *   and column in the file when Postgres gives a position, and for a no-transaction file the
   *   failing statement's number and first line); also for a transactional file that contains
   *   its own `BEGIN`/`COMMIT`, and when the version is already in the ledger.
   * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the database cannot be reached.
   */
  async applyFile(
    file: MigrationFile,
    meta: ApplyMeta,
    options: ApplyOptions = {},
  ): Promise<LedgerEntry> {
    const client = await this.#client();
    return isNoTransactionMigration(file.sql)
      ? this.#applyWithoutTransaction(client, file, meta, options.signal)
      : this.#applyInTransaction(client, file, meta, true, options.signal);
  }

  async recordFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    return this.#applyInTransaction(await this.#client(), file, meta, false);
  }

  /**
   * Takes the migration lock (`pg_try_advisory_lock(MIGRATION_LOCK_KEY)`, polled with backoff
   * up to 0.5 s) on this session, outside any transaction, and returns its release
   * (`pg_advisory_unlock`; a no-op when the session is gone, which released it already).
   *
   * @throws UserError `MIGRATION_LOCKED` after `migrationLockTimeoutMs`, naming the process
   *   that holds it (pid, application, since when).
   */
  async lock(options: ApplyOptions = {}): Promise<() => Promise<void>> {
    const { signal } = options;
    const client = await this.#client();
    const started = performance.now();
    for (let wait = 25; ; wait = Math.min(wait * 2, 500)) {
      if (signal?.aborted) throw lockWaitStopped(signal);
      let locked: boolean;
      try {
        const { rows } = await client.query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock($1::bigint) AS locked',
          [LOCK_KEY],
        );
        locked = rows[0]?.locked === true;
      } catch (error) {
        throw this.#sessionError(error, 'taking the migration lock');
      }
      if (locked) break;
      const left = this.#migrationLockTimeoutMs - (performance.now() - started);
      if (left <= 0) throw await this.#lockedError(client, Math.round(performance.now() - started));
      await sleep(Math.min(wait, left), undefined, signal ? { signal } : {}).catch(() => {});
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (this.#closed || this.#broken) return;
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEY]);
      } catch (error) {
        throw this.#sessionError(error, 'releasing the migration lock');
      }
    };
  }

  async claim(claim: DatabaseClaim, options: { create: boolean }): Promise<void> {
    const client = await this.#client();
    try {
      await claimPostgres(client, claim, redactUrl(this.#url), options);
    } catch (error) {
      throw this.#sessionError(error, 'reading the database claim');
    }
  }

  /** Ends the session (releasing any lock it holds). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = await this.#connecting?.catch(() => undefined);
    await client?.end().catch(() => {});
  }

  #client(): Promise<Client> {
    if (this.#closed) {
      return Promise.reject(
        new InternalError('INTERNAL', 'PostgresMigrationDriver used after close().'),
      );
    }
    this.#connecting ??= this.#connect();
    return this.#connecting;
  }

  async #connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.#url,
      application_name: 'airlock migrate',
      connectionTimeoutMillis: 10_000,
    });
    // Without a listener, a session the server ends (restart, pg_terminate_backend) would
    // crash the process; record it instead, the next query fails with a clear message.
    client.on('error', (error) => {
      this.#broken = error;
    });
    try {
      await client.connect();
      await client.query(
        `SET lock_timeout = ${this.#lockTimeoutMs}; SET statement_timeout = ${this.#statementTimeoutMs}`,
      );
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      this.#pid = rows[0]?.pid;
      // Postgres 13 and older lack it, and a server on a platform without the kernel support
      // refuses it; a failed SET outside a transaction leaves the session as it was.
      await client
        .query(`SET client_connection_check_interval = ${CLIENT_CHECK_INTERVAL_MS}`)
        .catch(() => {});
      return client;
    } catch (error) {
      this.#connecting = undefined;
      await client.end().catch(() => {});
      const where = redactUrl(this.#url);
      const message = error instanceof Error ? error.message : String(error);
      throw new UserError(
        'MIGRATION_DATABASE_UNREACHABLE',
        `Cannot connect to Postgres at ${where}: ${message || (error as { code?: string }).code || 'connection failed'}.`,
        {
          hint: `Check that the database is up and that its URL (host, port, database, user, password) is right, e.g. with \`psql "<url>" -c 'select 1'\`; then run \`airlock migrate status\`.`,
          details: { url: where, postgresCode: errorCode(error) },
          cause: error,
        },
      );
    }
  }

  /**
   * An error of the session outside a migration file: a lost connection is
   * `MIGRATION_DATABASE_UNREACHABLE`; an error Postgres reports (e.g. no privilege on schema
   * `airlock`) is `MIGRATION_FAILED`.
   */
  #sessionError(error: unknown, doing: string): UserError {
    if (error instanceof UserError) return error;
    const where = redactUrl(this.#url);
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof DatabaseError) {
      return new UserError(
        'MIGRATION_FAILED',
        `Postgres at ${where} refused ${doing}: ${message}`,
        {
          hint: 'Fix what Postgres names (often the privileges of the database user), then run `airlock migrate status` again.',
          details: { url: where, postgresCode: error.code ?? null },
          cause: error,
        },
      );
    }
    return new UserError(
      'MIGRATION_DATABASE_UNREACHABLE',
      `Lost the connection to Postgres at ${where} while ${doing}: ${message}`,
      {
        hint: 'Check that the database is up, then run `airlock migrate status` to see what was applied.',
        details: { url: where },
        cause: error,
      },
    );
  }

  /** With `run` false, `recordFile`: the ledger rows without the SQL. */
  async #applyInTransaction(
    client: Client,
    file: MigrationFile,
    meta: ApplyMeta,
    run = true,
    signal?: AbortSignal,
  ): Promise<LedgerEntry> {
    const control = splitSqlStatements(file.sql).find((s) => TRANSACTION_CONTROL.test(s.text));
    if (control && run) {
      throw new UserError(
        'MIGRATION_FAILED',
        `Migration ${file.path} controls its own transaction (line ${control.line}: ${firstLine(control)}), but Airlock already runs each migration in one transaction together with its ledger row.`,
        {
          hint: `Remove the BEGIN/COMMIT statements from ${file.filename}. If it must run outside a transaction (e.g. CREATE INDEX CONCURRENTLY), add the line \`${NO_TRANSACTION_MARKER}\` to it instead.`,
          details: { file: file.path, version: file.version, line: control.line },
        },
      );
    }
    try {
      await client.query('BEGIN');
      await this.#ensureLedger(client, file.version);
      await refuseIfApplied(client, file);
      const started = performance.now();
      let cancel: CancelOutcome | undefined;
      try {
        if (signal?.aborted) throw cancelledInTransaction(file, signal);
        if (run) cancel = await this.#cancellable(signal, () => client.query(file.sql));
      } catch (error) {
        if (signal?.aborted && !(error instanceof UserError) && errorCode(error) === '57014')
          throw cancelledInTransaction(file, signal, error);
        throw error instanceof UserError ? error : this.#failed(file, error, { in: 'transaction' });
      }
      const entry = this.#entry(file, meta, run ? performance.now() - started : 0);
      await recordApplied(client, file, entry);
      const columns = await this.#recordInToolLedger(client, file);
      // Stopped after the file ran to its end (before the cancel arrived), but before its
      // COMMIT: rolled back all the same. A COMMIT once sent is not interrupted.
      if (signal?.aborted) throw cancelledInTransaction(file, signal, undefined, cancel);
      await client.query('COMMIT');
      this.#committed(file, columns);
      return entry;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (error instanceof UserError) throw error;
      throw this.#failed(file, error, { in: 'transaction' });
    }
  }

  async #applyWithoutTransaction(
    client: Client,
    file: MigrationFile,
    meta: ApplyMeta,
    signal?: AbortSignal,
  ): Promise<LedgerEntry> {
    if (this.#ledgerReady || (await postgresLedgerExists(client))) {
      await refuseIfApplied(client, file);
    }
    const statements = splitSqlStatements(file.sql);
    const started = performance.now();
    for (const [index, statement] of statements.entries()) {
      // Stopped between statements: the next one does not start.
      if (signal?.aborted) throw this.#stoppedWithoutTransaction(file, signal, statements, index);
      try {
        await this.#cancellable(signal, () => client.query(statement.text));
      } catch (error) {
        // A statement of the file may have opened a transaction; do not leave it open.
        await client.query('ROLLBACK').catch(() => {});
        if (signal?.aborted && errorCode(error) === '57014')
          throw this.#stoppedWithoutTransaction(file, signal, statements, index, error);
        throw this.#failed(file, error, { in: 'statement', statements, index });
      }
    }
    // Every statement ran (even if the signal came meanwhile): the ledger row must follow.
    const entry = this.#entry(file, meta, performance.now() - started);
    try {
      await client.query('BEGIN');
      await this.#ensureLedger(client, file.version);
      await refuseIfApplied(client, file);
      await recordApplied(client, file, entry);
      const columns = await this.#recordInToolLedger(client, file);
      await client.query('COMMIT');
      this.#committed(file, columns);
      return entry;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      const message = error instanceof Error ? error.message : String(error);
      throw new UserError(
        'MIGRATION_FAILED',
        `Migration ${file.path} ran (without a transaction), but its ledger row could not be written: ${message}`,
        {
          hint: `Its statements are applied. Check the database (\`airlock migrate status\`); once the cause is fixed, \`airlock migrate apply\` runs ${file.filename} again, so make sure it can run twice (IF NOT EXISTS).`,
          details: { file: file.path, version: file.version, postgresCode: errorCode(error) },
          cause: error,
        },
      );
    }
  }

  /**
   * Runs `query`; when `signal` aborts meanwhile, cancels the statement running on the session
   * (`#cancelBackend`) and, whatever `query` gives, returns or throws only once that cancel has
   * been delivered (or has failed), so it cannot hit a statement sent after it.
   * @returns how the cancel went, when there was one.
   */
  async #cancellable(
    signal: AbortSignal | undefined,
    query: () => Promise<unknown>,
  ): Promise<CancelOutcome | undefined> {
    if (!signal) {
      await query();
      return undefined;
    }
    let cancelling: Promise<CancelOutcome> | undefined;
    const onAbort = () => {
      cancelling = this.#cancelBackend();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let failure: { error: unknown } | undefined;
    try {
      await query();
    } catch (error) {
      failure = { error };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    const cancel = await cancelling;
    if (failure) throw failure.error;
    return cancel;
  }

  /**
   * `pg_cancel_backend` of this driver's session, from a short second session: the statement
   * it runs stops with SQLSTATE 57014 (a session idle between statements ignores it). Never
   * throws: a cancel that cannot be sent leaves the statement to run to its end.
   */
  async #cancelBackend(): Promise<CancelOutcome> {
    const pid = this.#pid;
    if (pid === undefined) return { delivered: false, error: 'the session has no backend pid' };
    const canceller = new Client({
      connectionString: this.#url,
      application_name: 'airlock migrate (cancel)',
      connectionTimeoutMillis: 5000,
    });
    canceller.on('error', () => {});
    try {
      await canceller.connect();
      const { rows } = await canceller.query<{ delivered: boolean }>(
        'SELECT pg_cancel_backend($1) AS delivered',
        [pid],
      );
      return { delivered: rows[0]?.delivered === true };
    } catch (error) {
      return { delivered: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      await canceller.end().catch(() => {});
    }
  }

  /**
   * A no-transaction file stopped by `signal` at statement `index` (cancelled while it ran,
   * with Postgres's `error`; or before it started): what stays applied, and no ledger row.
   */
  #stoppedWithoutTransaction(
    file: MigrationFile,
    signal: AbortSignal,
    statements: SqlStatement[],
    index: number,
    error?: unknown,
  ): UserError {
    const statement = statements[index]!;
    const kept =
      index === 0
        ? 'no statement of it ran to its end'
        : index === 1
          ? 'its first statement stays applied'
          : `its first ${index} statements stay applied`;
    const hints = [
      `${file.filename} is marked ${NO_TRANSACTION_MARKER}, so what ran of it cannot be rolled back: ${kept}, and no ledger row was written.`,
    ];
    if (error && /^create\s+(?:unique\s+)?index\s+concurrently\b/i.test(statement.text)) {
      hints.push(
        'A cancelled CREATE INDEX CONCURRENTLY leaves an INVALID index behind: drop it (DROP INDEX CONCURRENTLY IF EXISTS …) before running the file again, or IF NOT EXISTS will keep the invalid one.',
      );
    }
    hints.push(
      `The file runs again from its first statement with the next deployment or \`airlock migrate apply\`: make sure it can (IF NOT EXISTS / IF EXISTS).`,
    );
    return new UserError(
      'MIGRATION_FAILED',
      `Migration ${file.path} was ${error ? 'cancelled' : 'stopped'} ${stoppedBy(signal)} at statement ${index + 1} of ${statements.length} (line ${statement.line}: ${firstLine(statement)})${error ? '' : ', before it started'}.`,
      {
        hint: hints.join(' '),
        details: {
          file: file.path,
          version: file.version,
          cancelled: true,
          postgresCode: errorCode(error),
          line: statement.line,
          statement: index + 1,
          statements: statements.length,
          appliedStatements: index,
        },
        ...(error ? { cause: error } : {}),
      },
    );
  }

  #entry(file: MigrationFile, meta: ApplyMeta, durationMs: number): LedgerEntry {
    return {
      version: file.version,
      name: file.name,
      sha256: file.sha256,
      appliedAt: this.#now().toISOString(),
      appliedBy: meta.appliedBy,
      durationMs: Math.round(durationMs),
      release: meta.release,
    };
  }

  /** The `MIGRATION_FAILED` error for Postgres's `error` while running (part of) `file`. */
  #failed(
    file: MigrationFile,
    error: unknown,
    where: { in: 'transaction' } | { in: 'statement'; statements: SqlStatement[]; index: number },
  ): UserError {
    const pg = error instanceof DatabaseError ? error : undefined;
    const message = error instanceof Error ? error.message : String(error);
    const postgres = `${message}${pg?.detail ? ` (${pg.detail})` : ''}`;
    const statement = where.in === 'statement' ? where.statements[where.index] : undefined;
    const at = pg?.position
      ? positionIn(file.sql, statement?.offset ?? 0, statement?.text ?? file.sql, pg.position)
      : undefined;
    const hints: string[] = [];
    if (pg?.code === '25001') {
      hints.push(
        `This statement cannot run inside a transaction. Put it in a migration of its own containing the line \`${NO_TRANSACTION_MARKER}\`, which runs its statements one by one without a transaction.`,
      );
    } else if (pg?.code === '55P03') {
      hints.push(
        `Another session holds a lock this migration needs, and Airlock gives up after lock_timeout (${this.#lockTimeoutMs} ms) rather than queue every other query behind it. Open transactions, oldest first: \`SELECT pid, xact_start, state, query FROM pg_stat_activity WHERE xact_start IS NOT NULL ORDER BY xact_start\`. Retry when the holder is done, or raise the lock timeout.`,
      );
    } else if (pg?.code === '57014') {
      hints.push(
        `The statement was cancelled; statement_timeout is ${this.#statementTimeoutMs} ms. Make it faster (e.g. in batches) or raise the statement timeout.`,
      );
    }
    if (pg?.hint) hints.push(`Postgres: ${pg.hint}`);
    const details: Record<string, unknown> = {
      file: file.path,
      version: file.version,
      postgresCode: pg?.code ?? null,
      postgresMessage: message,
      ...(at ? { line: at.line, column: at.column } : {}),
    };
    if (!statement) {
      return new UserError(
        'MIGRATION_FAILED',
        `Migration ${file.path} failed${at ? ` at line ${at.line}, column ${at.column}` : ''}: ${postgres}`,
        {
          hint: [
            ...hints,
            `Nothing from ${file.filename} was kept (it ran in one transaction with its ledger row, now rolled back). Fix ${file.filename}, then ${shipFixedMigrationAdvice()}.`,
          ].join(' '),
          details,
          cause: error,
        },
      );
    }
    const total = where.in === 'statement' ? where.statements.length : 0;
    const done = where.in === 'statement' ? where.index : 0;
    if (/^create\s+(?:unique\s+)?index\s+concurrently\b/i.test(statement.text)) {
      hints.push(
        'A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind: drop it (DROP INDEX CONCURRENTLY IF EXISTS …) before running the file again.',
      );
    }
    return new UserError(
      'MIGRATION_FAILED',
      `Migration ${file.path} failed at statement ${done + 1} of ${total} (line ${statement.line}: ${firstLine(statement)})${at ? `, at line ${at.line}, column ${at.column}` : ''}: ${postgres}`,
      {
        hint: [
          ...hints,
          `${file.filename} is marked ${NO_TRANSACTION_MARKER}, so Postgres could not roll it back: ${done === 0 ? 'no earlier statement ran' : done === 1 ? 'its first statement stays applied' : `its first ${done} statements stay applied`}, and no ledger row was written. Make the file safe to run again (IF NOT EXISTS / IF EXISTS), then ${shipFixedMigrationAdvice()}.`,
        ].join(' '),
        details: {
          line: statement.line,
          ...details,
          statement: done + 1,
          statements: total,
          appliedStatements: done,
        },
        cause: error,
      },
    );
  }

  /** `MIGRATION_LOCKED`, naming the session that holds the lock when Postgres shows it. */
  async #lockedError(client: Client, waitedMs: number): Promise<UserError> {
    const key = BigInt.asUintN(64, MIGRATION_LOCK_KEY);
    let holder: { pid: number; application_name: string; backend_start: Date | null } | undefined;
    try {
      const { rows } = await client.query<NonNullable<typeof holder>>(
        `SELECT a.pid, a.application_name, a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid = $1::oid AND l.objid = $2::oid
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [String(key >> 32n), String(key & 0xffffffffn)],
      );
      holder = rows[0];
    } catch {
      // Best effort: the error below is still right without the holder's name.
    }
    const who = holder
      ? ` (pid ${holder.pid}${holder.application_name ? `, "${holder.application_name}"` : ''}${holder.backend_start ? `, connected since ${holder.backend_start.toISOString()}` : ''})`
      : '';
    return new UserError(
      'MIGRATION_LOCKED',
      `Another process${who} is migrating ${redactUrl(this.#url)}: it has held Airlock's migration lock for the ${waitedMs} ms this one waited.`,
      {
        hint: `Wait for it to finish, then run \`airlock migrate status\` and \`airlock migrate apply\` again.${holder ? ` If it is stuck, end it with \`SELECT pg_terminate_backend(${holder.pid})\`.` : ''}`,
        details: { url: redactUrl(this.#url), waitedMs, holderPid: holder?.pid ?? null },
      },
    );
  }
}

/**
 * Line and column (1-based) in `script` of Postgres's error `position` (1-based, counted in
 * characters) within `text`, which starts at `offset` of `script`.
 */
function positionIn(
  script: string,
  offset: number,
  text: string,
  position: string,
): { line: number; column: number } | undefined {
  const chars = Number(position);
  if (!Number.isInteger(chars) || chars < 1) return undefined;
  let index = 0; // UTF-16 index in `text` of the `chars`-th character
  for (let c = 1; c < chars && index < text.length; c++) {
    index += (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
  }
  const absolute = offset + index;
  const lineStart = script.lastIndexOf('\n', absolute - 1) + 1;
  return {
    line: lineAt(script, absolute),
    column: [...script.slice(lineStart, absolute)].length + 1,
  };
}

/**
 * A transactional file stopped by `signal`: cancelled while it ran (Postgres's `error`), or
 * rolled back before its COMMIT was sent (`cancel`: how the cancel went, when one was sent).
 * Nothing of it was kept.
 */
function cancelledInTransaction(
  file: MigrationFile,
  signal: AbortSignal,
  error?: unknown,
  cancel?: CancelOutcome,
): UserError {
  const late =
    cancel && !cancel.delivered && cancel.error
      ? ` (the cancel could not be sent: ${cancel.error}; the file ran to its end first)`
      : '';
  return new UserError(
    'MIGRATION_FAILED',
    `Migration ${file.path} was cancelled ${stoppedBy(signal)}: nothing of ${file.filename} was applied${late}.`,
    {
      hint: `It ran in one transaction with its ledger row, now rolled back, so ${file.filename} is still pending: it runs with the next deployment or \`airlock migrate apply\`.`,
      details: {
        file: file.path,
        version: file.version,
        cancelled: true,
        postgresCode: errorCode(error),
      },
      ...(error ? { cause: error } : {}),
    },
  );
}

/** Waiting for the migration lock, stopped by `signal`: nothing ran. */
function lockWaitStopped(signal: AbortSignal): UserError {
  return new UserError(
    'MIGRATION_FAILED',
    `Migrations stopped ${stoppedBy(signal)} while waiting for the migration lock: no migration ran.`,
    {
      hint: 'The pending files run with the next deployment or `airlock migrate apply`.',
      details: { cancelled: true },
    },
  );
}

function firstLine(statement: SqlStatement): string {
  const line = statement.text.split('\n', 1)[0]!.trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

function milliseconds(value: number | undefined, fallback: number): number {
  return Math.max(0, Math.trunc(value ?? fallback));
}
