/**
 * Schema introspection and drift (`airlock migrate drift`).
 *
 * `describeSchema` reads an environment's schema into a normalized `SchemaSnapshot` (tables,
 * columns with type, nullability and default, primary keys, indexes, foreign keys), so two
 * databases with the same schema give equal snapshots: SQLite through `sqlite_master` and the
 * `pragma_table_xinfo` / `pragma_index_list` / `pragma_index_xinfo` / `pragma_foreign_key_list`
 * table functions; Postgres through `pg_catalog` (schema `public` unless told otherwise).
 * Airlock's ledger and engine internals are left out.
 *
 * `compareSchemas` lists the differences of two snapshots, each with a sentence (`staging has
 * column notes.archived (integer) that production lacks`).
 *
 * `detectDrift` explains the differences between two environments. They should differ only by
 * the migrations one has applied and the other has not. Each environment's ledger implies a
 * schema: its applied files, replayed on a scratch database (a temporary SQLite file, or a
 * temporary Postgres database next to the environment's). A live schema that differs from the
 * one its own ledger implies has **drifted**: someone changed it outside migrations (a manual
 * `ALTER TABLE`, a dashboard's table editor). Differences between the two implied schemas are
 * the pending migrations' doing, and are reported apart as explained. (Atlas `migrate diff` /
 * schema inspection, Flyway's drift report, Supabase CLI's `db diff` compare a database with
 * what migrations produce the same way: by replaying them on a shadow database.)
 *
 * Not compared: views, triggers, check constraints, sequences, column order, collations.
 */

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Client } from 'pg';
import { UserError } from '../errors.ts';
import { createScratchPostgresDatabase, type DatabaseLocation, withClient } from './dry-run.ts';
import { LEDGER_TABLE, type LedgerEntry, POSTGRES_LEDGER_SCHEMA } from './ledger.ts';
import type { MigrationDriver } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { type MigrationProblem, planMigrations } from './migrator.ts';
import { PostgresMigrationDriver } from './postgres-migration-driver.ts';
import { SqliteMigrationDriver, sqlitePathFromUrl } from './sqlite-migration-driver.ts';

/** One column. */
export interface ColumnSnapshot {
  name: string;
  /**
   * Lowercase. SQLite: the declared type with whitespace collapsed (`integer`, `varchar(20)`,
   * `''` when none). Postgres: `format_type` (`integer`, `character varying(20)`,
   * `timestamp with time zone`).
   */
  type: string;
  nullable: boolean;
  /**
   * The default expression as the engine prints it (`0`, `'draft'`, `CURRENT_TIMESTAMP`,
   * `nextval('notes_id_seq'::regclass)`), `generated … as identity` for a Postgres identity
   * column, `generated always as (…)` for a generated column; null when none.
   */
  default: string | null;
}

/** One index that is not the primary key's. */
export interface IndexSnapshot {
  /**
   * Its name. A SQLite index made for a `UNIQUE` constraint (`sqlite_autoindex_…`, whose
   * number depends on the order of the table's constraints) is named
   * `<table>_<columns>_key` instead, as Postgres names one.
   */
  name: string;
  unique: boolean;
  /** Key columns in order; an expression appears as its text (Postgres) or `<expression>`. */
  columns: string[];
  /** The predicate of a partial index, else null. */
  where: string | null;
}

/** One foreign key (named by what it links; SQLite foreign keys have no names). */
export interface ForeignKeySnapshot {
  columns: string[];
  /** Referenced table; qualified (`auth.users`) when in another Postgres schema. */
  references: string;
  referencedColumns: string[];
  /** Lowercase: `no action`, `restrict`, `cascade`, `set null`, `set default`. */
  onUpdate: string;
  onDelete: string;
}

export interface TableSnapshot {
  name: string;
  /** In the table's column order. */
  columns: ColumnSnapshot[];
  /** Primary key columns in key order; `[]` without one. */
  primaryKey: string[];
  /** Sorted by name. */
  indexes: IndexSnapshot[];
  /** Sorted by columns, then referenced table. */
  foreignKeys: ForeignKeySnapshot[];
}

/** A database's schema, normalized: equal schemas give deep-equal snapshots. Plain data. */
export interface SchemaSnapshot {
  engine: 'sqlite' | 'postgres';
  /** The Postgres schema described (`public`); null for SQLite. */
  schema: string | null;
  /** Sorted by name. */
  tables: TableSnapshot[];
}

export interface DescribeSchemaOptions {
  /** Postgres: the schema to describe. Default `public`. */
  schema?: string;
  /** More tables to leave out (by name), besides the ledgers and engine internals. */
  ignoreTables?: string[];
}

/**
 * Tables never described on SQLite: Airlock's ledger, wrangler's (`d1_migrations`), SQLite's
 * own (`sqlite_*`) and D1 / miniflare's (`_cf_*`, e.g. `_cf_METADATA`).
 */
function ignoredSqliteTable(name: string, extra: Set<string>): boolean {
  return (
    name === LEDGER_TABLE ||
    name === 'd1_migrations' ||
    name.startsWith('sqlite_') ||
    name.startsWith('_cf_') ||
    extra.has(name)
  );
}

/**
 * Reads the schema of `database` (read-only: a SQLite file is opened read-only and a missing
 * one reads as empty without being created; on Postgres only catalog queries run).
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when Postgres cannot be reached.
 */
export async function describeSchema(
  database: DatabaseLocation,
  options: DescribeSchemaOptions = {},
): Promise<SchemaSnapshot> {
  if (database.engine === 'postgres') {
    return withClient(database.url, (client) => describePostgres(client, options));
  }
  const path = sqlitePathFromUrl(database.url);
  if (path !== ':memory:' && !existsSync(path))
    return { engine: 'sqlite', schema: null, tables: [] };
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    return describeSqlite(db, options);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// SQLite

interface SqliteColumnRow {
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

/** Describes the open SQLite database `db` (see `describeSchema`). */
export function describeSqlite(
  db: DatabaseSync,
  options: DescribeSchemaOptions = {},
): SchemaSnapshot {
  const extra = new Set(options.ignoreTables ?? []);
  const tableNames = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{
      name: string;
    }>
  )
    .map((r) => r.name)
    .filter((name) => !ignoredSqliteTable(name, extra));
  const indexSql = new Map(
    (
      db
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .all() as Array<{ name: string; sql: string }>
    ).map((r) => [r.name, r.sql]),
  );
  const primaryKeyOf = (table: string): string[] =>
    (
      db
        .prepare('SELECT name, pk FROM pragma_table_info(?)')
        .all(table) as unknown as SqliteColumnRow[]
    )
      .filter((c) => c.pk > 0)
      .sort((x, y) => x.pk - y.pk)
      .map((c) => c.name);

  const tables: TableSnapshot[] = tableNames.map((name) => {
    const rows = db
      .prepare(
        'SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid',
      )
      .all(name) as unknown as SqliteColumnRow[];
    const columns = rows
      .filter((c) => c.hidden !== 1) // hidden columns of virtual tables
      .map((c) => ({
        name: c.name,
        type: normalizeSpace(c.type ?? '').toLowerCase(),
        nullable: c.notnull === 0,
        default:
          c.hidden === 2 || c.hidden === 3
            ? 'generated always as (…)'
            : c.dflt_value === null
              ? null
              : normalizeSpace(c.dflt_value),
      }));
    const indexes = (
      db
        .prepare('SELECT name, "unique", origin, partial FROM pragma_index_list(?)')
        .all(name) as Array<{
        name: string;
        unique: number;
        origin: string;
        partial: number;
      }>
    )
      .filter((i) => i.origin !== 'pk')
      .map((i): IndexSnapshot => {
        const keyColumns = (
          db
            .prepare('SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno')
            .all(i.name) as Array<{ name: string | null }>
        ).map((c) => c.name ?? '<expression>');
        const sql = indexSql.get(i.name);
        const where = i.partial && sql ? /\bwhere\b([\s\S]*)$/i.exec(sql)?.[1] : undefined;
        return {
          name: i.origin === 'u' ? `${name}_${keyColumns.join('_')}_key` : i.name,
          unique: i.unique === 1,
          columns: keyColumns,
          where: where ? normalizeSpace(where) : null,
        };
      })
      .sort((x, y) => compareText(x.name, y.name));
    const fkRows = db
      .prepare(
        'SELECT id, seq, "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq',
      )
      .all(name) as Array<{
      id: number;
      table: string;
      from: string;
      to: string | null;
      on_update: string;
      on_delete: string;
    }>;
    const byId = new Map<number, typeof fkRows>();
    for (const row of fkRows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
    const foreignKeys = [...byId.values()].map((parts): ForeignKeySnapshot => {
      const first = parts[0]!;
      const implicit = parts.some((p) => p.to === null);
      return {
        columns: parts.map((p) => p.from),
        references: first.table,
        // `REFERENCES notes` without columns means notes's primary key
        referencedColumns: implicit ? primaryKeyOf(first.table) : parts.map((p) => p.to!),
        onUpdate: first.on_update.toLowerCase(),
        onDelete: first.on_delete.toLowerCase(),
      };
    });
    return {
      name,
      columns,
      primaryKey: rows
        .filter((c) => c.pk > 0)
        .sort((x, y) => x.pk - y.pk)
        .map((c) => c.name),
      indexes,
      foreignKeys: foreignKeys.sort(compareForeignKeys),
    };
  });
  return { engine: 'sqlite', schema: null, tables };
}

// ---------------------------------------------------------------------------------------------
// Postgres

const ACTIONS: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

/** Describes one schema of the Postgres database `client` is on (see `describeSchema`). */
export async function describePostgres(
  client: Client,
  options: DescribeSchemaOptions = {},
): Promise<SchemaSnapshot> {
  const schema = options.schema ?? 'public';
  const ignored = [...(options.ignoreTables ?? [])];
  if (schema === POSTGRES_LEDGER_SCHEMA) ignored.push('migrations');
  // Ordinary and partitioned tables of the schema, without extension-owned ones (PostGIS's
  // spatial_ref_sys) and without partitions (they follow their parent).
  const tableFilter = `n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND NOT (c.relname = ANY($2::text[]))
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')`;
  const params = [schema, ignored];
  const { rows: tableRows } = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${tableFilter} ORDER BY c.relname COLLATE "C"`,
    params,
  );
  const { rows: columnRows } = await client.query<{
    table: string;
    name: string;
    type: string;
    notnull: boolean;
    default: string | null;
    identity: string;
    generated: string;
  }>(
    `SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS notnull, pg_get_expr(ad.adbin, ad.adrelid) AS default,
            a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_attribute a
       JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      WHERE ${tableFilter} AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`,
    params,
  );
  const { rows: indexRows } = await client.query<{
    table: string;
    name: string;
    unique: boolean;
    primary: boolean;
    columns: string[];
    where: string | null;
  }>(
    `SELECT c.relname AS table, i.relname AS name, x.indisunique AS unique,
            x.indisprimary AS primary, pg_get_expr(x.indpred, x.indrelid, true) AS where,
            ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                    FROM generate_series(1, x.indnkeyatts) k ORDER BY k)::text[] AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class c ON c.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE ${tableFilter}`,
    params,
  );
  const { rows: fkRows } = await client.query<{
    table: string;
    columns: string[];
    ref_schema: string;
    ref_table: string;
    ref_columns: string[];
    on_update: string;
    on_delete: string;
  }>(
    `SELECT c.relname AS table, rn.nspname AS ref_schema, rc.relname AS ref_table,
            con.confupdtype AS on_update, con.confdeltype AS on_delete,
            ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
                   ORDER BY k.ord)::text[] AS columns,
            ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
                   ORDER BY k.ord)::text[] AS ref_columns
       FROM pg_constraint con
       JOIN pg_class c ON c.oid = con.conrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class rc ON rc.oid = con.confrelid
       JOIN pg_namespace rn ON rn.oid = rc.relnamespace
      WHERE con.contype = 'f' AND ${tableFilter}`,
    params,
  );
  const tables = tableRows.map(({ name }): TableSnapshot => {
    const primary = indexRows.find((i) => i.table === name && i.primary);
    return {
      name,
      columns: columnRows
        .filter((c) => c.table === name)
        .map((c) => ({
          name: c.name,
          type: c.type.toLowerCase(),
          nullable: !c.notnull,
          default:
            c.identity === 'a'
              ? 'generated always as identity'
              : c.identity === 'd'
                ? 'generated by default as identity'
                : c.generated === 's'
                  ? `generated always as (${c.default})`
                  : c.default,
        })),
      primaryKey: primary?.columns ?? [],
      indexes: indexRows
        .filter((i) => i.table === name && !i.primary)
        .map((i) => ({ name: i.name, unique: i.unique, columns: i.columns, where: i.where }))
        .sort((x, y) => compareText(x.name, y.name)),
      foreignKeys: fkRows
        .filter((f) => f.table === name)
        .map((f) => ({
          columns: f.columns,
          references: f.ref_schema === schema ? f.ref_table : `${f.ref_schema}.${f.ref_table}`,
          referencedColumns: f.ref_columns,
          onUpdate: ACTIONS[f.on_update] ?? f.on_update,
          onDelete: ACTIONS[f.on_delete] ?? f.on_delete,
        }))
        .sort(compareForeignKeys),
    };
  });
  return { engine: 'postgres', schema, tables };
}

// ---------------------------------------------------------------------------------------------
// Comparing

/** One way two schemas differ. Plain data (JSON-serialisable for `--json`). */
export interface SchemaDifference {
  object: 'table' | 'column' | 'primary key' | 'index' | 'foreign key';
  /**
   * `notes` (table, primary key), `notes.archived` (column), `notes_title_idx` (index),
   * `tags (note_id) → notes` (foreign key).
   */
  name: string;
  /** The table it belongs to. */
  table: string;
  /** Present only in the first schema, only in the second, or in both but not the same. */
  change: 'only-in-a' | 'only-in-b' | 'differs';
  /** Its definition in the first / second schema (`integer not null default 0`), or null. */
  a: string | null;
  b: string | null;
  /**
   * One sentence with the environments' names, e.g. `staging has column notes.archived
   * (integer) that production lacks`.
   */
  message: string;
}

/** Definitions of every object of a snapshot, by `<object>:<name>`, with what to say. */
interface ObjectDefinition {
  object: SchemaDifference['object'];
  name: string;
  table: string;
  definition: string;
}

function describeColumn(c: ColumnSnapshot): string {
  return `${c.type || 'no type'}${c.nullable ? '' : ' not null'}${c.default === null ? '' : ` default ${c.default}`}`;
}

function describeIndex(table: string, i: IndexSnapshot): string {
  return `${i.unique ? 'unique ' : ''}on ${table} (${i.columns.join(', ')})${i.where ? ` where ${i.where}` : ''}`;
}

function describeForeignKey(f: ForeignKeySnapshot): string {
  const actions = [
    f.onDelete !== 'no action' ? ` on delete ${f.onDelete}` : '',
    f.onUpdate !== 'no action' ? ` on update ${f.onUpdate}` : '',
  ].join('');
  return `references ${f.references} (${f.referencedColumns.join(', ')})${actions}`;
}

function definitions(snapshot: SchemaSnapshot): Map<string, ObjectDefinition> {
  const out = new Map<string, ObjectDefinition>();
  const add = (d: ObjectDefinition) => out.set(`${d.object}:${d.name}`, d);
  for (const t of snapshot.tables) {
    add({
      object: 'table',
      name: t.name,
      table: t.name,
      definition: `${t.columns.length} column${t.columns.length === 1 ? '' : 's'}`,
    });
    for (const c of t.columns) {
      add({
        object: 'column',
        name: `${t.name}.${c.name}`,
        table: t.name,
        definition: describeColumn(c),
      });
    }
    if (t.primaryKey.length > 0) {
      add({
        object: 'primary key',
        name: t.name,
        table: t.name,
        definition: `(${t.primaryKey.join(', ')})`,
      });
    }
    for (const i of t.indexes) {
      add({ object: 'index', name: i.name, table: t.name, definition: describeIndex(t.name, i) });
    }
    for (const f of t.foreignKeys) {
      add({
        object: 'foreign key',
        name: `${t.name} (${f.columns.join(', ')}) → ${f.references}`,
        table: t.name,
        definition: describeForeignKey(f),
      });
    }
  }
  return out;
}

/** How a difference is put into words; `compareSchemas`'s default names both sides. */
export type DifferencePhrasing = (d: Omit<SchemaDifference, 'message'>) => string;

function phrasingBetween(aName: string, bName: string): DifferencePhrasing {
  return (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a') return `${aName} has ${what(d.a)} that ${bName} lacks`;
    if (d.change === 'only-in-b') return `${bName} has ${what(d.b)} that ${aName} lacks`;
    return `${d.object} ${d.name} is ${d.a} on ${aName} but ${d.b} on ${bName}`;
  };
}

/**
 * The differences between two snapshots, ordered by table then object. Objects of a table
 * present on one side only are not listed one by one (the table is). Pure.
 *
 * @param names what to call each side in the sentences, e.g. `{ a: 'staging', b: 'production' }`
 *   (default `a` / `b`); or a function that words each difference.
 */
export function compareSchemas(
  a: SchemaSnapshot,
  b: SchemaSnapshot,
  names: { a: string; b: string } | DifferencePhrasing = { a: 'a', b: 'b' },
): SchemaDifference[] {
  const phrase = typeof names === 'function' ? names : phrasingBetween(names.a, names.b);
  const left = definitions(a);
  const right = definitions(b);
  const onlyTables = new Set<string>();
  for (const [key, d] of left) if (d.object === 'table' && !right.has(key)) onlyTables.add(d.name);
  for (const [key, d] of right) if (d.object === 'table' && !left.has(key)) onlyTables.add(d.name);
  const out: Array<Omit<SchemaDifference, 'message'>> = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    const l = left.get(key);
    const r = right.get(key);
    const d = (l ?? r)!;
    if (d.object !== 'table' && onlyTables.has(d.table)) continue;
    if (l && r) {
      if (d.object !== 'table' && l.definition !== r.definition) {
        out.push({
          object: d.object,
          name: d.name,
          table: d.table,
          change: 'differs',
          a: l.definition,
          b: r.definition,
        });
      }
    } else {
      out.push({
        object: d.object,
        name: d.name,
        table: d.table,
        change: l ? 'only-in-a' : 'only-in-b',
        a: l?.definition ?? null,
        b: r?.definition ?? null,
      });
    }
  }
  const rank: Record<SchemaDifference['object'], number> = {
    table: 0,
    column: 1,
    'primary key': 2,
    index: 3,
    'foreign key': 4,
  };
  return out
    .sort(
      (x, y) =>
        compareText(x.table, y.table) ||
        rank[x.object] - rank[y.object] ||
        compareText(x.name, y.name),
    )
    .map((d) => ({ ...d, message: phrase(d) }));
}

// ---------------------------------------------------------------------------------------------
// Replaying migrations on a scratch database

export interface ReplayOptions {
  /**
   * Postgres: a connection string to any database on a server where the user may `CREATE
   * DATABASE`; the scratch database is made there and dropped afterwards. Required for
   * Postgres.
   */
  postgresUrl?: string;
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
          hint: `Migrations must build the schema from an empty database. If ${file.filename} depends on objects created outside migrations (an extension, a platform schema such as Supabase's auth), create them in an earlier migration.`,
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
async function replaySchemas(
  engine: 'sqlite' | 'postgres',
  lists: MigrationFile[][],
  options: ReplayOptions,
): Promise<SchemaSnapshot[]> {
  const results: SchemaSnapshot[] = [];
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
        session = await openReplay(engine, options);
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

// ---------------------------------------------------------------------------------------------
// Drift

/** One environment as `detectDrift` sees it. */
export interface EnvironmentSchema {
  /** e.g. `staging`. */
  name: string;
  /** Its live schema (`describeSchema`). */
  schema: SchemaSnapshot;
  /** Its ledger (`MigrationDriver.readLedger`). */
  ledger: LedgerEntry[];
}

/** A difference between an environment's live schema and the one its ledger implies. */
export interface DriftFinding {
  environment: string;
  /** Side `a` is the live schema, side `b` what the applied migrations produce. */
  difference: SchemaDifference;
}

/** A difference between two environments that their ledgers account for. */
export interface PendingDifference {
  /** Sides `a` and `b` are the two environments (as passed to `detectDrift`). */
  difference: SchemaDifference;
  /** The environment that has not applied the migrations behind it. */
  pendingOn: string;
  /** Those migrations: applied on the other environment only. */
  files: string[];
}

export interface DriftResult {
  /** True when either environment's live schema differs from what its ledger implies. */
  drifted: boolean;
  findings: DriftFinding[];
  explainedByPending: PendingDifference[];
  /**
   * Ledger rows whose file changed or is gone (see `planMigrations`): the implied schema then
   * uses the file on disk, or leaves the missing one out.
   */
  problems: Array<MigrationProblem & { environment: string }>;
}

function driftPhrasing(environment: string): DifferencePhrasing {
  return (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a') {
      return `${environment} has ${what(d.a)} that none of its applied migrations creates: it was changed outside migrations`;
    }
    if (d.change === 'only-in-b') {
      return `${environment} lacks ${what(d.b)} that its applied migrations create: it was dropped or changed outside migrations`;
    }
    return `${d.object} ${d.name} on ${environment} is ${d.a}, but its applied migrations make it ${d.b}: it was changed outside migrations`;
  };
}

/**
 * Tells drift (schema changes made outside migrations) from differences the environments'
 * ledgers explain. Replays each environment's applied files on a scratch database (one
 * database for both when one ledger extends the other), compares each live schema with its
 * implied one (a difference is drift, a `DriftFinding`), and the two implied schemas with each
 * other (`explainedByPending`, with the files behind them).
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` when an applied file does not replay on an empty
 *   database; `USAGE` for Postgres schemas without `options.postgresUrl`.
 */
export async function detectDrift(
  input: { a: EnvironmentSchema; b: EnvironmentSchema; files: MigrationFile[] },
  options: ReplayOptions = {},
): Promise<DriftResult> {
  const { a, b, files } = input;
  const engine = a.schema.engine;
  if (b.schema.engine !== engine) {
    throw new UserError(
      'USAGE',
      `${a.name} is on ${engine} but ${b.name} is on ${b.schema.engine}: drift is only compared between databases of one engine.`,
    );
  }
  const problems: DriftResult['problems'] = [];
  const appliedFiles = (env: EnvironmentSchema): MigrationFile[] => {
    for (const p of planMigrations(files, env.ledger).problems)
      problems.push({ ...p, environment: env.name });
    const versions = new Set(env.ledger.map((e) => e.version));
    return files.filter((f) => versions.has(f.version)).sort((x, y) => x.version - y.version);
  };
  const aFiles = appliedFiles(a);
  const bFiles = appliedFiles(b);
  const [aImplied, bImplied] = await replaySchemas(engine, [aFiles, bFiles], {
    ...options,
    schema: options.schema ?? a.schema.schema ?? undefined,
  });
  const findings: DriftFinding[] = [];
  for (const [env, implied] of [
    [a, aImplied!],
    [b, bImplied!],
  ] as const) {
    for (const difference of compareSchemas(env.schema, implied, driftPhrasing(env.name))) {
      findings.push({ environment: env.name, difference });
    }
  }
  const onlyA = aFiles.filter((f) => !bFiles.includes(f)).map((f) => f.filename);
  const onlyB = bFiles.filter((f) => !aFiles.includes(f)).map((f) => f.filename);
  const explainedByPending = compareSchemas(aImplied!, bImplied!, { a: a.name, b: b.name }).map(
    (difference): PendingDifference => {
      const pendingOnB =
        difference.change === 'only-in-a' || (difference.change === 'differs' && onlyA.length > 0);
      const pendingOn = pendingOnB ? b.name : a.name;
      const pendingFiles = pendingOnB ? onlyA : onlyB;
      return {
        difference: {
          ...difference,
          message: `${difference.message}: pending on ${pendingOn} (${pendingFiles.join(', ') || 'no file'})`,
        },
        pendingOn,
        files: pendingFiles,
      };
    },
  );
  return { drifted: findings.length > 0, findings, explainedByPending, problems };
}

/**
 * The `MIGRATION_DRIFT` error for a drifted result (for a command that must fail on drift),
 * naming every finding.
 */
export function driftError(result: DriftResult): UserError {
  const n = result.findings.length;
  return new UserError(
    'MIGRATION_DRIFT',
    `${n} schema difference${n === 1 ? '' : 's'} not explained by migrations: ${result.findings.map((f) => f.difference.message).join('; ')}.`,
    {
      hint: 'Put the change in a migration (`airlock migrate create <name>`) and apply it everywhere, or undo the manual change; then run `airlock migrate drift` again.',
      details: { findings: result.findings },
    },
  );
}

// ---------------------------------------------------------------------------------------------

function normalizeSpace(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareForeignKeys(x: ForeignKeySnapshot, y: ForeignKeySnapshot): number {
  return (
    compareText(x.columns.join(','), y.columns.join(',')) ||
    compareText(x.references, y.references) ||
    compareText(x.referencedColumns.join(','), y.referencedColumns.join(','))
  );
}
