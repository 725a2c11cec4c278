/**
 * What `airlock init` finds in a project folder: the platform files the project
 * already has — wrangler.toml / wrangler.jsonc with its [env.*] sections and D1 bindings,
 * fly.toml with fly.<env>.toml beside it, railway.json / railway.toml — the Node project
 * (package manager, build, start: node-project.ts), the database engine and the migration
 * tool's folder (database-detect.ts). Reads files only (the package manager's version may be
 * asked of the machine through `probeVersion`); every guess is the renderer's to explain in a
 * comment, and what could not be decided is listed in `unsure`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { UserError } from '../errors.ts';
import {
  type DetectedMigrations,
  detectMigrations,
  type MigrationTool,
} from '../migrations/detect-migrations.ts';
import { CODE_MIGRATION } from '../migrations/migration-files.ts';
import { MIGRATION_FILENAME, type MigrationLayout } from '../migrations/migration-name.ts';
import {
  findWranglerConfig,
  readWranglerConfig,
  type WranglerEnvironment,
} from '../providers/cloudflare/wrangler-config.ts';
import { type EngineInfo, engineFromDependencies, sqlDialect } from './database-detect.ts';
import { detectNodeProject, type NodeProject, type VersionProbe } from './node-project.ts';

export type InitPlatform = 'cloudflare' | 'fly' | 'railway' | 'local';

export interface PackageInfo {
  name: string | null;
  scripts: Record<string, string>;
  dependencies: string[];
  devDependencies: string[];
  /** The package manager, build and start command (see node-project.ts). */
  node: NodeProject;
}

export interface WranglerInfo {
  /** File name relative to the folder. */
  file: string;
  /** The Worker's name at the top level. */
  name: string | null;
  /** [env.<name>] sections, in file order. */
  environments: string[];
  /** D1 bindings of the top level (else of the first section that has some). */
  d1: Array<{ binding: string; migrationsDir: string | null }>;
}

export interface FlyInfo {
  /** Airlock-side environment name → fly file, e.g. staging → fly.staging.toml. `fly.toml` is under `''`. */
  files: Record<string, string>;
  /** The app of fly.toml (or of the first file read). */
  app: string | null;
  /** The first http_service / services check path. */
  healthPath: string | null;
}

export interface RailwayInfo {
  file: string;
  buildCommand: string | null;
  startCommand: string | null;
  healthcheckPath: string | null;
}

export interface MigrationsInfo {
  /** Folder relative to the project. */
  dir: string;
  /** `supabase`: supabase/migrations (Postgres); `d1`: a wrangler migrations_dir; `sql`: another folder of .sql files. */
  kind: 'supabase' | 'd1' | 'sql';
  files: number;
  /** The layout Airlock reads it in (the tool's, or Airlock's own). */
  layout: MigrationLayout;
  /** wrangler's migrations_pattern, relative to `dir`. */
  pattern?: string;
  /** Files whose names Airlock's own layout accepts (NNNN_name.sql). */
  valid: number;
  /** The lowest number in the file names (drizzle-kit starts at 0000), null when none. */
  first: number | null;
  /** The tool whose configuration names the folder, and where it says so. */
  tool: Exclude<MigrationTool, 'airlock'> | null;
  from: string | null;
}

export interface DatabaseDetection {
  /** The engine, and why; null when nothing says. */
  engine: EngineInfo | null;
  /** Why the engine could not be decided (two kinds of drivers), when so. */
  conflict: string | null;
}

export interface Detection {
  dir: string;
  platform: InitPlatform;
  packageJson: PackageInfo | null;
  wrangler: WranglerInfo | null;
  fly: FlyInfo | null;
  railway: RailwayInfo | null;
  migrations: MigrationsInfo | null;
  database: DatabaseDetection;
  dockerfile: boolean;
  /** One line per thing found, for the output and the file's header. */
  found: string[];
  /** What could not be decided, one sentence each (shown in the output and the file). */
  unsure: string[];
}

export interface DetectOptions {
  /** The version of a package manager on this machine (`pnpm --version`); default: unknown. */
  probeVersion?: VersionProbe;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the JSON, then run `airlock init` again.' },
    );
  }
}

function readToml(file: string): Record<string, unknown> {
  try {
    return parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the TOML, then run `airlock init` again.' },
    );
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

function readPackageJson(dir: string): Record<string, unknown> | null {
  const file = path.join(dir, 'package.json');
  return existsSync(file) ? readJson(file) : null;
}

function packageInfo(
  dir: string,
  data: Record<string, unknown> | null,
  probe: VersionProbe,
): PackageInfo | null {
  if (!data) return null;
  const scripts = Object.fromEntries(
    Object.entries(obj(data.scripts)).filter(
      (e): e is [string, string] => typeof e[1] === 'string',
    ),
  );
  return {
    name: str(data.name),
    scripts,
    dependencies: Object.keys(obj(data.dependencies)),
    devDependencies: Object.keys(obj(data.devDependencies)),
    node: detectNodeProject(dir, data, probe),
  };
}

function d1Of(env: WranglerEnvironment): WranglerInfo['d1'] {
  return (env.d1_databases ?? [])
    .filter((d) => typeof d?.binding === 'string')
    .map((d) => ({ binding: d.binding, migrationsDir: d.migrations_dir ?? null }));
}

function wranglerInfo(dir: string): WranglerInfo | null {
  const file = findWranglerConfig(dir);
  if (!file) return null;
  const config = readWranglerConfig(file);
  const environments = Object.keys(config.env);
  const d1 = d1Of(config.top).length
    ? d1Of(config.top)
    : (environments.map((e) => d1Of(config.env[e] ?? {})).find((l) => l.length) ?? []);
  return { file: path.basename(file), name: str(config.top.name), environments, d1 };
}

/** `[[http_service.checks]]` or `[[services.http_checks]]` path of a fly.toml. */
function flyHealthPath(data: Record<string, unknown>): string | null {
  const http = obj(data.http_service);
  const checks = Array.isArray(http.checks) ? http.checks : [];
  for (const c of checks) {
    const p = str(obj(c).path);
    if (p) return p;
  }
  for (const service of Array.isArray(data.services) ? data.services : []) {
    for (const c of Array.isArray(obj(service).http_checks)
      ? (obj(service).http_checks as unknown[])
      : []) {
      const p = str(obj(c).path);
      if (p) return p;
    }
  }
  for (const c of Object.values(obj(data.checks))) {
    const p = str(obj(c).path);
    if (p) return p;
  }
  return null;
}

const FLY_FILE = /^fly\.([A-Za-z0-9_-]+)\.toml$/;

function flyInfo(dir: string, names: string[]): FlyInfo | null {
  const files: Record<string, string> = {};
  if (names.includes('fly.toml')) files[''] = 'fly.toml';
  for (const name of names) {
    const env = FLY_FILE.exec(name)?.[1];
    if (env) files[env] = name;
  }
  const ordered = Object.values(files);
  if (ordered.length === 0) return null;
  let app: string | null = null;
  let healthPath: string | null = null;
  for (const file of ordered) {
    const data = readToml(path.join(dir, file));
    if (!app || file === 'fly.toml') app = str(data.app) ?? app;
    healthPath ??= flyHealthPath(data);
  }
  return { files, app, healthPath };
}

function railwayInfo(dir: string): RailwayInfo | null {
  for (const file of ['railway.json', 'railway.toml']) {
    const full = path.join(dir, file);
    if (!existsSync(full)) continue;
    const data = file.endsWith('.json') ? readJson(full) : readToml(full);
    const build = obj(data.build);
    const deploy = obj(data.deploy);
    return {
      file,
      buildCommand: str(build.buildCommand),
      startCommand: str(deploy.startCommand),
      healthcheckPath: str(deploy.healthcheckPath),
    };
  }
  return null;
}

function sqlFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.sql'));
  } catch {
    return [];
  }
}

function sqlFilesBelow(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true }) as string[])
      .map((f) => f.replaceAll('\\', '/'))
      .filter((f) => f.endsWith('.sql') && !f.split('/').includes('node_modules'));
  } catch {
    return [];
  }
}

/** The first usual migrations folder that holds code migrations (Kysely's, Knex's), or null. */
function codeMigrations(dir: string): { dir: string; example: string } | null {
  for (const rel of ['migrations', 'db/migrations', 'src/migrations']) {
    try {
      const example = readdirSync(path.join(dir, rel))
        .filter((f) => CODE_MIGRATION.test(f))
        .sort()[0];
      if (example) return { dir: rel, example };
    } catch {
      // no such folder
    }
  }
  return null;
}

function migrationsInfo(dir: string, detected: DetectedMigrations | null): MigrationsInfo | null {
  const usual = ['migrations', 'supabase/migrations', 'db/migrations', 'sql/migrations'];
  const rel =
    detected?.dir ?? usual.find((candidate) => sqlFiles(path.join(dir, candidate)).length > 0);
  if (!rel) return null;
  const layout = detected?.layout ?? 'airlock';
  const files =
    layout === 'airlock' ? sqlFiles(path.join(dir, rel)) : sqlFilesBelow(path.join(dir, rel));
  const numbers = files
    .map((f) => MIGRATION_FILENAME.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  const tool = detected && detected.tool !== 'airlock' ? detected.tool : null;
  return {
    dir: rel.replace(/\/+$/, ''),
    kind: tool === 'supabase' ? 'supabase' : tool === 'wrangler' ? 'd1' : 'sql',
    layout,
    ...(detected?.pattern ? { pattern: detected.pattern } : {}),
    files: files.length,
    valid: numbers.length,
    first: numbers.length ? Math.min(...numbers) : null,
    tool,
    from: tool ? (detected?.from ?? null) : null,
  };
}

/**
 * The engine: the migration tool's configuration first, then Supabase's folder, then what the
 * migrations' SQL is written for (Airlock runs those files), then the dependencies. A driver
 * dependency that disagrees with the SQL is reported, not followed.
 */
function databaseDetection(
  dir: string,
  migrations: MigrationsInfo | null,
  pkg: Record<string, unknown> | null,
  tool: DetectedMigrations | null,
): DatabaseDetection {
  const fromDeps = engineFromDependencies(pkg ?? {});
  if (tool?.engine && tool.engine !== 'd1')
    return {
      engine: { engine: tool.engine, from: tool.engineFrom ?? tool.from },
      conflict: null,
    };
  if (migrations?.kind === 'supabase')
    return { engine: { engine: 'postgres', from: 'supabase/migrations/' }, conflict: null };
  const sql = migrations ? sqlDialect(path.join(dir, migrations.dir)) : null;
  if (sql) {
    const deps = fromDeps.engine;
    return {
      engine: sql,
      conflict:
        deps && deps.engine !== sql.engine
          ? `the ${deps.from} is a ${deps.engine} driver, but ${migrations?.dir}/ is written for ${sql.engine} (${sql.from}): wrote ${sql.engine}`
          : null,
    };
  }
  return fromDeps;
}

/** Looks at `dir` and says what Airlock would start from. */
export function detectProject(dir: string, options: DetectOptions = {}): Detection {
  const names = readdirSync(dir);
  const pkg = readPackageJson(dir);
  const packageJson = packageInfo(dir, pkg, options.probeVersion ?? (() => null));
  const wrangler = wranglerInfo(dir);
  const fly = flyInfo(dir, names);
  const railway = railwayInfo(dir);
  const detected = detectMigrations(dir);
  const migrations = migrationsInfo(dir, detected);
  const database = databaseDetection(dir, migrations, pkg, detected);
  const platform: InitPlatform = wrangler
    ? 'cloudflare'
    : fly
      ? 'fly'
      : railway
        ? 'railway'
        : 'local';
  const found: string[] = [];
  if (wrangler) {
    const envs = wrangler.environments.map((e) => `[env.${e}]`).join(', ');
    found.push(
      `${wrangler.file}${envs ? ` with ${envs}` : ' (no [env.*] sections)'}${wrangler.d1.length ? `, D1 ${wrangler.d1.map((d) => d.binding).join(', ')}` : ''}`,
    );
  }
  if (fly) found.push(Object.values(fly.files).join(' + '));
  if (railway) found.push(railway.file);
  if (packageJson) {
    const scripts = ['build', 'start'].filter((s) => packageJson.scripts[s]);
    const pm = packageJson.node.packageManager;
    found.push(
      `package.json${scripts.length ? ` (scripts: ${scripts.join(', ')})` : ''}, ${pm.name}${pm.name === 'yarn' ? (pm.berry ? ' 2+' : ' 1') : ''} (${pm.source})`,
    );
  }
  if (migrations)
    found.push(
      `${migrations.dir}/ (${migrations.files} .sql file${migrations.files === 1 ? '' : 's'}${migrations.from && migrations.from !== `${migrations.dir}/` ? `, from ${migrations.from}` : ''})`,
    );
  // A Worker's D1 binding is written as engine d1 (SQLite on Cloudflare), whatever else says.
  const d1 = platform === 'cloudflare' ? wrangler?.d1[0] : undefined;
  if (d1 && database.engine?.engine === 'postgres')
    found.push(`database engine d1 (the D1 binding ${d1.binding} of ${wrangler?.file})`);
  else if (d1 && database.engine)
    found.push(`database engine d1 (D1 is SQLite: ${database.engine.from})`);
  else if (database.engine)
    found.push(`database engine ${database.engine.engine} (${database.engine.from})`);
  const dockerfile = names.includes('Dockerfile');
  if (platform === 'fly' && dockerfile) found.push('Dockerfile');
  const others = [wrangler && 'cloudflare', fly && 'fly', railway && 'railway'].filter(Boolean);
  if (others.length > 1)
    found.push(`several platforms (${others.join(', ')}): starting from ${platform}`);
  const unsure = [...(packageJson?.node.unsure ?? [])];
  if (d1 && database.engine?.engine === 'postgres')
    unsure.push(
      `the database engine: wrote d1 for the D1 binding ${d1.binding}, but ${database.engine.from} points to Postgres; D1 runs SQLite, so its migrations must be written for SQLite.`,
    );
  const code = migrations ? null : codeMigrations(dir);
  if (code)
    unsure.push(
      `the database: ${code.dir}/ holds migrations written as code (${code.example}), which Airlock does not run, so no database was written. Airlock runs SQL files: see "From a code migrator" in docs/migrations.md.`,
    );
  if (database.conflict)
    unsure.push(
      `the database engine: ${database.conflict}; set database.engine to the one the app uses in production, with migrations written for it.`,
    );
  return {
    dir,
    platform,
    packageJson,
    wrangler,
    fly,
    railway,
    migrations,
    database,
    dockerfile,
    found,
    unsure,
  };
}
