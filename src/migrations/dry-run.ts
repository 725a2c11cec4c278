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
 *   `DROP DATABASE … WITH (FORCE)`. Schema only: a migration that only fails because of
 *   existing rows passes here (a data copy of production is not something a dry run should
 *   make). `pg_dump` and `psql` must be on PATH (Debian/Ubuntu package `postgresql-client`),
 *   and not older than the server. The password never appears on a command line (it is passed
 *   in `PGPASSWORD`) nor in any message.
 *
 * The scratch helpers here (`withSqliteCopy`, `createScratchPostgresDatabase`,
 * `copyPostgresSchema`) are shared with drift detection and ledger adoption, which replay
 * migrations on scratch databases too.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client } from 'pg';
import { type AirlockError, type ErrorCode, toAirlockError, UserError } from '../errors.ts';
import { type LedgerEntry, POSTGRES_LEDGER_TABLE } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import { type MigrateOptions, Migrator, planMigrations } from './migrator.ts';
import { PostgresMigrationDriver, redactUrl } from './postgres-migration-driver.ts';
import { SqliteMigrationDriver, sqlitePathFromUrl } from './sqlite-migration-driver.ts';

/**
 * Where an environment's database is: a SQLite file (`file:` URL or path) or a Postgres
 * connection string. A `ResolvedDatabase` from the config fits.
 */
export interface DatabaseLocation {
  engine: 'sqlite' | 'postgres';
  url: string;
}

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

// ---------------------------------------------------------------------------------------------
// SQLite scratch copies

/**
 * Runs `fn` with the path of a temporary copy of the SQLite database at `url` (a path or
 * `file:` URL), made with `VACUUM INTO` through a read-only connection; the copy's folder is
 * deleted afterwards, whatever `fn` does. A database file that does not exist yet gives an
 * empty copy (and is not created). `VACUUM INTO` writes no journal on the source; opening a
 * WAL database read-only may leave an empty `-wal` and its `-shm` index beside it, as any
 * reader does.
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` when the file cannot be read or copied.
 */
export async function withSqliteCopy<T>(
  url: string,
  fn: (copyPath: string) => Promise<T>,
  options: { tmpDir?: string } = {},
): Promise<T> {
  const source = sqlitePathFromUrl(url);
  const folder = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'airlock-scratch-'));
  try {
    const copy = join(folder, source === ':memory:' ? 'memory.db' : basename(source));
    if (source !== ':memory:' && existsSync(source)) {
      let db: DatabaseSync | undefined;
      try {
        db = new DatabaseSync(source, { readOnly: true });
        db.exec('PRAGMA busy_timeout = 5000');
        db.prepare('VACUUM INTO ?').run(copy);
      } catch (error) {
        throw new UserError(
          'MIGRATION_SCRATCH_FAILED',
          `Could not copy ${source} for a scratch run: ${(error as Error).message}`,
          {
            hint: `Check that ${source} is a readable SQLite database and that ${options.tmpDir ?? tmpdir()} has room for a copy.`,
            details: { database: source },
            cause: error,
          },
        );
      } finally {
        db?.close();
      }
    }
    return await fn(copy);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres scratch databases

/** A temporary database; `drop()` removes it (idempotent). */
export interface ScratchDatabase {
  /** e.g. `airlock_scratch_4242_3f9a0c12`. */
  name: string;
  /** Connection string to it (the server's, with this database; may hold a password). */
  url: string;
  /** `DROP DATABASE … WITH (FORCE)`: ends any session still on it. Idempotent. */
  drop(): Promise<void>;
}

/**
 * Prefix of every scratch database's name (`airlock_scratch_<pid>_<8 hex>`), so one left behind
 * by a killed process is easy to find and drop.
 */
export const SCRATCH_DATABASE_PREFIX = 'airlock_scratch_';

/**
 * Creates an empty database `airlock_scratch_<pid>_<8 hex>` (from `template0`) on the server of
 * `serverUrl` (any database there; the connection's user needs `CREATEDB`).
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` when Postgres refuses.
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the server cannot be reached.
 */
export async function createScratchPostgresDatabase(serverUrl: string): Promise<ScratchDatabase> {
  const name = `${SCRATCH_DATABASE_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, async (client) => {
    try {
      await client.query(`CREATE DATABASE "${name}" TEMPLATE template0`);
    } catch (error) {
      throw new UserError(
        'MIGRATION_SCRATCH_FAILED',
        `Could not create a scratch database on ${redactUrl(serverUrl)}: ${(error as Error).message}`,
        {
          hint: "Dry runs and drift checks on Postgres replay migrations on a temporary database next to the environment's: its user needs the CREATEDB privilege (`ALTER ROLE <user> CREATEDB`), or point Airlock at a server where it has it.",
          details: { server: redactUrl(serverUrl), postgresCode: codeOf(error) },
          cause: error,
        },
      );
    }
  });
  const url = withDatabase(serverUrl, name);
  let dropped = false;
  return {
    name,
    url,
    async drop() {
      if (dropped) return;
      await withClient(serverUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}

/**
 * Copies the schema (no data, no owners, no grants) of the database at `sourceUrl` into the
 * (empty) database at `targetUrl`: `pg_dump --schema-only --no-owner --no-privileges` piped
 * into `psql -X -q -v ON_ERROR_STOP=1 --single-transaction`.
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` naming the package `postgresql-client` when
 *   `pg_dump` or `psql` is not on PATH, or with their message when either fails (e.g. a
 *   `pg_dump` older than the server).
 */
export async function copyPostgresSchema(
  sourceUrl: string,
  targetUrl: string,
  options: { schemas?: string[]; pgDump?: string; psql?: string } = {},
): Promise<void> {
  const source = libpqTarget(sourceUrl);
  const target = libpqTarget(targetUrl);
  const schemaArgs = options.schemas
    ? [...new Set([...options.schemas, 'airlock'])].map((s) => `--schema=${s}`)
    : [];
  const pgDump = options.pgDump ?? 'pg_dump';
  const psql = options.psql ?? 'psql';
  if (options.schemas?.includes('public')) {
    // A dump of selected schemas creates `public` itself; a new database has one already.
    await withClient(targetUrl, (client) => client.query('DROP SCHEMA IF EXISTS public'));
  }
  const dump = spawn(
    pgDump,
    ['--schema-only', '--no-owner', '--no-privileges', ...schemaArgs, `--dbname=${source.url}`],
    { env: source.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const restore = spawn(
    psql,
    [
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      '-o',
      '/dev/null',
      `--dbname=${target.url}`,
    ],
    { env: target.env, stdio: ['pipe', 'ignore', 'pipe'] },
  );
  dump.stdout.pipe(restore.stdin);
  // psql stopping early (ON_ERROR_STOP) closes its stdin under pg_dump: not the error to report.
  restore.stdin.on('error', () => {});
  const [dumped, restored] = await Promise.all([finish(dump), finish(restore)]);
  const secrets = [source.password, target.password].filter((p): p is string => !!p);
  for (const [tool, outcome] of [
    [pgDump, dumped],
    [psql, restored],
  ] as const) {
    if (outcome.spawnError?.code === 'ENOENT') {
      throw new UserError(
        'MIGRATION_SCRATCH_FAILED',
        `${tool} was not found on PATH: a Postgres dry run copies the environment's schema with pg_dump and psql.`,
        {
          hint: 'Install the package postgresql-client (Debian/Ubuntu: `apt-get install postgresql-client`; macOS: `brew install libpq`), at least as new as the server, then run the command again.',
          details: { tool, package: 'postgresql-client' },
        },
      );
    }
  }
  if (dumped.code !== 0 || dumped.spawnError) {
    throw scratchFailed(
      `pg_dump of ${redactUrl(sourceUrl)} failed`,
      dumped,
      secrets,
      /server version mismatch/i.test(dumped.stderr)
        ? "Your pg_dump is older than the server: install a postgresql-client of the server's major version (or newer) and run the command again."
        : `Check that ${redactUrl(sourceUrl)} is reachable with these credentials (\`pg_dump --schema-only\` must work against it).`,
    );
  }
  if (restored.code !== 0 || restored.spawnError) {
    throw scratchFailed(
      `restoring the schema of ${redactUrl(sourceUrl)} into the scratch database failed`,
      restored,
      secrets,
      'The scratch database could not recreate an object of the schema (often an extension or a schema owned by the platform). Limit the copy to your own schemas (the `schemas` option, e.g. public), then run the command again.',
    );
  }
}

interface ProcessOutcome {
  code: number | null;
  stderr: string;
  spawnError: NodeJS.ErrnoException | null;
}

function finish(child: ReturnType<typeof spawn>): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    let stderr = '';
    let spawnError: NodeJS.ErrnoException | null = null;
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString('utf8');
    });
    child.on('error', (error) => {
      spawnError = error as NodeJS.ErrnoException;
    });
    child.on('close', (code) => resolve({ code, stderr, spawnError }));
  });
}

function scratchFailed(
  what: string,
  outcome: ProcessOutcome,
  secrets: string[],
  hint: string,
): UserError {
  let output = (outcome.stderr || outcome.spawnError?.message || `exit code ${outcome.code}`)
    .trim()
    .split('\n')
    .slice(0, 6)
    .join(' ');
  for (const secret of secrets) output = output.split(secret).join('***');
  return new UserError('MIGRATION_SCRATCH_FAILED', `${what}: ${output}`, {
    hint,
    details: { exitCode: outcome.code },
  });
}

/**
 * `url` for libpq's command-line tools without its password, which goes to `PGPASSWORD` in the
 * child's environment instead (a command line is visible to every user of the machine).
 */
function libpqTarget(url: string): { url: string; env: NodeJS.ProcessEnv; password: string } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: '10' };
  if (password) env.PGPASSWORD = password;
  return { url: parsed.href, env, password };
}

/** Inserts ledger rows into `airlock.migrations` of the database at `url` (table must exist). */
async function insertPostgresLedger(url: string, ledger: LedgerEntry[]): Promise<void> {
  if (ledger.length === 0) return;
  await withClient(url, async (client) => {
    for (const e of ledger) {
      await client.query(
        `INSERT INTO ${POSTGRES_LEDGER_TABLE} (version, name, sha256, applied_at, applied_by, duration_ms, release) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [e.version, e.name, e.sha256, e.appliedAt, e.appliedBy, e.durationMs, e.release],
      );
    }
  });
}

/**
 * Runs `fn` on a new `pg.Client` to `url`, then closes it.
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when it cannot connect.
 */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'airlock (scratch)',
  });
  client.on('error', () => {}); // a dying server must not crash the process
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new UserError(
      'MIGRATION_DATABASE_UNREACHABLE',
      `Could not connect to ${redactUrl(url)}: ${(error as Error).message}`,
      {
        hint: 'Check that the server is running and that the URL (host, port, database, user) is right.',
        details: { url: redactUrl(url) },
        cause: error,
      },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** `url` with its database (path) replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

function codeOf(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
