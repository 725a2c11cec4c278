/**
 * `airlock init` on real file layouts, through the real CLI, each written file loaded by the
 * real loader and checked by `airlock config validate`: seed 000 (wrangler.toml, the top level
 * staging and [env.production], D1), a wrangler.jsonc with [env.staging] and [env.production],
 * seed 003 (fly.toml + fly.staging.toml, Supabase migrations), fly.toml alone, seed 001
 * (railway.json + package.json + Supabase), and the notes example without its airlock.yaml,
 * which then really deploys to staging.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { BIN, type CliResult, projectHome, stopRuntimeOf } from '../helpers/project.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PARITY = path.join(ROOT, 'test/fixtures/parity');
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) {
    await stopRuntimeOf(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-init-'));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function cli(dir: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: dir,
        env: {
          ...process.env,
          AIRLOCK_FROM_SOURCE: '1',
          CI: '1',
          NO_COLOR: '1',
          AIRLOCK_ACTOR: 'dev@airlock.demo',
        },
        timeout: 120_000,
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

/** Runs `airlock init` in `dir`, validates the file with the CLI, and loads it. */
async function init(
  dir: string,
): Promise<{ config: ResolvedConfig; text: string; out: CliResult }> {
  const out = await cli(dir, 'init');
  expect(out.code, out.stderr).toBe(0);
  const text = readFileSync(path.join(dir, 'airlock.yaml'), 'utf8');
  const validate = await cli(dir, 'config', 'validate');
  expect(validate.code, validate.stderr).toBe(0);
  return { config: loadConfig({ cwd: dir, env: {} }), text, out };
}

const serviceOf = (config: ResolvedConfig, env: string) => {
  const s = config.environments[env]?.services[config.services[0] as string];
  if (!s) throw new Error(`no service in ${env}`);
  return s;
};

const SEED_000_PACKAGE = JSON.stringify({
  name: 'crane-context',
  private: true,
  scripts: { deploy: 'wrangler deploy', 'deploy:prod': 'wrangler deploy --env production' },
  devDependencies: { wrangler: '4.0.0' },
});

describe('airlock init', () => {
  it('seed 000: wrangler.toml (staging at the top, [env.production]) with D1 → cloudflare, d1 binding DB', async () => {
    const dir = folder({
      'package.json': SEED_000_PACKAGE,
      'package-lock.json': '{}',
      'migrations/0001_create_sessions.sql': 'CREATE TABLE sessions (id TEXT PRIMARY KEY);\n',
    });
    copyFileSync(
      path.join(PARITY, 'wrangler-clean/wrangler.toml'),
      path.join(dir, 'wrangler.toml'),
    );
    const { config, text, out } = await init(dir);
    expect(out.stdout).toContain('Wrote airlock.yaml for provider cloudflare, from:');
    expect(out.stdout).toContain('wrangler.toml with [env.production], D1 DB');
    expect(config.project).toBe('crane-context');
    expect(config.pipeline).toEqual(['staging', 'production']);
    const staging = serviceOf(config, 'staging');
    expect(staging.provider).toMatchObject({ provider: 'cloudflare', env: null, mode: 'remote' });
    expect(serviceOf(config, 'production').provider).toMatchObject({ env: 'production' });
    expect(staging.database).toMatchObject({ engine: 'd1', migrations: 'migrations' });
    expect(staging.database?.d1?.binding).toBe('DB');
    expect(staging.build.command).toBe('npm ci && npx wrangler deploy --dry-run --outdir dist');
    expect(config.environments.production?.promotion.approval.required).toBe(1);
    expect(text).toContain('# The top level of wrangler.toml (staging by default).');
    // Signed approvals read the file at each release's commit: it must be committed first.
    expect(out.stdout).toContain(
      "The file is read at each release's commit, so a release built before the commit that adds a key cannot be approved with that key: commit the file before `airlock deploy staging`.",
    );
  });

  it('wrangler.jsonc with [env.staging] and [env.production] → both sections, named explicitly where the default differs', async () => {
    const dir = folder({
      'wrangler.jsonc': `{
  // Worker with its own staging section; the top level is local development.
  "name": "api",
  "main": "src/index.ts",
  "compatibility_date": "2025-01-01",
  "env": {
    "production": { "d1_databases": [{ "binding": "API_DB", "database_name": "api", "database_id": "p", "migrations_dir": "db/migrations" }] },
    "staging": { "d1_databases": [{ "binding": "API_DB", "database_name": "api-staging", "database_id": "s", "migrations_dir": "db/migrations" }] },
  },
}
`,
      'db/migrations/0001_init.sql': 'CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);\n',
    });
    const { config, text } = await init(dir);
    // D1 is SQLite: the header names the engine the file sets.
    expect(text).toContain(
      '#   - database engine d1 (D1 is SQLite: AUTOINCREMENT in 0001_init.sql)',
    );
    expect(text).not.toContain('database engine sqlite');
    // Remote by default; the comment says how to run it all here without an account.
    expect(text).toContain('    # cloudflare: { mode: local }');
    expect(config.pipeline).toEqual(['staging', 'production']);
    expect(serviceOf(config, 'staging').provider).toMatchObject({ env: 'staging' });
    expect(serviceOf(config, 'production').provider).toMatchObject({ env: 'production' });
    expect(serviceOf(config, 'staging').database).toMatchObject({
      engine: 'd1',
      migrations: 'db/migrations',
    });
    expect(serviceOf(config, 'staging').database?.d1?.binding).toBe('API_DB');
    expect(text).toContain('cloudflare: { env: staging }');
    expect(text).toContain('is not in the pipeline');
  });

  it('seed 003: fly.toml + fly.staging.toml + supabase/migrations → fly, Postgres per environment', async () => {
    const dir = folder({
      'go.mod': 'module example.com/bbb\n\ngo 1.22\n',
      Dockerfile: 'FROM golang:1.22\n',
      'supabase/migrations/20240101000000_create_jobs.sql':
        'CREATE TABLE jobs (id bigint primary key);\n',
    });
    for (const f of ['fly.toml', 'fly.staging.toml'])
      copyFileSync(path.join(PARITY, 'fly-clean', f), path.join(dir, f));
    const { config, text } = await init(dir);
    const validate = await cli(dir, 'config', 'validate');
    expect(validate.stderr).toContain('$STAGING_DATABASE_URL');
    expect(config.project).toBe('blue-banded-bee');
    expect(config.pipeline).toEqual(['staging', 'production']);
    expect(config.environments.staging?.provider).toBe('fly');
    expect(serviceOf(config, 'staging').provider).toMatchObject({
      provider: 'fly',
      config: null,
      app: null,
    });
    expect(serviceOf(config, 'staging').database).toMatchObject({
      engine: 'postgres',
      migrations: 'supabase/migrations',
    });
    expect(text).toContain('databaseUrl: ${STAGING_DATABASE_URL}');
    expect(text).toContain('databaseUrl: ${PRODUCTION_DATABASE_URL}');
    expect(text).toContain("Smoke: the live URL answers (fly.toml's http check).");
    expect(text).toContain('airlock migrate adopt <env> --from supabase');
  });

  it('fly.toml alone → staging deploys it as its own app (<app>-staging)', async () => {
    const dir = folder({});
    copyFileSync(path.join(PARITY, 'fly-clean/fly.toml'), path.join(dir, 'fly.toml'));
    const { config, text } = await init(dir);
    expect(serviceOf(config, 'staging').provider).toMatchObject({
      provider: 'fly',
      app: 'blue-banded-bee-staging',
    });
    expect(serviceOf(config, 'production').provider).toMatchObject({ provider: 'fly', app: null });
    expect(text).toContain('fly apps create blue-banded-bee-staging');
  });

  it('seed 001: railway.json + package.json + supabase/migrations → railway, its build and health check', async () => {
    const dir = folder({
      'railway.json': JSON.stringify({
        $schema: 'https://railway.com/railway.schema.json',
        build: { builder: 'NIXPACKS', buildCommand: 'npm ci && npm run build' },
        deploy: { startCommand: 'node dist/main.js', healthcheckPath: '/api/health' },
      }),
      'package.json': JSON.stringify({
        name: '@acme/orders-api',
        scripts: { build: 'tsc', start: 'node dist/main.js', 'test:e2e': 'playwright test' },
      }),
      'supabase/migrations/20240301120000_orders.sql':
        'CREATE TABLE orders (id uuid primary key);\n',
    });
    const { config } = await init(dir);
    expect(config.project).toBe('orders-api');
    expect(config.environments.production?.provider).toBe('railway');
    const s = serviceOf(config, 'production');
    expect(s.provider).toMatchObject({
      provider: 'railway',
      environment: 'production',
      service: 'orders-api',
    });
    expect(s.build.command).toBe('npm ci && npm run build');
    expect(
      s.checks.map((c) => [
        c.name,
        c.type,
        'path' in c ? c.path : c.type === 'command' ? c.run : '',
      ]),
    ).toEqual([
      ['smoke', 'http', '/api/health'],
      ['e2e', 'command', 'npm run -s test:e2e'],
    ]);
    expect(s.database).toMatchObject({ engine: 'postgres', migrations: 'supabase/migrations' });
  });

  it('refuses to replace an airlock.yaml; --print writes nothing; --force replaces it', async () => {
    const dir = folder({
      'package.json': JSON.stringify({ name: 'tiny', scripts: { start: 'node server.js' } }),
    });
    writeFileSync(path.join(dir, 'airlock.yaml'), '# mine\n');
    const refused = await cli(dir, 'init');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('airlock.yaml already exists; airlock init leaves it alone.');
    expect(refused.stderr).toContain('airlock init --force');
    const printed = await cli(dir, 'init', '--print');
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('project: tiny');
    // No build: the release is the checkout, started as the start script says.
    expect(printed.stdout).toContain('run: node server.js');
    expect(readFileSync(path.join(dir, 'airlock.yaml'), 'utf8')).toBe('# mine\n');
    const json = JSON.parse((await cli(dir, 'init', '--print', '--json')).stdout);
    expect(json).toMatchObject({ ok: true, platform: 'local' });
    expect(json.yaml).toContain('provider: local');
    expect((await cli(dir, 'init', '--force')).code).toBe(0);
    expect(readFileSync(path.join(dir, 'airlock.yaml'), 'utf8')).toMatch(/port: \d+/);
  });

  it('in a folder of a project (up to its git root) refuses, naming its airlock.yaml; --force makes a separate project, said to be a template when nothing is found', async () => {
    // outer/airlock.yaml is above the repository: not this repository's project.
    const outer = folder({ 'airlock.yaml': '# outer\n', 'repo/src/index.js': '' });
    const repo = path.join(outer, 'repo');
    execFileSync('git', ['init', '-q', repo]);
    writeFileSync(path.join(repo, 'airlock.yaml'), '# the project\n');
    const src = path.join(repo, 'src');
    const refused = await cli(src, 'init');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      '✖ ../airlock.yaml is in a parent folder: this folder is part of that project',
    );
    expect(refused.stderr).toContain(`\`airlock init --print\` in ${repo}`);
    expect(refused.stderr).toContain('run `airlock init --force` here');
    expect(existsSync(path.join(src, 'airlock.yaml'))).toBe(false);

    const separate = await cli(src, 'init', '--force');
    expect(separate.code, separate.stderr).toBe(0);
    expect(separate.stdout).toContain('✔ Wrote airlock.yaml for provider local: a template.');
    expect(separate.stdout).not.toContain('from:');
    expect(separate.stderr).toContain(
      'Found nothing to deploy in this folder: no wrangler.toml, fly.toml, railway.json, package.json or migrations folder.',
    );
    expect(existsSync(path.join(src, 'airlock.yaml'))).toBe(true);

    // At the git root, the airlock.yaml above the repository is another project's.
    rmSync(path.join(repo, 'airlock.yaml'));
    expect((await cli(repo, 'init')).code).toBe(0);
    expect(readFileSync(path.join(outer, 'airlock.yaml'), 'utf8')).toBe('# outer\n');
  });

  it('the notes example without its airlock.yaml: init writes a file that really deploys to staging', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-init-notes-'));
    dirs.push(dir);
    cpSync(path.join(ROOT, 'examples/notes'), dir, {
      recursive: true,
      filter: (src) => !/node_modules|\/dist$|airlock\.yaml$/.test(src),
    });
    // A project that has not adopted Airlock yet: no airlock.yaml, and no airlock-deploy in its
    // dependencies (the example lists it for its workflows; its build here runs a full npm ci).
    type Manifest = {
      devDependencies?: Record<string, string>;
      packages?: Record<string, { devDependencies?: Record<string, string> }>;
    };
    const withoutAirlock = (file: string, edit: (json: Manifest) => void) => {
      const json = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      edit(json);
      writeFileSync(path.join(dir, file), `${JSON.stringify(json, null, 2)}\n`);
    };
    withoutAirlock('package.json', (json) => {
      delete json.devDependencies?.['airlock-deploy'];
    });
    withoutAirlock('package-lock.json', (json) => {
      delete json.packages?.['']?.devDependencies?.['airlock-deploy'];
      delete json.packages?.['node_modules/airlock-deploy'];
    });
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: dir,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'Dev',
          GIT_AUTHOR_EMAIL: 'dev@airlock.demo',
          GIT_COMMITTER_NAME: 'Dev',
          GIT_COMMITTER_EMAIL: 'dev@airlock.demo',
        },
      });
    git('init', '-q', '-b', 'main');
    const { config, text, out } = await init(dir);
    // pg is a dependency, but the migrations are SQLite's: the SQL decides, and init says so.
    expect(serviceOf(config, 'staging')).toMatchObject({
      run: 'node dist/server.js',
      database: { engine: 'sqlite', migrations: 'migrations' },
      health: { path: '/health' },
    });
    expect(out.stdout).toContain('the dependency pg is a postgres driver, but migrations/');
    expect(text).toContain('# Could not decide (read these first):');
    expect(serviceOf(config, 'staging').build).toMatchObject({
      command:
        'npm ci && npm run build && rm -rf .airlock-release && mkdir .airlock-release && cp -R dist package.json package-lock.json .airlock-release/ && cd .airlock-release && npm ci --omit=dev',
      output: '.airlock-release',
    });
    expect(serviceOf(config, 'staging').checks.map((c) => c.name)).toEqual(['smoke', 'e2e']);
    // Production keeps the previous release warm (a rollback is a switch); staging does not.
    expect(serviceOf(config, 'production').keepWarmMs).toBe(600_000);
    expect(serviceOf(config, 'staging').keepWarmMs).toBe(0);
    expect(text).toContain(
      '# package.json start (node dist/server.js); it runs inside .airlock-release/',
    );
    // The ports were free when init ran: deploy as written.
    git('add', '-A');
    git('commit', '-q', '-m', 'airlock init');
    const deployed = await cli(dir, 'deploy', 'staging');
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    expect(deployed.stdout).toMatch(/Check airlock-example-notes \(smoke, e2e\).*2 passed/);
    expect(
      existsSync(
        path.join(projectHome(dir), 'envs', 'staging', 'data', 'airlock-example-notes.db'),
      ),
    ).toBe(true);
  });
});
