/**
 * Scratch databases: throwaway copies and empty databases that migrations are replayed on, so
 * the environment's own database is never touched. Dry runs (dry-run.ts), drift detection
 * (schema-drift.ts) and ledger adoption (adopt.ts) use them.
 *
 * - **SQLite**: `withSqliteCopy` copies the file with `VACUUM INTO` (a consistent snapshot,
 *   also of a WAL database whose latest commits are still in its `-wal` file, which a raw `cp`
 *   would miss or tear) through a read-only connection, into a temporary folder deleted
 *   afterwards.
 * - **Postgres**: `createScratchPostgresDatabase` makes an empty database
 *   `airlock_scratch_<pid>_<hex>` on the same server, dropped with `DROP DATABASE … WITH
 *   (FORCE)`; `copyPostgresSchema` fills one from a schema-only dump (`pg_dump --schema-only
 *   --no-owner --no-privileges | psql -v ON_ERROR_STOP=1 --single-transaction`). `pg_dump` and
 *   `psql` must be on PATH (Debian/Ubuntu package `postgresql-client`), and not older than the
 *   server. The password never appears on a command line (it is passed in `PGPASSWORD`) nor in
 *   any message.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import { runToolPipe, type ToolResult } from '../process/run-tool.ts';
import { redact, redactUrl } from '../secrets/redact.ts';
import { errorCode, withClient, withDatabase } from './postgres-client.ts';
import { sqlitePathFromUrl } from './sqlite-migration-driver.ts';

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
          details: { server: redactUrl(serverUrl), postgresCode: errorCode(error) },
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
  const schemaArgs = options.schemas
    ? [...new Set([...options.schemas, 'airlock'])].map((s) => `--schema=${s}`)
    : [];
  if (options.schemas?.includes('public')) {
    // A dump of selected schemas creates `public` itself; a new database has one already.
    await withClient(targetUrl, (client) => client.query('DROP SCHEMA IF EXISTS public'));
  }
  await pipeSchemaDump(sourceUrl, targetUrl, schemaArgs, options);
}

/**
 * `pg_dump --schema-only --no-owner --no-privileges <dumpArgs>` of `sourceUrl` piped into
 * `psql -X -q -v ON_ERROR_STOP=1 --single-transaction` on `targetUrl`.
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` as `copyPostgresSchema`.
 */
export async function pipeSchemaDump(
  sourceUrl: string,
  targetUrl: string,
  dumpArgs: string[],
  options: { pgDump?: string; psql?: string } = {},
): Promise<void> {
  const source = libpqTarget(sourceUrl);
  const target = libpqTarget(targetUrl);
  const pgDump = options.pgDump ?? 'pg_dump';
  const psql = options.psql ?? 'psql';
  const secrets = [source.password, target.password].filter((p): p is string => !!p);
  const [dumped, restored] = await runToolPipe(
    {
      command: pgDump,
      args: [
        '--schema-only',
        '--no-owner',
        '--no-privileges',
        ...dumpArgs,
        `--dbname=${source.url}`,
      ],
      env: source.env,
      maxStderr: MAX_STDERR,
      redact: secrets,
    },
    {
      command: psql,
      args: [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '--single-transaction',
        '-o',
        '/dev/null',
        `--dbname=${target.url}`,
      ],
      env: target.env,
      maxStderr: MAX_STDERR,
      redact: secrets,
    },
  );
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
  if (dumped.exitCode !== 0 || dumped.spawnError) {
    throw scratchFailed(
      `pg_dump of ${redactUrl(sourceUrl)} failed`,
      dumped,
      secrets,
      /server version mismatch/i.test(dumped.stderr)
        ? "Your pg_dump is older than the server: install a postgresql-client of the server's major version (or newer) and run the command again."
        : `Check that ${redactUrl(sourceUrl)} is reachable with these credentials (\`pg_dump --schema-only\` must work against it).`,
    );
  }
  if (restored.exitCode !== 0 || restored.spawnError) {
    throw scratchFailed(
      `restoring the schema of ${redactUrl(sourceUrl)} into the scratch database failed`,
      restored,
      secrets,
      'The scratch database could not recreate an object of the schema (often an extension or a schema owned by the platform). Limit the copy to your own schemas (the `schemas` option, e.g. public), then run the command again.',
    );
  }
}

/** Standard error of pg_dump and psql kept for a message (characters). */
const MAX_STDERR = 20_000;

function scratchFailed(
  what: string,
  outcome: ToolResult,
  secrets: string[],
  hint: string,
): UserError {
  const output = redact(
    (outcome.stderr || outcome.spawnError?.message || `exit code ${outcome.exitCode}`)
      .trim()
      .split('\n')
      .slice(0, 6)
      .join(' '),
    secrets,
  );
  return new UserError('MIGRATION_SCRATCH_FAILED', `${what}: ${output}`, {
    hint,
    details: { exitCode: outcome.exitCode },
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
