/**
 * The database a project uses, as `airlock init` reads it: the engine from its dependencies
 * (`pg`, `postgres`, `@neondatabase/serverless` → postgres; `better-sqlite3`, `@libsql/client`,
 * `libsql`, `sqlite3` → sqlite) and from its migration tool's configuration, and the folder
 * that tool writes migrations to (drizzle-kit's `out`, Prisma's `prisma/migrations`,
 * postgrator's `migrationPattern`, node-pg-migrate's `migrations`, dbmate's `db/migrations`,
 * Supabase's `supabase/migrations`). The tool's own configuration wins over a guess from
 * dependencies. Reads files only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cleanRelative } from './node-project.ts';

export type EngineGuess = 'postgres' | 'sqlite';

export type MigrationTool =
  | 'drizzle'
  | 'prisma'
  | 'postgrator'
  | 'node-pg-migrate'
  | 'dbmate'
  | 'supabase';

export interface MigrationToolInfo {
  tool: MigrationTool;
  /** The folder it writes migrations to, relative to the project. */
  dir: string;
  /** Where that came from, e.g. `drizzle.config.ts out`. */
  from: string;
  /** The engine its configuration names, when it does. */
  engine: EngineGuess | null;
  /** Where the engine comes from, e.g. `drizzle.config.ts dialect "sqlite"`. */
  engineFrom: string | null;
}

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

const DRIZZLE_CONFIGS = [
  'drizzle.config.ts',
  'drizzle.config.mts',
  'drizzle.config.js',
  'drizzle.config.mjs',
  'drizzle.config.cjs',
  'drizzle.config.json',
];

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A string property of a config file's text (`out: './drizzle'`, `"out": "drizzle"`). */
function property(text: string, key: string): string | null {
  return new RegExp(`["']?${key}["']?\\s*[:=]\\s*["'\`]([^"'\`]+)["'\`]`).exec(text)?.[1] ?? null;
}

function dialectEngine(dialect: string | null): EngineGuess | null {
  if (!dialect) return null;
  if (/^postgres/.test(dialect)) return 'postgres';
  if (/^(sqlite|turso|libsql)/.test(dialect)) return 'sqlite';
  return null;
}

function drizzle(dir: string): MigrationToolInfo | null {
  for (const file of DRIZZLE_CONFIGS) {
    const text = read(path.join(dir, file));
    if (text === null) continue;
    const out = property(text, 'out');
    const dialect = property(text, 'dialect');
    return {
      tool: 'drizzle',
      dir: cleanRelative(out ?? 'drizzle'),
      from: out ? `${file} out` : `${file} (drizzle-kit's default out)`,
      engine: dialectEngine(dialect),
      engineFrom: `${file} dialect "${dialect}"`,
    };
  }
  return null;
}

function prisma(dir: string, pkg: Record<string, unknown>): MigrationToolInfo | null {
  const configured = (pkg.prisma as { schema?: unknown } | undefined)?.schema;
  const candidates = [
    ...(typeof configured === 'string' ? [configured] : []),
    'prisma/schema.prisma',
    'schema.prisma',
    'prisma/schema',
  ];
  for (const rel of candidates) {
    const full = path.join(dir, rel);
    if (!existsSync(full)) continue;
    // A multi-file schema folder (prisma/schema/) has the datasource in one of its files.
    const text =
      read(full) ??
      readdirSync(full)
        .filter((f) => f.endsWith('.prisma'))
        .map((f) => read(path.join(full, f)) ?? '')
        .join('\n');
    const provider = /datasource\s+\w+\s*\{[^}]*provider\s*=\s*"([^"]+)"/s.exec(text)?.[1] ?? null;
    return {
      tool: 'prisma',
      dir: cleanRelative(
        path.posix.join(path.posix.dirname(rel.replaceAll('\\', '/')), 'migrations'),
      ),
      from: `${rel} (Prisma keeps migrations beside the schema)`,
      engine: dialectEngine(provider === 'postgresql' ? 'postgres' : provider),
      engineFrom: `${rel} datasource provider "${provider}"`,
    };
  }
  return null;
}

function postgrator(dir: string, deps: Set<string>): MigrationToolInfo | null {
  for (const file of ['.postgratorrc.json', 'postgrator.json', '.postgratorrc']) {
    const text = read(path.join(dir, file));
    if (text === null) continue;
    const pattern = property(text, 'migrationPattern');
    const folder = pattern ? pattern.replace(/\/?[^/]*\*.*$/, '') : 'migrations';
    const driver = property(text, 'driver');
    return {
      tool: 'postgrator',
      dir: cleanRelative(folder || '.'),
      from: pattern ? `${file} migrationPattern` : `${file} (postgrator's usual migrations/)`,
      engine: driver === 'sqlite3' ? 'sqlite' : driver === 'pg' ? 'postgres' : null,
      engineFrom: `${file} driver "${driver}"`,
    };
  }
  if (deps.has('postgrator') || deps.has('postgrator-cli')) {
    const found = ['migrations', 'db/migrations', 'src/migrations'].find((d) =>
      hasSql(path.join(dir, d), /\.do\./),
    );
    if (found)
      return {
        tool: 'postgrator',
        dir: found,
        from: `${found}/ (NNN.do.name.sql files)`,
        engine: null,
        engineFrom: null,
      };
  }
  return null;
}

function hasSql(folder: string, pattern: RegExp = /\.sql$/): boolean {
  try {
    return readdirSync(folder).some((f) => f.endsWith('.sql') && pattern.test(f));
  } catch {
    return false;
  }
}

function nodePgMigrate(deps: Set<string>, scripts: string): MigrationToolInfo | null {
  if (!deps.has('node-pg-migrate')) return null;
  const flag = /node-pg-migrate[^&|;]*?(?:-m|--migrations-dir)(?:=|\s+)(\S+)/.exec(scripts)?.[1];
  return {
    tool: 'node-pg-migrate',
    dir: cleanRelative(flag ?? 'migrations'),
    from: flag
      ? `the node-pg-migrate script (-m ${flag})`
      : "node-pg-migrate's default migrations/",
    engine: 'postgres',
    engineFrom: 'node-pg-migrate (Postgres only)',
  };
}

function dbmate(dir: string, deps: Set<string>): MigrationToolInfo | null {
  const env = read(path.join(dir, '.env')) ?? '';
  const configured = /^DBMATE_MIGRATIONS_DIR=["']?([^"'\s]+)/m.exec(env)?.[1];
  if (!deps.has('dbmate') && !configured) return null;
  const url = /^(?:DATABASE_URL|DBMATE_DATABASE_URL)=["']?(\w+):/m.exec(env)?.[1] ?? null;
  return {
    tool: 'dbmate',
    dir: cleanRelative(configured ?? 'db/migrations'),
    from: configured ? '.env DBMATE_MIGRATIONS_DIR' : "dbmate's default db/migrations/",
    engine: url
      ? url.startsWith('postgres')
        ? 'postgres'
        : url.startsWith('sqlite')
          ? 'sqlite'
          : null
      : null,
    engineFrom: url ? `.env DATABASE_URL (${url}:)` : null,
  };
}

/**
 * The migration tool a project configures, and its folder; null when none is found.
 * @param pkg the parsed package.json ({} when there is none).
 */
export function detectMigrationTool(
  dir: string,
  pkg: Record<string, unknown>,
): MigrationToolInfo | null {
  const deps = new Set([
    ...Object.keys((pkg.dependencies as object) ?? {}),
    ...Object.keys((pkg.devDependencies as object) ?? {}),
  ]);
  const scripts = Object.values((pkg.scripts as Record<string, unknown>) ?? {})
    .filter((s): s is string => typeof s === 'string')
    .join('\n');
  const supabase = existsSync(path.join(dir, 'supabase/migrations'))
    ? ({
        tool: 'supabase',
        dir: 'supabase/migrations',
        from: 'supabase/migrations/',
        engine: 'postgres',
        engineFrom: 'Supabase',
      } as const)
    : null;
  return (
    drizzle(dir) ??
    prisma(dir, pkg) ??
    postgrator(dir, deps) ??
    nodePgMigrate(deps, scripts) ??
    dbmate(dir, deps) ??
    supabase
  );
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
