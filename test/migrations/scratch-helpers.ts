/**
 * Shared by the dry-run, drift and adoption tests: leak checks for the scratch databases and
 * folders those features create, and a Postgres URL with a password (trust auth ignores it) to
 * prove no message ever shows one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client } from 'pg';
import { expect } from 'vitest';
import type { DatabaseLocation } from '../../src/migrations/migration-driver.ts';
import { SCRATCH_DATABASE_PREFIX } from '../../src/migrations/scratch-database.ts';
import { createTestDatabase, openConnections, withAdminClient } from '../helpers/postgres.ts';

/** Scratch databases created by this test process (their names carry its pid) still present. */
export async function leakedScratchDatabases(): Promise<string[]> {
  return withAdminClient(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1',
      [`${SCRATCH_DATABASE_PREFIX}${process.pid}_`],
    );
    return rows.map((r) => r.datname);
  });
}

/** The password trust auth ignores, and `url` with it set. */
export const FAKE_PASSWORD = 'S3cret-pw';

export function withFakePassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = FAKE_PASSWORD;
  return parsed.href;
}

/** An environment's database for one test, with its `DatabaseLocation`. */
export interface EnvironmentDatabase {
  location: DatabaseLocation;
  /** Runs SQL on it through a connection of its own (e.g. a manual `ALTER TABLE`). */
  exec(sql: string): Promise<void>;
  /**
   * Everything observable (schema objects with their SQL, ledger rows), read without any code
   * under test, to compare before and after.
   */
  snapshot(): Promise<unknown>;
  /** Removes it; for Postgres, first asserts no session is left on it. */
  dispose(): Promise<void>;
}

/** An empty SQLite file or Postgres database standing for an environment's database. */
export async function environmentDatabase(
  engine: 'sqlite' | 'postgres',
): Promise<EnvironmentDatabase> {
  if (engine === 'sqlite') {
    const root = await mkdtemp(join(tmpdir(), 'airlock-env-'));
    const path = join(root, 'app.db');
    new DatabaseSync(path).close();
    const read = <T>(fn: (db: DatabaseSync) => T): T => {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    return {
      location: { engine, url: path },
      async exec(sql) {
        const db = new DatabaseSync(path);
        try {
          db.exec(sql);
        } finally {
          db.close();
        }
      },
      snapshot: async () =>
        read((db) => ({
          schema: db
            .prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name')
            .all()
            .map((r) => ({ ...r })),
          ledger: db
            .prepare(
              "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'airlock_migrations'",
            )
            .get()
            ? db
                .prepare('SELECT * FROM airlock_migrations ORDER BY version')
                .all()
                .map((r) => ({ ...r }))
            : [],
        })),
      dispose: () => rm(root, { recursive: true, force: true }),
    };
  }
  const database = await createTestDatabase('airlock_env');
  const query = async (sql: string) => {
    const client = new Client({ connectionString: database.url });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  return {
    location: { engine, url: database.url },
    async exec(sql) {
      await query(sql);
    },
    snapshot: async () => ({
      schemas: await query(
        `SELECT nspname FROM pg_namespace
          WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
      ),
      columns: await query(
        `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default
           FROM information_schema.columns
          WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
          ORDER BY 1, 2, ordinal_position`,
      ),
      indexes: await query(
        `SELECT schemaname, indexname, indexdef FROM pg_indexes
          WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
      ),
      constraints: await query(
        `SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(oid) AS def
           FROM pg_constraint WHERE connamespace NOT IN
             (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))
          ORDER BY 1, 2`,
      ),
      ledger: (await query("SELECT to_regclass('airlock.migrations') IS NOT NULL AS present"))[0]
        ?.present
        ? await query('SELECT * FROM airlock.migrations ORDER BY version')
        : [],
    }),
    async dispose() {
      try {
        expect(await openConnections(database.name)).toBe(0);
      } finally {
        await database.drop();
      }
    },
  };
}
