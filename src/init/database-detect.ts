/**
 * The database engine a project uses, as `airlock init` reads it: from its dependencies (`pg`,
 * `postgres`, `@neondatabase/serverless` → postgres; `better-sqlite3`, `@libsql/client`,
 * `libsql`, `sqlite3` → sqlite) and from the SQL its migrations are written in. The migrations
 * folder and its tool's layout are `detectMigrations` (src/migrations/detect-migrations.ts).
 * Reads files only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type EngineGuess = 'postgres' | 'sqlite';

export interface EngineInfo {
  engine: EngineGuess;
  /** Why, e.g. `drizzle.config.ts dialect "sqlite"` or `dependency pg`. */
  from: string;
}

const POSTGRES_DEPS = [
  'pg',
  'postgres',
  '@neondatabase/serverless',
  '@vercel/postgres',
  'pg-promise',
  'slonik',
  '@supabase/supabase-js',
];
const SQLITE_DEPS = ['better-sqlite3', '@libsql/client', 'libsql', 'sqlite3', 'sqlite'];

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The engine the dependencies point to; null when none or both. */
export function engineFromDependencies(pkg: Record<string, unknown>): {
  engine: EngineInfo | null;
  conflict: string | null;
} {
  const deps = Object.keys((pkg.dependencies as object) ?? {});
  const pg = deps.filter((d) => POSTGRES_DEPS.includes(d));
  const lite = deps.filter((d) => SQLITE_DEPS.includes(d));
  if (pg.length && lite.length)
    return {
      engine: null,
      conflict: `dependencies for both Postgres (${pg.join(', ')}) and SQLite (${lite.join(', ')})`,
    };
  if (pg.length)
    return { engine: { engine: 'postgres', from: `dependency ${pg[0]}` }, conflict: null };
  if (lite.length)
    return { engine: { engine: 'sqlite', from: `dependency ${lite[0]}` }, conflict: null };
  return { engine: null, conflict: null };
}

const SQLITE_MARKERS = /\b(AUTOINCREMENT|PRAGMA|WITHOUT\s+ROWID|STRICT\s*;|sqlite_\w+)\b/i;
const POSTGRES_MARKERS =
  /\b(BIGSERIAL|SERIAL|TIMESTAMPTZ|JSONB|GENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY|CREATE\s+EXTENSION|gen_random_uuid|uuid_generate_v4|CREATE\s+SCHEMA|ENABLE\s+ROW\s+LEVEL\s+SECURITY)\b|::\w+|\$\$/i;

/**
 * The engine the SQL of a migrations folder is written for, from words only one engine
 * accepts (`AUTOINCREMENT`, `PRAGMA` → sqlite; `SERIAL`, `TIMESTAMPTZ`, `JSONB`, `::type` →
 * postgres); null when the files say neither or both. Reads at most 50 files.
 */
export function sqlDialect(folder: string): EngineInfo | null {
  let files: string[];
  try {
    files = readdirSync(folder)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .slice(0, 50);
  } catch {
    return null;
  }
  let sqlite: string | null = null;
  let postgres: string | null = null;
  for (const f of files) {
    const text = (read(path.join(folder, f)) ?? '').replace(/--[^\n]*/g, '');
    const s = SQLITE_MARKERS.exec(text)?.[0];
    const p = POSTGRES_MARKERS.exec(text)?.[0];
    if (s && !sqlite) sqlite = `${s.trim()} in ${f}`;
    if (p && !postgres) postgres = `${p.trim()} in ${f}`;
  }
  if (sqlite && !postgres) return { engine: 'sqlite', from: sqlite };
  if (postgres && !sqlite) return { engine: 'postgres', from: postgres };
  return null;
}
