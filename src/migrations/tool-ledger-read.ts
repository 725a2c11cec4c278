/**
 * Reading another tool's ledger (tool-ledgers.ts names the tables) from a SQLite file or a
 * Postgres database, for `airlock migrate adopt --from <tool>`.
 */
import { DatabaseSync } from 'node:sqlite';
import type { DatabaseLocation } from './migration-driver.ts';
import { withClient } from './postgres-client.ts';
import { sqlitePathFromUrl } from './sqlite-migration-driver.ts';
import { type ToolLayout, toolLedgerTable } from './tool-ledgers.ts';

/** One row of a tool's ledger: the key it matches files by, and when it ran if it says. */
export interface ToolLedgerRow {
  key: string;
  appliedAt: string | null;
}

/** The query that lists a tool's applied rows as (key, applied_at text). */
function readQuery(layout: ToolLayout, pg: boolean): { table: string; sql: string } {
  const table = toolLedgerTable(layout, pg ? 'postgres' : 'sqlite');
  const q = (sql: string) => ({ table, sql });
  switch (layout) {
    case 'wrangler':
      return q('SELECT name AS key, applied_at AS at FROM d1_migrations ORDER BY id');
    case 'supabase':
      return q(
        'SELECT (version::numeric)::text AS key, NULL AS at FROM supabase_migrations.schema_migrations ORDER BY version',
      );
    case 'drizzle':
      return q(`SELECT hash AS key, created_at AS at FROM ${table} ORDER BY created_at`);
    case 'prisma':
      return q(
        'SELECT migration_name AS key, finished_at AS at FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY started_at',
      );
    case 'dbmate':
      return q(
        `SELECT ${pg ? '(version::numeric)::text' : 'CAST(CAST(version AS INTEGER) AS TEXT)'} AS key, NULL AS at FROM schema_migrations`,
      );
    case 'goose':
      // The latest row per version says whether it is applied; version 0 is goose's own.
      return q(
        `SELECT CAST(version_id AS TEXT) AS key, tstamp AS at FROM goose_db_version g WHERE version_id > 0 AND id = (SELECT MAX(id) FROM goose_db_version h WHERE h.version_id = g.version_id) AND is_applied ${pg ? '' : '= 1'} ORDER BY id`,
      );
    case 'node-pg-migrate':
      return q('SELECT name AS key, run_on AS at FROM pgmigrations ORDER BY run_on, id');
    case 'postgrator':
      return q(
        'SELECT CAST(version AS TEXT) AS key, run_at AS at FROM schemaversion WHERE version > 0 ORDER BY version',
      );
  }
}

function isoOrNull(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value).replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * Every applied row of `layout`'s ledger in the database at `location`, in the order the tool
 * ran them; `[]` when the table is missing.
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` for an unreachable Postgres.
 */
export async function readToolLedger(
  layout: ToolLayout,
  location: DatabaseLocation,
): Promise<ToolLedgerRow[]> {
  const pg = location.engine === 'postgres';
  const { table, sql } = readQuery(layout, pg);
  if (pg) {
    return withClient(location.url, async (client) => {
      const { rows: present } = await client.query<{ ok: boolean }>(
        'SELECT to_regclass($1) IS NOT NULL AS ok',
        [table],
      );
      if (!present[0]?.ok) return [];
      const { rows } = await client.query<{ key: string; at: unknown }>(sql);
      return rows.map((r) => ({ key: String(r.key), appliedAt: isoOrNull(r.at) }));
    });
  }
  const db = new DatabaseSync(sqlitePathFromUrl(location.url), { readOnly: true });
  try {
    const present = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(table.replace(/^drizzle\./, ''));
    if (!present) return [];
    return (db.prepare(sql).all() as Array<{ key: unknown; at: unknown }>).map((r) => ({
      key: String(r.key),
      appliedAt: layout === 'drizzle' ? null : isoOrNull(r.at),
    }));
  } finally {
    db.close();
  }
}
