/**
 * The shape of a platform's Postgres database that migrations depend on but do not create, read
 * from the live database's catalog and reproduced on a scratch database (drift replays,
 * migration-replay.ts; dry runs, dry-run.ts), so that a Supabase-shaped project gets a real
 * answer instead of "could not be checked":
 *
 * - **database-level settings**: `ALTER DATABASE … SET …` and `ALTER ROLE … IN DATABASE … SET
 *   …` (`pg_db_role_setting`), such as Supabase's `search_path` that includes `extensions`, so
 *   an unqualified `uuid_generate_v4()` resolves on the scratch database as on the live one;
 * - **extensions** (`pg_extension`), in their schemas;
 * - **platform schemas** with their tables, functions and types (Supabase's `auth`, `storage`,
 *   `extensions`): every schema of the live database except `public`, Airlock's `airlock`, the
 *   system schemas, and the schemas the migrations create themselves. They are copied schema
 *   only with `pg_dump --schema-only --no-owner --no-privileges --schema=… --extension=…`
 *   piped into `psql` (scratch-database.ts), which orders what depends on what.
 *
 * Roles are the server's, not a database's: the scratch database is made on the live
 * database's server, so the roles its policies and grants name (`anon`, `authenticated`,
 * `service_role`) are there already.
 */

import { UserError } from '../errors.ts';
import { redactUrl } from '../secrets/redact.ts';
import { readPostgresStatement } from './lint/postgres-statement.ts';
import type { MigrationFile } from './migration-files.ts';
import { withClient } from './postgres-client.ts';
import { pipeSchemaDump, type ScratchDatabase } from './scratch-database.ts';
import { splitSqlStatements } from './sql-split.ts';

/** One `ALTER DATABASE … SET` (role null) or `ALTER ROLE … IN DATABASE … SET`. */
export interface DatabaseSetting {
  role: string | null;
  name: string;
  /** As Postgres stores it (`"$user", public, extensions`). */
  value: string;
}

/** What a scratch database needs to look like the live one to the migrations. */
export interface PlatformShape {
  settings: DatabaseSetting[];
  /** Extensions the migrations do not create, with the schema each lives in. */
  extensions: Array<{ name: string; schema: string }>;
  /** Schemas to copy (schema only), sorted. */
  schemas: string[];
}

/** Schemas a new database has, or that are Airlock's or the system's. */
const NOT_PLATFORM = new Set(['public', 'airlock', 'information_schema']);

/**
 * The schemas and extensions `files` create themselves (`CREATE SCHEMA`, `CREATE EXTENSION`),
 * which the scratch database must not have before the replay.
 */
function createdByMigrations(files: readonly MigrationFile[]): {
  schemas: Set<string>;
  extensions: Set<string>;
} {
  const schemas = new Set<string>();
  const extensions = new Set<string>();
  for (const file of files) {
    if (!/\bcreate\s+(?:schema|extension)\b/i.test(file.sql)) continue;
    for (const statement of splitSqlStatements(file.sql)) {
      const read = readPostgresStatement(statement.text);
      if (read.kind !== 'create') continue;
      if (read.object === 'schema') for (const n of read.names) schemas.add(n.name);
      if (read.object === 'extension') for (const n of read.names) extensions.add(n.name);
    }
  }
  return { schemas, extensions };
}

/**
 * Reads the platform shape of the live database at `url` (catalog queries only) that `files`
 * do not create themselves.
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when it cannot connect.
 */
export async function readPlatformShape(
  url: string,
  files: readonly MigrationFile[],
): Promise<PlatformShape> {
  const created = createdByMigrations(files);
  return withClient(url, async (client) => {
    const { rows: settingRows } = await client.query<{ role: string | null; config: string[] }>(
      `SELECT r.rolname AS role, s.setconfig AS config
         FROM pg_db_role_setting s
         JOIN pg_database d ON d.oid = s.setdatabase
         LEFT JOIN pg_roles r ON r.oid = s.setrole
        WHERE d.datname = current_database()
        ORDER BY r.rolname NULLS FIRST`,
    );
    const settings = settingRows.flatMap(({ role, config }) =>
      config.map((entry) => {
        const eq = entry.indexOf('=');
        return { role, name: entry.slice(0, eq), value: entry.slice(eq + 1) };
      }),
    );
    const { rows: extensionRows } = await client.query<{ name: string; schema: string }>(
      `SELECT e.extname AS name, n.nspname AS schema
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname <> 'plpgsql'
        ORDER BY e.extname`,
    );
    const { rows: schemaRows } = await client.query<{ name: string }>(
      `SELECT n.nspname AS name FROM pg_namespace n
        WHERE n.nspname !~ '^pg_'
          -- a schema an extension creates comes with the extension
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                          AND d.objid = n.oid AND d.deptype = 'e')
        ORDER BY n.nspname`,
    );
    const schemas = schemaRows
      .map((r) => r.name)
      .filter((s) => !NOT_PLATFORM.has(s) && !created.schemas.has(s));
    const extensions = extensionRows.filter(
      (e) =>
        !created.extensions.has(e.name) &&
        (e.schema === 'public' || schemas.includes(e.schema) || e.schema === 'pg_catalog'),
    );
    return { settings, extensions, schemas };
  });
}

/** True when `shape` asks for nothing (a plain database). */
export function isPlainShape(shape: PlatformShape): boolean {
  return shape.settings.length === 0 && shape.extensions.length === 0 && shape.schemas.length === 0;
}

/** Settings whose value is a list, stored quoted per element (pg_dumpall's `GUC_LIST_QUOTE`). */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
  'shared_preload_libraries',
]);

/** `'a'` with quotes doubled. */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** `"a"` with quotes doubled. */
function identifier(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}

/** The `TO …` part of `SET name TO …` for a stored value (as pg_dumpall writes it). */
function settingValue(name: string, value: string): string {
  if (!LIST_SETTINGS.has(name)) return literal(value);
  const elements: string[] = [];
  for (const match of value.matchAll(/\s*(?:"((?:[^"]|"")*)"|([^,]+?))\s*(?:,|$)/g)) {
    const element = match[1] !== undefined ? match[1].replace(/""/g, '"') : (match[2] ?? '');
    if (element !== '' || match[1] !== undefined) elements.push(element);
  }
  return elements.map(literal).join(', ');
}

/**
 * Gives the (new, empty) scratch database the live database's platform shape: its
 * database-level settings (a role's setting in the database only where the user may set it),
 * then its platform schemas and extensions (one schema-only dump).
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` naming what could not be reproduced, with what
 *   to do; `MIGRATION_DATABASE_UNREACHABLE`.
 */
export async function applyPlatformShape(
  liveUrl: string,
  scratch: ScratchDatabase,
  shape: PlatformShape,
  options: { pgDump?: string; psql?: string } = {},
): Promise<void> {
  if (shape.settings.length > 0) {
    await withClient(scratch.url, async (client) => {
      for (const s of shape.settings) {
        const sql = `${s.role === null ? `ALTER DATABASE ${identifier(scratch.name)}` : `ALTER ROLE ${identifier(s.role)} IN DATABASE ${identifier(scratch.name)}`} SET ${identifier(s.name)} TO ${settingValue(s.name, s.value)}`;
        try {
          await client.query(sql);
        } catch (error) {
          // A role's setting in the database needs more rights than owning it: best effort.
          if (s.role !== null) continue;
          throw new UserError(
            'MIGRATION_SCRATCH_FAILED',
            `Could not give the scratch database the setting ${s.name} = ${s.value}${s.role ? ` of role ${s.role}` : ''} that ${redactUrl(liveUrl)} has: ${(error as Error).message}`,
            {
              hint: "The scratch database reproduces the live database's settings so the migrations run as they do there; its user needs the right to ALTER DATABASE (it owns the scratch database) and to set this parameter.",
              cause: error,
            },
          );
        }
      }
    });
  }
  if (shape.schemas.length === 0) {
    // Extensions in public only: no dump needed.
    await withClient(scratch.url, async (client) => {
      for (const e of shape.extensions) {
        await client
          .query(
            `CREATE EXTENSION IF NOT EXISTS ${identifier(e.name)} WITH SCHEMA ${identifier(e.schema)}`,
          )
          .catch((error: unknown) => {
            throw new UserError(
              'MIGRATION_SCRATCH_FAILED',
              `Could not create the extension ${e.name} that ${redactUrl(liveUrl)} has on the scratch database: ${(error as Error).message}`,
              {
                hint: "The scratch database is made on the live database's server, where the extension is installed; its user needs the right to CREATE EXTENSION (or create the extension in a migration).",
                cause: error,
              },
            );
          });
      }
    });
    return;
  }
  await pipeSchemaDump(
    liveUrl,
    scratch.url,
    [
      ...shape.schemas.map((s) => `--schema=${s}`),
      ...shape.extensions.map((e) => `--extension=${e.name}`),
    ],
    options,
  );
}
