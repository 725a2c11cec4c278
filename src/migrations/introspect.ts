/**
 * Schema introspection: `describeSchema` reads an environment's schema into a normalized
 * `SchemaSnapshot` (schema-snapshot.ts), so two databases with the same schema give equal
 * snapshots: SQLite through `sqlite_master` and its pragma table functions
 * (introspect-sqlite.ts); Postgres through `pg_catalog`, schema `public` unless told otherwise
 * (introspect-postgres.ts). Airlock's ledger and engine internals are left out.
 *
 * Snapshots are compared by schema-compare.ts; drift between environments is explained by
 * schema-drift.ts.
 */

import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { describePostgres } from './introspect-postgres.ts';
import { describeSqlite } from './introspect-sqlite.ts';
import type { DatabaseLocation } from './migration-driver.ts';
import { withClient } from './postgres-client.ts';
import type { DescribeSchemaOptions, SchemaSnapshot } from './schema-snapshot.ts';
import { sqlitePathFromUrl } from './sqlite-migration-driver.ts';

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
