/**
 * Reads one schema of a Postgres database into a `SchemaSnapshot` through `pg_catalog`
 * (`pg_class`, `pg_attribute`, `pg_index`, `pg_constraint`;
 * https://www.postgresql.org/docs/current/catalogs.html). Only catalog queries run.
 */

import type { Client } from 'pg';
import { POSTGRES_CLAIM_TABLE_NAME } from './database-claim.ts';
import { POSTGRES_LEDGER_SCHEMA } from './ledger.ts';
import {
  compareForeignKeys,
  compareText,
  type DescribeSchemaOptions,
  type SchemaSnapshot,
  type TableSnapshot,
} from './schema-snapshot.ts';
import { TOOL_LEDGER_TABLES } from './tool-ledgers.ts';

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
  if (schema === POSTGRES_LEDGER_SCHEMA) ignored.push('migrations', POSTGRES_CLAIM_TABLE_NAME);
  // Other tools' ledgers (co-existence writes them): bookkeeping, not the application's schema.
  if (schema === 'public') ignored.push(...TOOL_LEDGER_TABLES);
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
