/**
 * The schema a list of migration files produces: the files applied in order, by the real
 * drivers, to an empty scratch database (a temporary SQLite file, or a temporary Postgres
 * database next to the environment's, shaped like it: platform-shape.ts), described, then
 * removed. Atlas's dev database, Supabase
 * CLI's shadow database for `db diff`, and Flyway's drift report compute it the same way.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import { describePostgres } from './introspect-postgres.ts';
import { describeSqlite } from './introspect-sqlite.ts';
import type { MigrationDriver } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { applyPlatformShape, type PlatformShape, readPlatformShape } from './platform-shape.ts';
import { withClient } from './postgres-client.ts';
import { PostgresMigrationDriver } from './postgres-migration-driver.ts';
import type { SchemaSnapshot } from './schema-snapshot.ts';
import { createScratchPostgresDatabase } from './scratch-database.ts';
import { SqliteMigrationDriver } from './sqlite-migration-driver.ts';

export interface ReplayOptions {
  /**
   * Postgres: the environment's database. The scratch database is made on its server (the
   * user must be allowed to `CREATE DATABASE`), given its platform shape (platform-shape.ts:
   * database-level settings, extensions, platform schemas such as Supabase's `auth`), and
   * dropped afterwards. Required for Postgres.
   */
  postgresUrl?: string;
  /**
   * Postgres: reproduce the live database's platform shape on the scratch database. Default
   * true; false replays on a plain empty database.
   */
  platformShape?: boolean;
  /** Postgres: the schema to describe. Default `public`. */
  schema?: string;
  /** SQLite: folder for the scratch file. Default the OS temp folder. */
  tmpDir?: string;
}

/** A scratch database to apply files to, one by one, and describe in between. */
interface ReplaySession {
  apply(file: MigrationFile): Promise<void>;
  describe(): Promise<SchemaSnapshot>;
  close(): Promise<void>;
}

async function openReplay(
  engine: 'sqlite' | 'postgres',
  options: ReplayOptions,
  shape: PlatformShape | null,
): Promise<ReplaySession> {
  const meta = { appliedBy: 'airlock replay', release: null };
  const applyWith = async (driver: MigrationDriver, file: MigrationFile) => {
    try {
      await driver.applyFile(file, meta);
    } catch (error) {
      throw new UserError(
        'MIGRATION_SCRATCH_FAILED',
        `Replaying ${file.filename} on an empty scratch database failed, so the schema the ledger implies cannot be computed: ${(error as Error).message}`,
        {
          hint: `Migrations must build the schema from a database shaped like the environment's: an empty one with its platform schemas (such as Supabase's auth), extensions and database settings, copied from the environment. If ${file.filename} depends on anything else created outside migrations, create it in an earlier migration.`,
          details: { file: file.path },
          cause: error,
        },
      );
    }
  };
  if (engine === 'sqlite') {
    const folder = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'airlock-scratch-'));
    const path = join(folder, 'replay.db');
    const driver = new SqliteMigrationDriver(path);
    return {
      apply: (file) => applyWith(driver, file),
      async describe() {
        const db = new DatabaseSync(path, { readOnly: true });
        try {
          return describeSqlite(db);
        } finally {
          db.close();
        }
      },
      async close() {
        await driver.close();
        await rm(folder, { recursive: true, force: true });
      },
    };
  }
  if (!options.postgresUrl) {
    throw new UserError(
      'USAGE',
      'Replaying Postgres migrations needs a server to make a scratch database on.',
      { hint: 'Pass `postgresUrl` (any database on a server where the user may CREATE DATABASE).' },
    );
  }
  const scratch = await createScratchPostgresDatabase(options.postgresUrl);
  try {
    if (shape) await applyPlatformShape(options.postgresUrl, scratch, shape);
  } catch (error) {
    await scratch.drop();
    throw error;
  }
  const driver = new PostgresMigrationDriver(scratch.url);
  return {
    apply: (file) => applyWith(driver, file),
    describe: () =>
      withClient(scratch.url, (client) => describePostgres(client, { schema: options.schema })),
    async close() {
      try {
        await driver.close();
      } finally {
        await scratch.drop();
      }
    },
  };
}

/**
 * The schema `files` produce, applied in order to an empty scratch database of `engine`
 * (removed afterwards).
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` naming the file that failed to replay.
 * @throws UserError `USAGE` for Postgres without `options.postgresUrl`.
 */
export async function replaySchema(
  engine: 'sqlite' | 'postgres',
  files: MigrationFile[],
  options: ReplayOptions = {},
): Promise<SchemaSnapshot> {
  return (await replaySchemas(engine, [files], options))[0]!;
}

/**
 * The schemas several file lists produce. When one list extends another (the usual case: one
 * environment's applied files are the other's plus its pending ones), one scratch database
 * serves both, described in between.
 */
export async function replaySchemas(
  engine: 'sqlite' | 'postgres',
  lists: MigrationFile[][],
  options: ReplayOptions,
): Promise<SchemaSnapshot[]> {
  const results: SchemaSnapshot[] = [];
  const shape =
    engine === 'postgres' && options.postgresUrl && options.platformShape !== false
      ? await readPlatformShape(options.postgresUrl, [...new Set(lists.flat())])
      : null;
  const order = lists.map((_, i) => i).sort((x, y) => lists[x]!.length - lists[y]!.length);
  let session: ReplaySession | null = null;
  let done: MigrationFile[] = [];
  try {
    for (const i of order) {
      const list = lists[i]!;
      const extends_ = session && done.every((f, k) => list[k]?.filename === f.filename);
      if (!extends_) {
        await session?.close();
        session = null;
        session = await openReplay(engine, options, shape);
        done = [];
      }
      for (const file of list.slice(done.length)) await session!.apply(file);
      done = list;
      results[i] = await session!.describe();
    }
  } finally {
    await session?.close();
  }
  return results;
}
