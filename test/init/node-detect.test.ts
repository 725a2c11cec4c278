/**
 * What `airlock init` reads from Node projects laid out as their tools lay them out (lockfiles,
 * `packageManager`, tsconfig outDir, start scripts, drizzle / Prisma / postgrator /
 * node-pg-migrate / dbmate configurations), and the file it writes for them, loaded by the real
 * loader. In process: `detectProject` + `renderInit` on real folders. The recipes themselves run
 * in recipes.test.ts and the realistic-service test.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { detectProject } from '../../src/init/detect.ts';
import type { PackageManagerName } from '../../src/init/node-project.ts';
import { basePortFor, choosePorts } from '../../src/init/ports.ts';
import { renderInit } from '../../src/init/render.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, string | object>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-node-detect-'));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(
      path.join(dir, rel),
      typeof content === 'string' ? content : JSON.stringify(content),
    );
  }
  return dir;
}

/** Detects, renders, loads: the service of staging and the text. */
function init(dir: string, versions: Partial<Record<PackageManagerName, string>> = {}) {
  const detection = detectProject(dir, { probeVersion: (name) => versions[name] ?? null });
  const { yaml, unsure } = renderInit(detection, { ports: [5101, 5102] });
  const config = parseConfig(yaml, path.join(dir, 'airlock.yaml'), 'airlock.yaml', {
    STAGING_DATABASE_URL: 'postgres://localhost/s',
    PRODUCTION_DATABASE_URL: 'postgres://localhost/p',
  });
  const name = config.services[0] as string;
  const service = config.environments.staging?.services[name];
  if (!service) throw new Error('no staging service');
  return { detection, yaml, unsure, service, config };
}

const TSCONFIG = {
  compilerOptions: { outDir: './build', rootDir: './src', module: 'NodeNext' },
  include: ['src'],
};

describe('airlock init on Node projects', () => {
  it("says a migrations folder of code (Kysely's .ts) is not run, instead of finding no folder", () => {
    const dir = folder({
      'package.json': {
        name: 'kysely-svc',
        scripts: { start: 'node server.js' },
        dependencies: { kysely: '0.28', pg: '8' },
      },
      'package-lock.json': '{}',
      'server.js': '',
      'migrations/2024_01_01_init.ts': 'export async function up() {}\n',
    });
    const { unsure, yaml, service } = init(dir);
    expect(service.database ?? null).toBeNull();
    expect(unsure).toContainEqual(
      expect.stringContaining(
        'migrations/ holds migrations written as code (2024_01_01_init.ts), which Airlock does not run',
      ),
    );
    expect(yaml).toContain('From a code migrator');
  });

  it('pnpm + TypeScript + drizzle (sqlite, libsql): pnpm deploy, the tsconfig outDir, the compiled start, drizzle’s out folder', () => {
    const dir = folder({
      'package.json': {
        name: '@acme/todo-api',
        type: 'module',
        scripts: { build: 'tsc', start: 'tsx src/index.ts' },
        dependencies: { hono: '4', '@libsql/client': '0.18.0', 'drizzle-orm': '0.45' },
        devDependencies: { 'drizzle-kit': '0.31', typescript: '5', tsx: '4' },
      },
      'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      'tsconfig.json': `{
  // comments and trailing commas, as tsc accepts them
  "compilerOptions": { "outDir": "./build", "rootDir": "./src", },
}`,
      'drizzle.config.ts':
        "import { defineConfig } from 'drizzle-kit';\nexport default defineConfig({ dialect: 'sqlite', schema: './src/db/schema.ts', out: './db/drizzle' });\n",
      'db/drizzle/0000_init.sql': 'CREATE TABLE `todos` (`id` integer PRIMARY KEY);\n',
    });
    const { service, yaml, unsure, config } = init(dir, { pnpm: '12.24.0' });
    expect(config.project).toBe('todo-api');
    expect(service.build).toMatchObject({
      command:
        'pnpm install --frozen-lockfile && pnpm run build && rm -rf .airlock-release && pnpm --filter=. deploy --prod .airlock-release && rm -f .airlock-release/node_modules/.modules.yaml .airlock-release/node_modules/.pnpm-workspace-state*.json && cp -R build/. .airlock-release/build',
      output: '.airlock-release',
    });
    expect(service.run).toBe('node build/index.js');
    expect(service.database).toMatchObject({
      engine: 'sqlite',
      migrations: 'db/drizzle',
      layout: { layout: 'drizzle' },
      toolLedger: true,
    });
    expect(service.port).toBe(5101);
    expect(config.environments.production?.services['todo-api']?.port).toBe(5102);
    expect(yaml).toContain('pnpm (pnpm-lock.yaml, pnpm 12.24.0 on this machine)');
    expect(yaml).toMatch(/database engine sqlite \(drizzle\.config\.ts/);
    expect(yaml).toContain('`airlock migrate hash` records them in db/drizzle/airlock.sum');
    // drizzle-kit's numbering from 0000 is its layout, read as it is: nothing to rename.
    expect(yaml).toContain('migrations: { dir: db/drizzle, layout: drizzle }');
    expect(unsure.join('\n')).not.toContain('0000');
  });

  it('pnpm 10 (packageManager) needs --legacy; an unknown pnpm version is said', () => {
    const files = {
      'package.json': {
        name: 'api',
        packageManager: 'pnpm@10.12.1+sha512.abc',
        scripts: { build: 'tsc', start: 'node build/index.js' },
        dependencies: { hono: '4' },
      },
      'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      'tsconfig.json': TSCONFIG,
    };
    expect(init(folder(files)).service.build.command).toContain(
      'pnpm --filter=. deploy --prod --legacy .airlock-release',
    );
    const unknown = init(
      folder({
        ...files,
        'package.json': { ...files['package.json'], packageManager: undefined },
      }),
    );
    expect(unknown.service.build.command).toContain(
      'pnpm --filter=. deploy --prod .airlock-release',
    );
    expect(unknown.unsure.join('\n')).toContain('the pnpm version');
  });

  it('npm + TypeScript: a copy with package-lock.json and npm ci --omit=dev inside; a prepare script is left out of the release', () => {
    const dir = folder({
      'package.json': {
        name: 'orders',
        scripts: {
          build: 'tsc -p tsconfig.build.json',
          start: 'node build/main.js',
          prepare: 'husky',
        },
        dependencies: { pg: '8', fastify: '5' },
        devDependencies: { typescript: '5', husky: '9' },
      },
      'package-lock.json': '{}',
      '.npmrc': 'engine-strict=true\n',
      'tsconfig.build.json': { extends: './tsconfig.json', exclude: ['test'] },
      'tsconfig.json': TSCONFIG,
      '.postgratorrc.json': { migrationPattern: 'db/migrations/*', driver: 'pg' },
      'db/migrations/001.do.create_orders.sql': 'CREATE TABLE orders (id bigserial);\n',
      'db/migrations/001.undo.create_orders.sql': 'DROP TABLE orders;\n',
    });
    const { service, yaml } = init(dir);
    expect(service.build.command).toBe(
      'npm ci && npm run build && rm -rf .airlock-release && mkdir .airlock-release && cp -R build package.json package-lock.json .npmrc .airlock-release/ && cd .airlock-release && npm pkg delete scripts.prepare && npm ci --omit=dev',
    );
    expect(service.run).toBe('node build/main.js');
    expect(service.database).toMatchObject({
      engine: 'postgres',
      migrations: 'db/migrations',
      layout: { layout: 'postgrator' },
    });
    expect(service.database?.url).toBe('postgres://localhost/s');
    expect(yaml).toMatch(/database engine postgres \(\.postgratorrc\.json/);
    expect(yaml).toContain('databaseUrl: ${STAGING_DATABASE_URL}');
  });

  it('Yarn 1, Yarn 2+ (node-modules linker for the release) and bun', () => {
    const app = (extra: object) => ({
      name: 'svc',
      scripts: { build: 'tsc', start: 'node build/index.js' },
      dependencies: { hono: '4' },
      ...extra,
    });
    const classic = init(
      folder({
        'package.json': app({}),
        'yarn.lock': '# THIS IS AN AUTOGENERATED FILE.\n# yarn lockfile v1\n',
        'tsconfig.json': TSCONFIG,
      }),
    );
    expect(classic.service.build.command).toBe(
      'yarn install --frozen-lockfile && yarn run build && rm -rf .airlock-release && mkdir .airlock-release && cp -R build package.json yarn.lock .airlock-release/ && cd .airlock-release && yarn install --production --frozen-lockfile',
    );
    const berry = init(
      folder({
        'package.json': app({ packageManager: 'yarn@4.5.0' }),
        'yarn.lock': '__metadata:\n  version: 8\n',
        '.yarnrc.yml': 'yarnPath: .yarn/releases/yarn-4.5.0.cjs\n',
        '.yarn/releases/yarn-4.5.0.cjs': '',
        'tsconfig.json': TSCONFIG,
      }),
    );
    expect(berry.service.build.command).toBe(
      'yarn install --immutable && yarn run build && rm -rf .airlock-release && mkdir .airlock-release && cp -R build package.json yarn.lock .yarnrc.yml .airlock-release/ && mkdir .airlock-release/.yarn && cp -R .yarn/releases .airlock-release/.yarn/ && cd .airlock-release && YARN_NODE_LINKER=node-modules yarn workspaces focus --production',
    );
    const bun = init(
      folder({ 'package.json': app({}), 'bun.lock': '{}', 'tsconfig.json': TSCONFIG }),
    );
    expect(bun.service.build.command).toBe(
      'bun install --frozen-lockfile && bun run build && rm -rf .airlock-release && mkdir .airlock-release && cp -R build package.json bun.lock .airlock-release/ && cd .airlock-release && bun install --production --frozen-lockfile',
    );
  });

  it('no build script: the checkout with production dependencies; the start script as written', () => {
    const { service } = init(
      folder({
        'package.json': {
          name: 'plain',
          scripts: { start: 'node server.js' },
          dependencies: { ms: '2' },
        },
        'pnpm-lock.yaml': "lockfileVersion: '9.0'\n",
      }),
    );
    expect(service.build).toMatchObject({
      command:
        'pnpm install --prod --frozen-lockfile && rm -f node_modules/.modules.yaml node_modules/.pnpm-workspace-state*.json',
      output: '.',
    });
    expect(service.run).toBe('node server.js');
  });

  it('engines and folders from Prisma, node-pg-migrate, dbmate and drizzle on Postgres', () => {
    const prisma = init(
      folder({
        'package.json': { name: 'p', dependencies: { '@prisma/client': '6' } },
        'prisma/schema.prisma':
          'datasource db {\n  provider = "postgresql"\n  url = env("DATABASE_URL")\n}\n',
        'prisma/migrations/20240101000000_init/migration.sql': 'CREATE TABLE a (id int);\n',
      }),
    );
    expect(prisma.service.database).toMatchObject({
      engine: 'postgres',
      migrations: 'prisma/migrations',
      layout: { layout: 'prisma' },
    });
    const npm = init(
      folder({
        'package.json': {
          name: 'n',
          scripts: { migrate: 'node-pg-migrate -m db/pg-migrations' },
          dependencies: { pg: '8', 'node-pg-migrate': '7' },
        },
      }),
    );
    expect(npm.service.database).toMatchObject({
      engine: 'postgres',
      migrations: 'db/pg-migrations',
      layout: { layout: 'node-pg-migrate' },
    });
    const dbmate = init(
      folder({
        'package.json': { name: 'd', devDependencies: { dbmate: '2' } },
        '.env': 'DATABASE_URL="sqlite:db/app.sqlite3"\n',
        'db/migrations/20240101000000_init.sql': '-- migrate:up\nCREATE TABLE a (id int);\n',
      }),
    );
    expect(dbmate.service.database).toMatchObject({
      engine: 'sqlite',
      migrations: 'db/migrations',
      layout: { layout: 'dbmate' },
    });
    const drizzle = init(
      folder({
        'package.json': { name: 'z', dependencies: { postgres: '3', 'drizzle-orm': '0.45' } },
        'drizzle.config.json': { dialect: 'postgresql', out: 'drizzle' },
      }),
    );
    expect(drizzle.service.database).toMatchObject({
      engine: 'postgres',
      migrations: 'drizzle',
      layout: { layout: 'drizzle' },
    });
  });

  it('a pg dependency without migrations says postgres in the comment; several lockfiles are named', () => {
    const { yaml, unsure } = init(
      folder({
        'package.json': {
          name: 'x',
          scripts: { start: 'node index.js' },
          dependencies: { pg: '8' },
        },
        'package-lock.json': '{}',
        'yarn.lock': '# yarn lockfile v1\n',
      }),
    );
    expect(yaml).toContain('No migrations folder found (the app uses postgres: dependency pg)');
    expect(unsure.join('\n')).toContain('lockfiles of several package managers');
  });
});

describe('ports per project', () => {
  it('differ between projects, stay the same for one, and skip a taken pair', async () => {
    expect(basePortFor('todo-api')).not.toBe(basePortFor('orders'));
    expect(basePortFor('todo-api')).toBe(basePortFor('todo-api'));
    const base = basePortFor('todo-api');
    expect(await choosePorts('todo-api', 2, async () => true)).toEqual([base, base + 1]);
    const taken = new Set([base + 1]);
    const next = await choosePorts('todo-api', 2, async (p) => !taken.has(p));
    expect(next).toEqual([base + 10, base + 11]);
  });
});
