/**
 * `airlock migrate adopt --from wrangler` on a local D1 database: which SQLite file holds the
 * ledger wrangler wrote (`d1_migrations`), and whether the environment's own database is that
 * same database.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { describeSchema } from './introspect.ts';
import { findLocalD1Database } from './local-d1-database.ts';
import { compareSchemas } from './schema-compare.ts';

/**
 * The local D1 database to adopt from: `given` (a path, or a binding's database id), else the
 * environment's own SQLite file `own` when it holds `d1_migrations`, else the only local D1
 * database wrangler made under `projectDir`. When that is another file than `own`, it must
 * hold the same schema: otherwise `own`'s ledger would claim migrations it never ran.
 * @param options.cwd paths inside it are shown relative to it in messages (others absolute).
 * @returns the file's absolute path.
 * @throws UserError `MIGRATION_ADOPT_SOURCE_NOT_FOUND` (no such database, or several);
 *   `MIGRATION_ADOPT_MISMATCH` when the schemas differ.
 */
export async function localD1Source(options: {
  projectDir: string;
  own: string;
  given: string | undefined;
  environment: string;
  cwd: string;
}): Promise<string> {
  const file = await pickLocalD1Database(options);
  if (path.resolve(file) !== path.resolve(options.own)) {
    await sameSchemaOrRefuse(file, options.own, options.environment, options.cwd);
  }
  return file;
}

async function pickLocalD1Database(options: {
  projectDir: string;
  own: string;
  given: string | undefined;
}): Promise<string> {
  const { projectDir, own, given } = options;
  if (given) {
    const file = path.resolve(given);
    // Not a file and not path-like: the binding's preview_database_id or database_id.
    if (!existsSync(file) && !/[\\/]|\.(sqlite3?|db)$/.test(given)) {
      return findLocalD1Database({ projectDir, databaseId: given });
    }
    return file;
  }
  if (await sqliteHasTable(own, 'd1_migrations')) return own;
  return findLocalD1Database({ projectDir });
}

/** True when the SQLite file at `file` exists and has the table `table`. */
async function sqliteHasTable(file: string, table: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Boolean(
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table),
    );
  } finally {
    db.close();
  }
}

/**
 * Adopting a D1 file's ledger into another file (the environment's) is only right when that
 * file holds the same schema.
 */
async function sameSchemaOrRefuse(
  source: string,
  target: string,
  environment: string,
  cwd: string,
): Promise<void> {
  if (!existsSync(source)) return; // adoptLedger reports the missing source
  // Relative inside the working folder; absolute outside it (an environment's database is in
  // Airlock's home, outside the project).
  const shown = (p: string) => {
    const rel = path.relative(cwd, p);
    return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel || '.';
  };
  const differences = compareSchemas(
    await describeSchema({ engine: 'sqlite', url: source }),
    await describeSchema({ engine: 'sqlite', url: target }),
    { a: `the D1 database`, b: `${environment}'s database` },
  );
  if (differences.length === 0) return;
  throw new UserError(
    'MIGRATION_ADOPT_MISMATCH',
    `${environment}'s database (${shown(target)}) is not the D1 database wrangler migrated (${shown(source)}): ${differences
      .slice(0, 5)
      .map((d) => d.message)
      .join(
        '; ',
      )}${differences.length > 5 ? `; and ${differences.length - 5} more` : ''}. Nothing was written.`,
    {
      hint: `Adopt the database ${environment} really uses: with wrangler stopped, copy the D1 file (and its -wal file, if any) to ${shown(target)}, then run the command again.`,
      details: { source, target, differences },
    },
  );
}
