/**
 * The database engines the migrator contract runs on (Kysely-style: one spec, every dialect),
 * each with a small introspection helper that reads the database through a connection of its
 * own, so assertions are engine-neutral and never trust the driver under test.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Client } from 'pg';
import { describe, expect } from 'vitest';
import { AirlockError } from '../../src/errors.ts';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import type { MigrationDriver } from '../../src/migrations/migration-driver.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { createTestDatabase, describeIfPostgres, openConnections } from '../helpers/postgres.ts';

/** One empty database of an engine, for one test. */
export interface EngineDatabase {
  /** A new driver on this database; closed by `dispose()`. */
  driver(): MigrationDriver;
  /** Tables, sorted; outside the default schema they are qualified (`airlock.migrations`). */
  tables(): Promise<string[]>;
  /** Columns of a table of the default schema, in order. */
  columns(table: string): Promise<string[]>;
  /** The ledger as stored (read without the driver); `[]` without a ledger table. */
  ledger(): Promise<LedgerEntry[]>;
  /** Everything observable (tables, columns, indexes, ledger) to compare before and after. */
  snapshot(): Promise<unknown>;
  /** Closes every driver and connection and removes the database. */
  dispose(): Promise<void>;
}

export interface Engine {
  name: 'sqlite' | 'postgres';
  /** `describe`, or the variant that skips/fails without the engine's server. */
  describe: (name: string, fn: () => void) => void;
  /** How `tables()` names the ledger table. */
  ledgerTable: string;
  create(): Promise<EngineDatabase>;
}

interface StoredLedgerRow {
  version: number;
  name: string;
  sha256: string;
  applied_at: string | Date;
  applied_by: string;
  duration_ms: number;
  release: string | null;
}

function toEntry(row: StoredLedgerRow): LedgerEntry {
  return {
    version: Number(row.version),
    name: row.name,
    sha256: row.sha256,
    appliedAt: new Date(row.applied_at).toISOString(),
    appliedBy: row.applied_by,
    durationMs: Number(row.duration_ms),
    release: row.release,
  };
}

export const sqlite: Engine = {
  name: 'sqlite',
  describe,
  ledgerTable: 'airlock_migrations',
  async create() {
    const root = await mkdtemp(join(tmpdir(), 'airlock-mig-sqlite-'));
    const path = join(root, 'envs', 'staging', 'app.db');
    await mkdir(join(root, 'envs', 'staging'), { recursive: true });
    new DatabaseSync(path).close(); // an empty database, as a fresh Postgres one is
    const drivers: MigrationDriver[] = [];
    const read = <T>(fn: (db: DatabaseSync) => T): T => {
      const db = new DatabaseSync(path);
      try {
        return fn(db);
      } finally {
        db.close();
      }
    };
    const tables = async () =>
      read((db) =>
        db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .all()
          .map((r) => String(r.name)),
      );
    const ledger = async () =>
      (await tables()).includes('airlock_migrations')
        ? read((db) =>
            db
              .prepare('SELECT * FROM airlock_migrations ORDER BY version')
              .all()
              .map((r) => toEntry(r as unknown as StoredLedgerRow)),
          )
        : [];
    return {
      driver() {
        const d = new SqliteMigrationDriver(path);
        drivers.push(d);
        return d;
      },
      tables,
      columns: async (table) =>
        read((db) =>
          db
            .prepare('SELECT name FROM pragma_table_info(?)')
            .all(table)
            .map((r) => String(r.name)),
        ),
      ledger,
      snapshot: async () => ({
        schema: read((db) =>
          db
            .prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name')
            .all()
            .map((r) => ({ ...r })),
        ),
        ledger: await ledger(),
      }),
      async dispose() {
        for (const d of drivers.splice(0)) await d.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  },
};

export const postgres: Engine = {
  name: 'postgres',
  describe: describeIfPostgres,
  ledgerTable: 'airlock.migrations',
  async create() {
    const database = await createTestDatabase('airlock_mig');
    const drivers: MigrationDriver[] = [];
    let client: Client | undefined;
    const query = async <T extends object>(sql: string, params: unknown[] = []) => {
      if (!client) {
        client = new Client({ connectionString: database.url });
        client.on('error', () => {});
        await client.connect();
      }
      return (await client.query<T & Record<string, unknown>>(sql, params)).rows;
    };
    const tables = async () =>
      (
        await query<{ schema: string; name: string }>(
          `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
            WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`,
        )
      )
        .map((r) => (r.schema === 'public' ? r.name : `${r.schema}.${r.name}`))
        .sort();
    const ledger = async () =>
      (await tables()).includes('airlock.migrations')
        ? (await query<StoredLedgerRow>('SELECT * FROM airlock.migrations ORDER BY version')).map(
            toEntry,
          )
        : [];
    return {
      driver() {
        const d = new PostgresMigrationDriver(database.url);
        drivers.push(d);
        return d;
      },
      tables,
      columns: async (table) =>
        (
          await query<{ name: string }>(
            `SELECT column_name AS name FROM information_schema.columns
              WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
            [table],
          )
        ).map((r) => r.name),
      ledger,
      snapshot: async () => ({
        schemas: await query(
          `SELECT nspname FROM pg_namespace
            WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
        ),
        columns: await query(
          `SELECT table_schema, table_name, column_name, data_type, is_nullable
             FROM information_schema.columns
            WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1, 2, ordinal_position`,
        ),
        indexes: await query(
          `SELECT schemaname, indexname, indexdef FROM pg_indexes
            WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
        ),
        ledger: await ledger(),
      }),
      async dispose() {
        try {
          for (const d of drivers.splice(0)) await d.close();
          await client?.end();
          // No test may leave a session behind on its database.
          expect(await openConnections(database.name)).toBe(0);
        } finally {
          await database.drop();
        }
      },
    };
  },
};

export const engines: Engine[] = [sqlite, postgres];

/** A migrations directory in a temporary folder. */
export interface MigrationDir {
  dir: string;
  write(filename: string, sql: string): Promise<void>;
  remove(): Promise<void>;
}

export async function migrationDir(): Promise<MigrationDir> {
  const root = await mkdtemp(join(tmpdir(), 'airlock-mig-files-'));
  const dir = join(root, 'migrations');
  return {
    dir,
    async write(filename, sql) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, filename), sql);
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** The AirlockError `promise` rejects with; fails the test when it resolves or throws another. */
export async function caught(promise: Promise<unknown>): Promise<AirlockError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AirlockError) return error;
    throw error;
  }
  throw new Error('expected an AirlockError, but nothing was thrown');
}
