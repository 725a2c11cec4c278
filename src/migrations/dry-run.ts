/**
 * `airlock migrate apply --dry-run`: runs an environment's pending migrations on a **throwaway
 * copy of its schema** and reports what would apply and what would fail, touching nothing of
 * the environment (its schema, data and ledger stay as they were).
 *
 * - **SQLite**: the database file is copied with `VACUUM INTO` (a consistent snapshot, also of
 *   a WAL database whose latest commits are still in its `-wal` file, which a raw `cp` would
 *   miss or tear) through a read-only connection, into a temporary folder; the real `Migrator`
 *   and `SqliteMigrationDriver` run on the copy; the folder is deleted. The copy carries the
 *   data too, so a migration a row would break (a `NOT NULL` column without default on a
 *   non-empty table, a `UNIQUE` index over duplicates) fails as it would for real.
 * - **Postgres**: a temporary database `airlock_scratch_<pid>_<hex>` is created on the same
 *   server and filled from a **schema-only dump** of the environment's database (`pg_dump
 *   --schema-only --no-owner --no-privileges | psql -v ON_ERROR_STOP=1 --single-transaction`),
 *   plus the rows of Airlock's ledger (`airlock.migrations`: schema and data, so pending is
 *   computed the same); the real `Migrator` and `PostgresMigrationDriver` run on it; then
 *   `DROP DATABASE … WITH (FORCE)`. The database's own settings (`ALTER DATABASE … SET
 *   search_path …`), which a dump leaves out, are copied from its catalog first
 *   (platform-shape.ts). Schema only: a migration that only fails because of
 *   existing rows passes here (a data copy of production is not something a dry run should
 *   make). `pg_dump` and `psql` must be on PATH (Debian/Ubuntu package `postgresql-client`),
 *   and not older than the server. The password never appears on a command line (it is passed
 *   in `PGPASSWORD`) nor in any message.
 *
 * The scratch copies are made by scratch-database.ts.
 */

import { type AirlockError, type ErrorCode, toAirlockError } from '../errors.ts';
import { redactUrl } from '../secrets/redact.ts';
import type { LedgerEntry } from './ledger.ts';
import type { DatabaseLocation } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { type MigrateOptions, Migrator, planMigrations } from './migrator.ts';
import { applyPlatformShape, readPlatformShape } from './platform-shape.ts';
import { withClient } from './postgres-client.ts';
import { insertPostgresLedgerRow } from './postgres-ledger.ts';
import { PostgresMigrationDriver } from './postgres-migration-driver.ts';
import {
  copyPostgresSchema,
  createScratchPostgresDatabase,
  withSqliteCopy,
} from './scratch-database.ts';
import { SqliteMigrationDriver } from './sqlite-migration-driver.ts';

export interface DryRunOptions {
  /** Recorded in the scratch ledger rows (`appliedBy`). Default `airlock dry run`. */
  appliedBy?: string;
  /** Recorded in the scratch ledger rows. Default null. */
  release?: string | null;
  /** Called before and after each file, as `Migrator.apply` does. */
  onProgress?: MigrateOptions['onProgress'];
  /**
   * Postgres: copy only these schemas (`pg_dump --schema=…` each; Airlock's `airlock` schema
   * is always added). Default: every schema. Useful when the database has schemas `psql`
   * cannot recreate elsewhere (e.g. Supabase's `auth`, `storage`).
   */
  schemas?: string[];
  /** SQLite: folder for the temporary copy. Default the OS temp folder. */
  tmpDir?: string;
  /** Postgres: the `pg_dump` and `psql` executables. Default from PATH. */
  pgDump?: string;
  psql?: string;
}

/** What would happen. Plain data (JSON-serialisable for `--json`). */
export interface DryRunResult {
  /** File names the environment's ledger has not run, in order: what `apply` would run. */
  pending: string[];
  /**
   * The ledger rows the replay wrote on the scratch copy, in order: every pending file when
   * `failed` is null, else the files before the failing one.
   */
  applied: LedgerEntry[];
  /**
   * The first failure, or null when every pending file applied. `file` is the failing file's
   * path (or the ledger's name for a missing file); `code` is what `apply` would throw
   * (`MIGRATION_FAILED`, `MIGRATION_CHECKSUM_MISMATCH`, `MIGRATION_MISSING_FILE`, …).
   */
  failed: { file: string; message: string; code: ErrorCode; hint: string | null } | null;
  /** Wall time of the whole dry run, copy and clean-up included (ms). */
  durationMs: number;
  /** What the replay ran on (a temporary file or database, gone now); never a password. */
  scratch: string;
}

/**
 * Replays the pending `files` (per `database`'s ledger) on a throwaway copy of `database` and
 * reports what would apply and what would fail. Never changes `database`.
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` when the copy cannot be made (for Postgres:
 *   `pg_dump`/`psql` missing or failing, no right to `CREATE DATABASE`).
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the environment's Postgres cannot be
 *   reached.
 */
export async function dryRunMigrations(
  database: DatabaseLocation,
  files: MigrationFile[],
  options: DryRunOptions = {},
): Promise<DryRunResult> {
  const started = performance.now();
  const run = database.engine === 'postgres' ? dryRunPostgres : dryRunSqlite;
  const result = await run(database.url, files, options);
  return { ...result, durationMs: Math.round(performance.now() - started) };
}

type Replay = Omit<DryRunResult, 'durationMs'>;

async function dryRunSqlite(
  url: string,
  files: MigrationFile[],
  options: DryRunOptions,
): Promise<Replay> {
  return withSqliteCopy(
    url,
    async (copy) => {
      const driver = new SqliteMigrationDriver(copy);
      try {
        return { ...(await replay(driver, files, options)), scratch: copy };
      } finally {
        await driver.close();
      }
    },
    { tmpDir: options.tmpDir },
  );
}

async function dryRunPostgres(
  url: string,
  files: MigrationFile[],
  options: DryRunOptions,
): Promise<Replay> {
  const source = new PostgresMigrationDriver(url);
  let ledger: LedgerEntry[];
  try {
    ledger = await source.readLedger();
  } finally {
    await source.close();
  }
  const scratch = await createScratchPostgresDatabase(url);
  try {
    // pg_dump copies the schemas and extensions, not the database's own settings (ALTER
    // DATABASE … SET search_path …), which the migrations may rely on: copied from the catalog.
    const shape = await readPlatformShape(url, files);
    await applyPlatformShape(url, scratch, { ...shape, schemas: [], extensions: [] });
    await copyPostgresSchema(url, scratch.url, options);
    await insertPostgresLedger(scratch.url, ledger);
    const driver = new PostgresMigrationDriver(scratch.url);
    try {
      return { ...(await replay(driver, files, options)), scratch: redactUrl(scratch.url) };
    } finally {
      await driver.close();
    }
  } finally {
    await scratch.drop();
  }
}

/** Runs the real Migrator on a scratch copy and turns its outcome into data. */
async function replay(
  driver: SqliteMigrationDriver | PostgresMigrationDriver,
  files: MigrationFile[],
  options: DryRunOptions,
): Promise<Omit<Replay, 'scratch'>> {
  const pending = planMigrations(files, await driver.readLedger()).pending.map((f) => f.filename);
  const migrator = new Migrator(driver, files);
  try {
    const result = await migrator.apply({
      appliedBy: options.appliedBy ?? 'airlock dry run',
      release: options.release ?? null,
      onProgress: options.onProgress,
    });
    return { pending, applied: result.applied, failed: null };
  } catch (error) {
    const airlockError: AirlockError = toAirlockError(error);
    if (
      airlockError.code === 'MIGRATION_DATABASE_UNREACHABLE' ||
      airlockError.code === 'INTERNAL'
    ) {
      throw airlockError; // the scratch database broke: not something the migrations did
    }
    const details = airlockError.details;
    return {
      pending,
      applied: Array.isArray(details.applied) ? (details.applied as LedgerEntry[]) : [],
      failed: {
        file: typeof details.file === 'string' ? details.file : '',
        message: airlockError.message,
        code: airlockError.code,
        hint: airlockError.hint ?? null,
      },
    };
  }
}

/** Inserts ledger rows into `airlock.migrations` of the database at `url` (table must exist). */
async function insertPostgresLedger(url: string, ledger: LedgerEntry[]): Promise<void> {
  if (ledger.length === 0) return;
  await withClient(url, async (client) => {
    for (const e of ledger) await insertPostgresLedgerRow(client, e);
  });
}
