/**
 * Reads a SQLite database's schema into a `SchemaSnapshot` through `sqlite_master` and the
 * `pragma_table_xinfo` / `pragma_index_list` / `pragma_index_xinfo` /
 * `pragma_foreign_key_list` table functions (https://www.sqlite.org/pragma.html#pragfunc).
 */

import type { DatabaseSync } from 'node:sqlite';
import { SQLITE_CLAIM_TABLE } from './database-claim.ts';
import { LEDGER_TABLE, SQLITE_SEED_TABLE } from './ledger.ts';
import {
  compareForeignKeys,
  compareText,
  type DescribeSchemaOptions,
  type ForeignKeySnapshot,
  type IndexSnapshot,
  type SchemaSnapshot,
  type TableSnapshot,
} from './schema-snapshot.ts';
import { TOOL_LEDGER_TABLES } from './tool-ledgers.ts';

/**
 * Tables never described on SQLite: Airlock's ledger and claim, other tools' (`d1_migrations`,
 * `__drizzle_migrations`, …: `TOOL_LEDGER_TABLES`), SQLite's
 * own (`sqlite_*`) and D1 / miniflare's (`_cf_*`, e.g. `_cf_METADATA`).
 */
function ignoredSqliteTable(name: string, extra: Set<string>): boolean {
  return (
    name === LEDGER_TABLE ||
    name === SQLITE_CLAIM_TABLE ||
    name === SQLITE_SEED_TABLE ||
    TOOL_LEDGER_TABLES.includes(name) ||
    name.startsWith('sqlite_') ||
    name.startsWith('_cf_') ||
    extra.has(name)
  );
}

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

function normalizeSpace(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}
