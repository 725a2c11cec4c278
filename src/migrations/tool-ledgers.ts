/**
 * Other tools' own ledgers, for adopting them and for co-existence: while a project moves over,
 * Airlock writes the tool's row for each file it applies (in the same transaction as its own),
 * so running the tool afterwards finds nothing to do. Each table is the tool's own, created as
 * the tool creates it when missing:
 *
 * | layout | table | row per file |
 * | --- | --- | --- |
 * | wrangler | `d1_migrations(id, name, applied_at)` | `name` = the file's path in the folder |
 * | supabase | `supabase_migrations.schema_migrations(version, statements, name)` | the timestamp |
 * | drizzle | `__drizzle_migrations(id, hash, created_at)` (Postgres: schema `drizzle`), plus `name, applied_at` since drizzle-kit 1.x | sha256 of the file, the journal's `when` (1.x: the folder's timestamp), the folder name |
 * | prisma | `_prisma_migrations(id, checksum, finished_at, migration_name, …)` | the folder name, sha256 |
 * | dbmate | `schema_migrations(version)` | the version |
 * | goose | `goose_db_version(id, version_id, is_applied, tstamp)` | the version |
 * | node-pg-migrate | `pgmigrations(id, name, run_on)` | the file name without `.sql` |
 * | postgrator | `schemaversion(version, name, md5, run_at)` | the version, md5 of the file |
 *
 * Sources: wrangler's `d1/migrations/helpers.ts`, the Supabase CLI's `pkg/migration/history.go`,
 * drizzle-orm's `migrator.ts` dialects, Prisma's migration-engine `_prisma_migrations`, dbmate's
 * drivers, goose's `dialectquery`, node-pg-migrate's `migration.ts`, postgrator's `postgrator.js`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { MigrationFile } from './migration-files.ts';
import type { MigrationLayout } from './migration-name.ts';

/**
 * The tools' ledger tables in the application's schema (`public` on Postgres, the SQLite file):
 * bookkeeping, never part of the schema that introspection, drift and parity compare.
 */
export const TOOL_LEDGER_TABLES: readonly string[] = [
  'd1_migrations',
  '__drizzle_migrations',
  '_prisma_migrations',
  'schema_migrations',
  'goose_db_version',
  'pgmigrations',
  'schemaversion',
  // Code migrators whose files Airlock does not run, kept when a project moves to SQL files:
  // Kysely, Knex, Sequelize, MikroORM.
  'kysely_migration',
  'kysely_migration_lock',
  'knex_migrations',
  'knex_migrations_lock',
  'SequelizeMeta',
  'mikro_orm_migrations',
];

/** The layouts whose tool keeps a ledger Airlock can read and write. */
export type ToolLayout = Exclude<MigrationLayout, 'airlock'>;

/** One statement with its parameters (`?` for SQLite/D1, `$n` for Postgres). */
export interface ToolStatement {
  sql: string;
  params: Array<string | number | null>;
}

/** The tool's ledger table as messages name it. */
export function toolLedgerTable(layout: ToolLayout, dialect: 'sqlite' | 'postgres'): string {
  switch (layout) {
    case 'wrangler':
      return 'd1_migrations';
    case 'supabase':
      return 'supabase_migrations.schema_migrations';
    case 'drizzle':
      return dialect === 'postgres' ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
    case 'prisma':
      return '_prisma_migrations';
    case 'dbmate':
      return 'schema_migrations';
    case 'goose':
      return 'goose_db_version';
    case 'node-pg-migrate':
      return 'pgmigrations';
    case 'postgrator':
      return 'schemaversion';
  }
}

/** The version as the file name writes it (`20240101000000`, `001`), leading zeros kept. */
export function versionText(file: Pick<MigrationFile, 'filename' | 'version'>): string {
  return /^\d+/.exec(file.filename)?.[0] ?? String(file.version);
}

/** `20240101000000_init` for `20240101000000_init/migration.sql` or `…_init.sql`. */
function stem(file: Pick<MigrationFile, 'filename'>): string {
  return file.filename.replace(/\/migration\.sql$/, '').replace(/\.sql$/, '');
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/**
 * The statements that create the tool's ledger when missing and record `file` in it, for
 * `dialect` (D1 is `sqlite`): `toolLedgerSetup` then `toolLedgerRow` with the columns unknown.
 * Run them in the transaction that applies the file. For one file on its own (D1's HTTP batch);
 * a driver applying several files runs the setup once (see `toolLedgerSetup`).
 */
export function toolLedgerStatements(
  layout: ToolLayout,
  dialect: 'sqlite' | 'postgres',
  file: MigrationFile,
  now: Date = new Date(),
): ToolStatement[] {
  return [...toolLedgerSetup(layout, dialect, file), ...toolLedgerRow(layout, dialect, file, now)];
}

/**
 * drizzle-kit 1.x (the `<timestamp>_<name>/migration.sql` folders) keeps `name` and `applied_at`
 * in `__drizzle_migrations` and runs every folder whose name has no row; 0.x (the journal) keeps
 * `hash` and `created_at` and runs what is newer than the latest `created_at`, and 1.x upgrades
 * such a table by matching `created_at`. Source: drizzle-orm's `migrator.ts` and
 * `up-migrations/` (1.0).
 */
function drizzleV1(file: Pick<MigrationFile, 'filename'>): boolean {
  return file.filename.endsWith('/migration.sql');
}

/**
 * The statements that make the tool's ledger exist as the tool creates it (schema, table,
 * columns, the tool's own first row), each a no-op when already there. A driver runs them once
 * per apply, in the transaction of the first file it records, then only `toolLedgerRow` for
 * each file. `file` is any file of the folder (drizzle's table shape follows its layout).
 */
export function toolLedgerSetup(
  layout: ToolLayout,
  dialect: 'sqlite' | 'postgres',
  file: Pick<MigrationFile, 'filename'>,
): ToolStatement[] {
  const pg = dialect === 'postgres';
  const q = (sql: string): ToolStatement => ({ sql, params: [] });
  switch (layout) {
    case 'wrangler':
      return [
        q(
          'CREATE TABLE IF NOT EXISTS d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)',
        ),
      ];
    case 'supabase':
      return [
        q('CREATE SCHEMA IF NOT EXISTS supabase_migrations'),
        q(
          'CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)',
        ),
        q(
          'ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]',
        ),
        q('ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text'),
      ];
    case 'drizzle': {
      const v1 = drizzleV1(file);
      return pg
        ? [
            q('CREATE SCHEMA IF NOT EXISTS drizzle'),
            q(
              `CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint${v1 ? ', name text, applied_at timestamp with time zone DEFAULT now()' : ''})`,
            ),
          ]
        : [
            q(
              v1
                ? 'CREATE TABLE IF NOT EXISTS `__drizzle_migrations` (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric, name text, applied_at TEXT)'
                : 'CREATE TABLE IF NOT EXISTS `__drizzle_migrations` (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)',
            ),
          ];
    }
    case 'prisma':
      return [
        q(
          `CREATE TABLE IF NOT EXISTS "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" ${pg ? 'TIMESTAMPTZ' : 'DATETIME'}, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" ${pg ? 'TIMESTAMPTZ' : 'DATETIME'}, "started_at" ${pg ? 'TIMESTAMPTZ NOT NULL DEFAULT now()' : 'DATETIME NOT NULL DEFAULT current_timestamp'}, "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`,
        ),
      ];
    case 'dbmate':
      return [q('CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)')];
    case 'goose':
      return [
        q(
          pg
            ? 'CREATE TABLE IF NOT EXISTS goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now())'
            : "CREATE TABLE IF NOT EXISTS goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))",
        ),
        // goose starts its table with a version 0 row.
        q(
          `INSERT INTO goose_db_version (version_id, is_applied) SELECT 0, ${pg ? 'true' : '1'} WHERE NOT EXISTS (SELECT 1 FROM goose_db_version)`,
        ),
      ];
    case 'node-pg-migrate':
      return [
        q(
          'CREATE TABLE IF NOT EXISTS pgmigrations (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)',
        ),
      ];
    case 'postgrator':
      return [
        q(
          `CREATE TABLE IF NOT EXISTS schemaversion (version BIGINT PRIMARY KEY, name TEXT DEFAULT '', md5 TEXT DEFAULT '', run_at ${pg ? 'TIMESTAMPTZ DEFAULT now()' : 'TIMESTAMP DEFAULT CURRENT_TIMESTAMP'})`,
        ),
        // postgrator starts its table with a version 0 row.
        q(
          'INSERT INTO schemaversion (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schemaversion)',
        ),
      ];
  }
}

/**
 * The query listing the columns of the tool's ledger (one row per column, field `name`), for the
 * layouts whose row depends on them (drizzle: `name` and `applied_at` since 1.x); null for the
 * others. Run it after `toolLedgerSetup`, once per apply.
 */
export function toolLedgerColumnsQuery(
  layout: ToolLayout,
  dialect: 'sqlite' | 'postgres',
): ToolStatement | null {
  if (layout !== 'drizzle') return null;
  return dialect === 'postgres'
    ? {
        sql: "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'drizzle' AND table_name = '__drizzle_migrations'",
        params: [],
      }
    : { sql: "SELECT name FROM pragma_table_info('__drizzle_migrations')", params: [] };
}

/**
 * The statements that record `file` in the tool's ledger, which `toolLedgerSetup` made exist.
 * `columns`: the table's columns as `toolLedgerColumnsQuery` found them; without them, drizzle's
 * row follows the file's layout (1.x's folders: with `name`).
 */
export function toolLedgerRow(
  layout: ToolLayout,
  dialect: 'sqlite' | 'postgres',
  file: MigrationFile,
  now: Date = new Date(),
  columns?: readonly string[],
): ToolStatement[] {
  const pg = dialect === 'postgres';
  const p = (i: number) => (pg ? `$${i}` : '?');
  const at = now.toISOString();
  switch (layout) {
    case 'wrangler':
      return [
        { sql: `INSERT INTO d1_migrations (name) VALUES (${p(1)})`, params: [file.filename] },
      ];
    case 'supabase':
      return [
        {
          sql: 'INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ($1, $2, ARRAY[$3])',
          params: [versionText(file), file.name, file.sql],
        },
      ];
    case 'drizzle': {
      const createdAt = file.createdAtMs ?? timestampMs(versionText(file)) ?? now.getTime();
      const table = pg ? 'drizzle.__drizzle_migrations' : '`__drizzle_migrations`';
      const named = columns ? columns.includes('name') : drizzleV1(file);
      if (!named) {
        return [
          {
            sql: `INSERT INTO ${table} (hash, created_at) VALUES (${p(1)}, ${p(2)})`,
            params: [file.sha256, createdAt],
          },
        ];
      }
      // drizzle-kit 1.x: Postgres fills applied_at itself, SQLite gets the ISO time.
      return [
        pg
          ? {
              sql: `INSERT INTO ${table} (hash, created_at, name) VALUES ($1, $2, $3)`,
              params: [file.sha256, createdAt, stem(file)],
            }
          : {
              sql: `INSERT INTO ${table} (hash, created_at, name, applied_at) VALUES (?, ?, ?, ?)`,
              params: [file.sha256, createdAt, stem(file), at],
            },
      ];
    }
    case 'prisma':
      return [
        {
          sql: `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "started_at", "applied_steps_count") VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, 1)`,
          params: [randomUUID(), file.sha256, at, stem(file), at],
        },
      ];
    case 'dbmate':
      return [
        {
          sql: `INSERT INTO schema_migrations (version) VALUES (${p(1)})`,
          params: [versionText(file)],
        },
      ];
    case 'goose':
      return [
        {
          sql: `INSERT INTO goose_db_version (version_id, is_applied) VALUES (${p(1)}, ${pg ? 'true' : '1'})`,
          params: [file.version],
        },
      ];
    case 'node-pg-migrate':
      return [
        {
          sql: `INSERT INTO pgmigrations (name, run_on) VALUES (${p(1)}, ${pg ? 'NOW()' : 'CURRENT_TIMESTAMP'})`,
          params: [stem(file)],
        },
      ];
    case 'postgrator':
      return [
        {
          sql: `INSERT INTO schemaversion (version, name, md5) VALUES (${p(1)}, ${p(2)}, ${p(3)})`,
          params: [file.version, file.name, md5(file.sql)],
        },
      ];
  }
}

/** `YYYYMMDDHHMMSS` (UTC) as ms since the epoch; null for any other text. */
function timestampMs(text: string): number | null {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(text);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** The key of `file` in `layout`'s ledger (what `ToolLedgerRow.key` is compared with). */
export function toolLedgerKey(layout: ToolLayout, file: MigrationFile): string {
  switch (layout) {
    case 'wrangler':
      return file.filename;
    case 'drizzle':
      return file.sha256;
    case 'prisma':
    case 'node-pg-migrate':
      return stem(file);
    case 'supabase':
    case 'dbmate':
    case 'goose':
    case 'postgrator':
      return String(file.version);
  }
}
