/**
 * Migrations on a SQLite file through `node:sqlite`. Each file runs inside `BEGIN IMMEDIATE`
 * (the write lock is taken up front, so two Airlock processes migrating one file serialise on
 * SQLite's lock instead of interleaving) together with its row in `airlock_migrations`.
 * SQLite's DDL is transactional, so a failing file leaves no trace at all.
 *
 * It has no `lock()`: `BEGIN IMMEDIATE` plus the ledger check inside it already make running
 * a file twice impossible (a process that planned too early stops with "already applied"), and
 * a lock held across files would need a second lock file beside every database.
 *
 * Ctrl-C cannot stop a file midway (it ignores `ApplyOptions.signal`): `node:sqlite` runs the
 * file synchronously on the only JavaScript thread, so the signal handler runs only once the
 * file has committed (or failed), and `Migrator.apply` then stops before the next file. Until
 * then even a second Ctrl-C is not seen: both presses arrive together once the file is done,
 * and count as one. A long statement (a big UPDATE, an index on a big table) runs to its end;
 * only `kill -9` stops it sooner, and SQLite then keeps nothing of the file nor its ledger row
 * (its transaction never committed). Local D1 databases go through this driver too (on the file
 * wrangler dev keeps), not through wrangler.
 */

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { claimSqlite, type DatabaseClaim } from './database-claim.ts';
import { LEDGER_TABLE, type LedgerEntry } from './ledger.ts';
import type { ApplyMeta, MigrationDriver } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { shipFixedMigrationAdvice } from './migration-name.ts';
import {
  type ToolLayout,
  toolLedgerColumnsQuery,
  toolLedgerRow,
  toolLedgerSetup,
} from './tool-ledgers.ts';

export interface SqliteMigrationDriverOptions {
  /** How long (ms) to wait for another connection's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** Clock for `appliedAt`. Default `() => new Date()`. */
  now?: () => Date;
  /**
   * Also record each applied file in this tool's own ledger, in the same transaction
   * (co-existence: the tool run afterwards finds nothing to do; tool-ledgers.ts). Default none.
   */
  toolLedger?: ToolLayout | null;
}

/**
 * The ledger table's DDL (also used by adopt-ledger-rows.ts and the D1 HTTP driver, which write
 * rows without this driver).
 */
export const CREATE_SQLITE_LEDGER = `CREATE TABLE IF NOT EXISTS ${LEDGER_TABLE} (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  applied_by TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  release TEXT
)`;

interface LedgerRow {
  version: number;
  name: string;
  sha256: string;
  applied_at: string;
  applied_by: string;
  duration_ms: number;
  release: string | null;
}

/**
 * Turns a database location into a file path: a `file:` URL (`file:///abs/notes.db`, as in
 * `DATABASE_URL`), a `sqlite:` prefixed path, or a plain path (relative to the cwd).
 */
export function sqlitePathFromUrl(location: string): string {
  if (location === ':memory:') return location;
  if (location.startsWith('file:')) return fileURLToPath(location);
  if (location.startsWith('sqlite:')) return resolve(location.slice('sqlite:'.length));
  return resolve(location);
}

/**
 * A `MigrationDriver` over one SQLite database file. The constructor opens (creating the file
 * and its parent directories) the database, turns on WAL and sets `busy_timeout`.
 * `location` is a path or a `file:` URL (see `sqlitePathFromUrl`).
 */
export class SqliteMigrationDriver implements MigrationDriver {
  readonly engine = 'sqlite' as const;
  /** Absolute path of the database file. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #now: () => Date;
  readonly #toolLedger: ToolLayout | null;
  /**
   * Set once a committed transaction of this driver ran the tool's ledger setup: the table's
   * columns as found then. Later files only insert their row.
   */
  #toolLedgerColumns: readonly string[] | undefined;
  #closed = false;

  constructor(location: string, options: SqliteMigrationDriverOptions = {}) {
    this.path = sqlitePathFromUrl(location);
    if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
    this.#db = new DatabaseSync(this.path);
    this.#db.exec(
      `PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`,
    );
    this.#toolLedger = options.toolLedger ?? null;
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#now = options.now ?? (() => new Date());
  }

  async claim(claim: DatabaseClaim, options: { create: boolean }): Promise<void> {
    const db = this.#db;
    await claimSqlite(
      async (sql, params = []) => db.prepare(sql).all(...params) as Record<string, unknown>[],
      claim,
      this.path,
      options,
    );
  }

  async readLedger(): Promise<LedgerEntry[]> {
    const exists = this.#db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(LEDGER_TABLE);
    if (!exists) return [];
    const rows = this.#db
      .prepare(`SELECT * FROM ${LEDGER_TABLE} ORDER BY version`)
      .all() as unknown as LedgerRow[];
    return rows.map(toEntry);
  }

  async applyFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    return this.#apply(file, meta, true);
  }

  async recordFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry> {
    return this.#apply(file, meta, false);
  }

  /** `applyFile`, or with `run` false `recordFile`: the ledger rows without the SQL. */
  #apply(file: MigrationFile, meta: ApplyMeta, run: boolean): LedgerEntry {
    const db = this.#db;
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw failed(file, error, 'could not take the write lock');
    }
    try {
      db.exec(CREATE_SQLITE_LEDGER);
      const already = db
        .prepare(`SELECT * FROM ${LEDGER_TABLE} WHERE version = ?`)
        .get(file.version) as unknown as LedgerRow | undefined;
      if (already) {
        throw new UserError(
          'MIGRATION_FAILED',
          `Migration ${file.path} was already applied (by ${already.applied_by} at ${already.applied_at}); another process got there first.`,
          {
            hint: 'Run `airlock migrate status` to see the ledger, then `airlock migrate apply` again.',
            details: { file: file.path, version: file.version },
          },
        );
      }
      const started = performance.now();
      if (run) db.exec(file.sql);
      const durationMs = run ? Math.round(performance.now() - started) : 0;
      const entry: LedgerEntry = {
        version: file.version,
        name: file.name,
        sha256: file.sha256,
        appliedAt: this.#now().toISOString(),
        appliedBy: meta.appliedBy,
        durationMs,
        release: meta.release,
      };
      db.prepare(
        `INSERT INTO ${LEDGER_TABLE} (version, name, sha256, applied_at, applied_by, duration_ms, release) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        entry.version,
        entry.name,
        entry.sha256,
        entry.appliedAt,
        entry.appliedBy,
        entry.durationMs,
        entry.release,
      );
      const columns = this.#recordInToolLedger(file);
      db.exec('COMMIT');
      this.#toolLedgerColumns ??= columns;
      return entry;
    } catch (error) {
      // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
      if (db.isTransaction) db.exec('ROLLBACK');
      if (error instanceof UserError) throw error;
      throw failed(file, error);
    }
  }

  /**
   * The tool's own ledger row for `file`, in the open transaction (co-existence); the first time
   * (per driver) after the statements that make the tool's table exist and a look at its columns.
   * @returns the columns to remember once the transaction commits (undefined: no tool ledger).
   */
  #recordInToolLedger(file: MigrationFile): readonly string[] | undefined {
    if (!this.#toolLedger) return undefined;
    let columns = this.#toolLedgerColumns;
    if (columns === undefined) {
      for (const s of toolLedgerSetup(this.#toolLedger, 'sqlite', file)) {
        this.#db.prepare(s.sql).run(...s.params);
      }
      const probe = toolLedgerColumnsQuery(this.#toolLedger, 'sqlite');
      columns = probe
        ? (this.#db.prepare(probe.sql).all(...probe.params) as Array<{ name: string }>).map(
            (r) => r.name,
          )
        : [];
    }
    for (const s of toolLedgerRow(this.#toolLedger, 'sqlite', file, this.#now(), columns)) {
      this.#db.prepare(s.sql).run(...s.params);
    }
    return columns;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    version: Number(row.version),
    name: row.name,
    sha256: row.sha256,
    appliedAt: row.applied_at,
    appliedBy: row.applied_by,
    durationMs: Number(row.duration_ms),
    release: row.release ?? null,
  };
}

function failed(file: MigrationFile, error: unknown, what?: string): UserError {
  const message = error instanceof Error ? error.message : String(error);
  return new UserError(
    'MIGRATION_FAILED',
    `Migration ${file.path} failed${what ? ` (${what})` : ''}: ${message}`,
    {
      hint: `Nothing from ${file.filename} was kept (it ran in one transaction, now rolled back). Fix the SQL in ${file.filename}, then ${shipFixedMigrationAdvice()}.`,
      details: { file: file.path, version: file.version, sqliteMessage: message },
      cause: error,
    },
  );
}
