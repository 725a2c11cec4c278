/**
 * Which migrations folder a project has, and which tool's layout it is in: read from the tool's
 * own configuration first — wrangler's `[[d1_databases]] migrations_dir` / `migrations_pattern`
 * (wrangler.jsonc, wrangler.json, wrangler.toml), drizzle-kit's `out` (drizzle.config.*),
 * Prisma's `prisma/schema.prisma` (migrations beside it), `.postgratorrc.json`'s
 * `migrationPattern`, node-pg-migrate's `-m` flag in package.json scripts, dbmate's
 * `DBMATE_MIGRATIONS_DIR` (.env), Supabase's `supabase/config.toml` — then from the files of the
 * usual folders (goose's `-- +goose Up`, dbmate's `-- migrate:up`, Airlock's own
 * `NNNN_name.sql`). The engine the tool's configuration names comes along, for `airlock init`.
 * Reads files only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import type { MigrationLayout } from './migration-name.ts';

/** The tools whose folders Airlock reads (`airlock`: its own). */
export type MigrationTool = Exclude<MigrationLayout, 'airlock'> | 'airlock';

export interface DetectedMigrations {
  /** The folder, relative to the project, `/`-separated, no `./` (e.g. `supabase/migrations`). */
  dir: string;
  layout: MigrationLayout;
  tool: MigrationTool;
  /** wrangler's `migrations_pattern`, relative to `dir` (e.g. `*\/migration.sql`), when set. */
  pattern?: string;
  /** Where the folder came from, e.g. `drizzle.config.ts out`. */
  from: string;
  /** The engine the tool's configuration names, when it does. */
  engine: 'postgres' | 'sqlite' | 'd1' | null;
  /** Where the engine comes from, e.g. `drizzle.config.ts dialect "sqlite"`. */
  engineFrom: string | null;
}

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

/** `./drizzle/` → `drizzle`. */
function clean(p: string): string {
  return (
    path.posix
      .normalize(p.replaceAll('\\', '/'))
      .replace(/^\.\/+/, '')
      .replace(/\/+$/, '') || '.'
  );
}

/** A string property of a config file's text (`out: './drizzle'`, `"out": "drizzle"`). */
function property(text: string, key: string): string | null {
  return new RegExp(`["']?${key}["']?\\s*[:=]\\s*["'\`]([^"'\`]+)["'\`]`).exec(text)?.[1] ?? null;
}

function dialectEngine(dialect: string | null): 'postgres' | 'sqlite' | null {
  if (!dialect) return null;
  if (/^postgres/.test(dialect)) return 'postgres';
  if (/^(sqlite|turso|libsql)/.test(dialect)) return 'sqlite';
  return null;
}

type Found = DetectedMigrations | null;

function wrangler(dir: string): Found {
  for (const file of ['wrangler.jsonc', 'wrangler.json', 'wrangler.toml']) {
    const text = read(path.join(dir, file));
    if (text === null) continue;
    let data: Record<string, unknown>;
    try {
      data = (file.endsWith('.toml') ? parseToml(text) : parseJsonc(text)) as Record<
        string,
        unknown
      >;
    } catch {
      return null;
    }
    const sections = [data, ...Object.values((data.env as Record<string, unknown>) ?? {})];
    for (const section of sections) {
      const d1 = (section as { d1_databases?: unknown }).d1_databases;
      if (!Array.isArray(d1) || d1.length === 0) continue;
      const first = d1[0] as { migrations_dir?: unknown; migrations_pattern?: unknown };
      const migrationsDir = typeof first.migrations_dir === 'string' ? first.migrations_dir : null;
      const folder = clean(migrationsDir ?? 'migrations');
      const rawPattern =
        typeof first.migrations_pattern === 'string' ? clean(first.migrations_pattern) : null;
      const pattern = rawPattern?.startsWith(`${folder}/`)
        ? rawPattern.slice(folder.length + 1)
        : null;
      return {
        dir: folder,
        layout: 'wrangler',
        tool: 'wrangler',
        ...(pattern && pattern !== '*.sql' ? { pattern } : {}),
        from: migrationsDir
          ? `${file} migrations_dir${pattern ? ' and migrations_pattern' : ''}`
          : `${file} (wrangler's default migrations/)`,
        engine: 'd1',
        engineFrom: `${file} [[d1_databases]]`,
      };
    }
    return null;
  }
  return null;
}

function drizzle(dir: string): Found {
  for (const file of DRIZZLE_CONFIGS) {
    const text = read(path.join(dir, file));
    if (text === null) continue;
    const out = property(text, 'out');
    const dialect = property(text, 'dialect');
    return {
      dir: clean(out ?? 'drizzle'),
      layout: 'drizzle',
      tool: 'drizzle',
      from: out ? `${file} out` : `${file} (drizzle-kit's default out)`,
      engine: dialectEngine(dialect),
      engineFrom: `${file} dialect "${dialect}"`,
    };
  }
  return null;
}

function prisma(dir: string, pkg: Record<string, unknown>): Found {
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
      dir: clean(path.posix.join(path.posix.dirname(rel.replaceAll('\\', '/')), 'migrations')),
      layout: 'prisma',
      tool: 'prisma',
      from: `${rel} (Prisma keeps migrations beside the schema)`,
      engine: dialectEngine(provider === 'postgresql' ? 'postgres' : provider),
      engineFrom: `${rel} datasource provider "${provider}"`,
    };
  }
  return null;
}

function sqlNames(folder: string): string[] {
  try {
    return readdirSync(folder).filter((f) => f.endsWith('.sql'));
  } catch {
    return [];
  }
}

function postgrator(dir: string, deps: Set<string>): Found {
  for (const file of ['.postgratorrc.json', 'postgrator.json', '.postgratorrc']) {
    const text = read(path.join(dir, file));
    if (text === null) continue;
    const pattern = property(text, 'migrationPattern');
    const folder = pattern ? pattern.replace(/\/?[^/]*\*.*$/, '') : 'migrations';
    const driver = property(text, 'driver');
    return {
      dir: clean(folder || '.'),
      layout: 'postgrator',
      tool: 'postgrator',
      from: pattern ? `${file} migrationPattern` : `${file} (postgrator's usual migrations/)`,
      engine: driver === 'sqlite3' ? 'sqlite' : driver === 'pg' ? 'postgres' : null,
      engineFrom: `${file} driver "${driver}"`,
    };
  }
  if (deps.has('postgrator') || deps.has('postgrator-cli')) {
    const found = ['migrations', 'db/migrations', 'src/migrations'].find((d) =>
      sqlNames(path.join(dir, d)).some((f) => /\.do\./.test(f)),
    );
    if (found)
      return {
        dir: found,
        layout: 'postgrator',
        tool: 'postgrator',
        from: `${found}/ (NNN.do.name.sql files)`,
        engine: null,
        engineFrom: null,
      };
  }
  return null;
}

function nodePgMigrate(deps: Set<string>, scripts: string): Found {
  if (!deps.has('node-pg-migrate')) return null;
  const flag = /node-pg-migrate[^&|;]*?(?:-m|--migrations-dir)(?:=|\s+)(\S+)/.exec(scripts)?.[1];
  return {
    dir: clean(flag ?? 'migrations'),
    layout: 'node-pg-migrate',
    tool: 'node-pg-migrate',
    from: flag
      ? `the node-pg-migrate script (-m ${flag})`
      : "node-pg-migrate's default migrations/",
    engine: 'postgres',
    engineFrom: 'node-pg-migrate (Postgres only)',
  };
}

function dbmate(dir: string, deps: Set<string>): Found {
  const env = read(path.join(dir, '.env')) ?? '';
  const configured = /^DBMATE_MIGRATIONS_DIR=["']?([^"'\s]+)/m.exec(env)?.[1];
  const marked = sqlNames(path.join(dir, 'db/migrations')).some((f) =>
    /^--\s*migrate:up/m.test(read(path.join(dir, 'db/migrations', f)) ?? ''),
  );
  if (!deps.has('dbmate') && !configured && !marked) return null;
  const url = /^(?:DATABASE_URL|DBMATE_DATABASE_URL)=["']?(\w+):/m.exec(env)?.[1] ?? null;
  return {
    dir: clean(configured ?? 'db/migrations'),
    layout: 'dbmate',
    tool: 'dbmate',
    from: configured ? '.env DBMATE_MIGRATIONS_DIR' : "dbmate's default db/migrations/",
    engine: url?.startsWith('postgres') ? 'postgres' : url?.startsWith('sqlite') ? 'sqlite' : null,
    engineFrom: url ? `.env DATABASE_URL (${url}:)` : null,
  };
}

function goose(dir: string): Found {
  const env = read(path.join(dir, '.env')) ?? '';
  const configured = /^GOOSE_MIGRATION_DIR=["']?([^"'\s]+)/m.exec(env)?.[1];
  for (const folder of configured ? [configured] : ['migrations', 'db/migrations', 'sql/schema']) {
    const names = sqlNames(path.join(dir, folder));
    if (names.some((f) => /^--\s*\+goose\s+Up/im.test(read(path.join(dir, folder, f)) ?? ''))) {
      const driver = /^GOOSE_DRIVER=["']?(\w+)/m.exec(env)?.[1] ?? null;
      return {
        dir: clean(folder),
        layout: 'goose',
        tool: 'goose',
        from: configured ? '.env GOOSE_MIGRATION_DIR' : `${folder}/ (-- +goose Up files)`,
        engine: driver?.startsWith('postgres')
          ? 'postgres'
          : driver === 'sqlite3'
            ? 'sqlite'
            : null,
        engineFrom: driver ? `.env GOOSE_DRIVER ${driver}` : null,
      };
    }
  }
  return null;
}

function supabase(dir: string): Found {
  const config = existsSync(path.join(dir, 'supabase/config.toml'));
  if (!config && !existsSync(path.join(dir, 'supabase/migrations'))) return null;
  return {
    dir: 'supabase/migrations',
    layout: 'supabase',
    tool: 'supabase',
    from: config ? 'supabase/config.toml' : 'supabase/migrations/',
    engine: 'postgres',
    engineFrom: 'Supabase',
  };
}

function airlock(dir: string): Found {
  for (const folder of ['migrations', 'db/migrations', 'sql/migrations']) {
    if (sqlNames(path.join(dir, folder)).some((f) => /^\d{4,}_[a-z0-9_]+\.sql$/.test(f)))
      return {
        dir: folder,
        layout: 'airlock',
        tool: 'airlock',
        from: `${folder}/ (NNNN_name.sql files)`,
        engine: null,
        engineFrom: null,
      };
  }
  return null;
}

/**
 * The migrations folder of the project in `projectDir` and the layout it is in; null when no
 * tool is configured and no usual folder holds migrations. wrangler's configuration wins (on
 * Cloudflare wrangler applies the folder, whoever generates it), then the ORM's or tool's own,
 * then the files.
 */
export function detectMigrations(projectDir: string): DetectedMigrations | null {
  const pkg = (() => {
    try {
      return JSON.parse(readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
    } catch {
      return {};
    }
  })();
  const deps = new Set([
    ...Object.keys((pkg.dependencies as object) ?? {}),
    ...Object.keys((pkg.devDependencies as object) ?? {}),
  ]);
  const scripts = Object.values((pkg.scripts as Record<string, unknown>) ?? {})
    .filter((s): s is string => typeof s === 'string')
    .join('\n');
  // wrangler applies the folder its migrations_dir names, whoever generates it; without one,
  // a tool's own configuration says more than wrangler's default.
  const d1 = wrangler(projectDir);
  if (d1 && !d1.from.includes('default')) return d1;
  return (
    drizzle(projectDir) ??
    prisma(projectDir, pkg) ??
    postgrator(projectDir, deps) ??
    nodePgMigrate(deps, scripts) ??
    dbmate(projectDir, deps) ??
    supabase(projectDir) ??
    goose(projectDir) ??
    d1 ??
    airlock(projectDir)
  );
}
