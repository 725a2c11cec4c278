/**
 * D1 databases for Airlock's migrator. In local mode the database is the SQLite file
 * `wrangler dev` (miniflare) keeps for the binding under the environment's `--persist-to`
 * folder, so Airlock's checksummed ledger and the Worker see the same rows. In remote mode it
 * is Cloudflare's D1, reached through the D1 HTTP API with an API token.
 *
 * Tools that read a database's schema directly (the drift gate, `migrate drift`, dry runs) get,
 * for a remote D1 database, a schema-only snapshot: its `sqlite_master` DDL read through the D1
 * HTTP API and replayed into a fresh SQLite file under `<home>/envs/<env>/d1-remote/` (as a
 * Postgres dry run works on a schema-only dump). Nothing written there reaches Cloudflare.
 */

import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ResolvedDatabase } from '../../config/resolve.ts';
import { UserError } from '../../errors.ts';
import { localD1DatabasePath } from '../../migrations/local-d1-database.ts';
import type { DatabaseLocation, MigrationDriver } from '../../migrations/migration-driver.ts';
import { SqliteMigrationDriver } from '../../migrations/sqlite-migration-driver.ts';
import { toolLedgerOf } from '../../pipeline/databases.ts';
import type { DatabaseEngine } from '../provider.ts';
import { d1Binding, findWranglerConfig, readWranglerConfig } from './wrangler-config.ts';

function d1Of(database: ResolvedDatabase) {
  const d1 = database.d1;
  if (database.engine !== 'd1' || !d1)
    throw new UserError('USAGE', 'not a D1 database (engine d1 with provider cloudflare).');
  return d1;
}

/** The wrangler file, binding and database id behind an engine-d1 database. */
export function d1Target(database: ResolvedDatabase): {
  file: string;
  binding: string;
  databaseId: string;
  databaseName: string | null;
  /** The binding's `migrations_table` (wrangler's ledger; wrangler's default `d1_migrations`). */
  migrationsTable: string | null;
} {
  const d1 = d1Of(database);
  const file = d1.wranglerConfig ?? findWranglerConfig(d1.serviceDir);
  if (!file) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `no wrangler.jsonc, wrangler.json or wrangler.toml in ${d1.serviceDir}.`,
      { hint: 'Set services.<name>.cloudflare.config to the Worker’s wrangler file.' },
    );
  }
  const config = readWranglerConfig(file);
  const binding = d1Binding(config, d1.wranglerEnv, d1.binding);
  // wrangler dev keys a local database by preview_database_id, then database_id, then binding.
  const databaseId =
    d1.mode === 'local'
      ? (binding.preview_database_id ?? binding.database_id ?? binding.binding)
      : binding.database_id;
  if (!databaseId) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: the D1 binding ${binding.binding} has no database_id.`,
      { hint: 'Add database_id (from `wrangler d1 list`) to its [[d1_databases]] entry.' },
    );
  }
  return {
    file,
    binding: binding.binding,
    databaseId,
    databaseName: binding.database_name ?? null,
    migrationsTable: binding.migrations_table ?? null,
  };
}

/** The SQLite file wrangler dev keeps for a local-mode D1 database. */
function localD1Location(database: ResolvedDatabase): DatabaseLocation {
  const d1 = d1Of(database);
  const { databaseId } = d1Target(database);
  const file = localD1DatabasePath({
    projectDir: d1.persistDir,
    databaseId,
    persistTo: d1.persistDir,
  });
  return { engine: 'sqlite', url: pathToFileURL(file).href };
}

/**
 * Where the rows of a D1 database are, for tools that read a database directly (dry run,
 * drift, lint): in local mode the file wrangler dev uses; in remote mode a schema-only
 * snapshot of Cloudflare's database (see the module comment), taken now.
 * @throws UserError / ProviderError as the D1 HTTP API does (token, account, unreachable).
 */
export async function d1DatabaseLocation(database: ResolvedDatabase): Promise<DatabaseLocation> {
  const d1 = d1Of(database);
  if (d1.mode === 'local') return localD1Location(database);
  const target = d1Target(database);
  const { openRemoteD1Driver } = await import('./d1-http-driver.ts');
  const driver = await openRemoteD1Driver(database, target);
  let rows: { type: string; name: string; sql: string }[];
  try {
    const [result] = await driver.query([
      {
        sql: "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      },
    ]);
    rows = (result?.results ?? []) as typeof rows;
  } finally {
    await driver.close();
  }
  const dir = path.join(path.dirname(d1.persistDir), 'd1-remote');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${target.databaseId}.schema.sqlite`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
  const db = new DatabaseSync(file);
  try {
    // Tables before what refers to them; sqlite_master lists each kind in creation order.
    const order = ['table', 'view', 'index', 'trigger'];
    for (const row of [...rows].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type)))
      db.exec(row.sql);
  } finally {
    db.close();
  }
  return { engine: 'sqlite', url: pathToFileURL(file).href };
}

/**
 * The migration driver of a D1 database: SQLite on the local file, or the D1 HTTP API.
 * @throws UserError `PROVIDER_CONFIG_INVALID` (wrangler file, binding, id).
 */
export async function openD1MigrationDriver(database: ResolvedDatabase): Promise<MigrationDriver> {
  const d1 = d1Of(database);
  if (d1.mode === 'local')
    return new SqliteMigrationDriver(localD1Location(database).url, {
      toolLedger: toolLedgerOf(database),
    });
  const { openRemoteD1Driver } = await import('./d1-http-driver.ts');
  return openRemoteD1Driver(database, d1Target(database));
}

/** D1 as a database engine the cloudflare provider hosts (see `Provider.databaseEngine`). */
export const d1DatabaseEngine: DatabaseEngine = {
  engine: 'd1',
  open: openD1MigrationDriver,
  location: d1DatabaseLocation,
  // A local database nothing has migrated yet has no file; a remote one always exists.
  async missing(database) {
    if (d1Of(database).mode !== 'local') return false;
    return !existsSync(fileURLToPath(localD1Location(database).url));
  },
};
