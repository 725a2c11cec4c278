/**
 * Parity on real file pairs (issue 6, seeds 000 and 003): a fly.toml + fly.staging.toml pair
 * and a wrangler.toml with [env.production], each once clean (only names, ids, routes and
 * databases differ) and once drifted (memory; compatibility_date). The platform part is read
 * with the same readers the fly and cloudflare providers use (their *-platform-config.ts),
 * the Airlock part from a real airlock.yaml through the real loader.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { allowedBy, DEFAULT_PARITY_ALLOW } from '../../src/parity/allow-list.ts';
import {
  airlockEntries,
  allowList,
  buildProfile,
  compareForGate,
  compareProfiles,
  type ParityComparison,
} from '../../src/parity/compare.ts';
import { wranglerPlatformConfig } from '../../src/providers/cloudflare/wrangler-platform-config.ts';
import { flyPlatformConfig } from '../../src/providers/fly/fly-platform-config.ts';
import type { PlatformConfig } from '../../src/providers/provider.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/parity/', import.meta.url));
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project folder with `files` copied from a fixture folder and this airlock.yaml. */
function project(fixture: string, files: string[], yaml: string): ResolvedConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-parity-'));
  dirs.push(dir);
  for (const file of files) copyFileSync(path.join(FIXTURES, fixture, file), path.join(dir, file));
  writeFileSync(path.join(dir, 'airlock.yaml'), yaml);
  return loadConfig({ cwd: dir, env: {} });
}

/** staging vs production of `web`, the platform part read by `platform(environment)`. */
function compare(
  config: ResolvedConfig,
  platform: (environment: string) => PlatformConfig,
): ParityComparison {
  const side = (name: 'staging' | 'production') => {
    const env = config.environments[name];
    if (!env) throw new Error(`no ${name}`);
    return buildProfile(
      name,
      'web',
      airlockEntries(env, 'web'),
      platform(name),
      Object.keys(env.services.web?.vars ?? {}),
    );
  };
  return compareProfiles(side('staging'), side('production'), allowList(config));
}

const FLY_YAML = (extra = '') => `project: bbb
pipeline: [staging, production]
services:
  web:
    build: { command: go build -o out/app ., output: out }
    health: { path: /health }
    database: { engine: postgres }
    checks:
      - { name: smoke, type: http, path: /health }
environments:
  staging:
    provider: fly
    services:
      web: { databaseUrl: "postgres://u:p@staging-db.example.com:5432/bbb" }
  production:
    provider: fly
    promotion: { approval: { required: 1 } }
    services:
      web: { databaseUrl: "postgres://u:p@db.example.com:5432/bbb", keepWarmMs: 600000 }
${extra}`;

/** The fly.toml of an environment, as the fly provider picks it: fly.<env>.toml when it exists. */
function flyFile(config: ResolvedConfig, environment: string): string {
  const own = path.join(config.dir, `fly.${environment}.toml`);
  return existsSync(own) ? own : path.join(config.dir, 'fly.toml');
}

const CLOUDFLARE_YAML = `project: crane
pipeline: [staging, production]
services:
  web:
    build: { command: npx wrangler deploy --dry-run --outdir dist, output: dist }
    database: { engine: d1, binding: DB }
    checks:
      - { name: health, type: http, path: /health }
      - { name: version, type: http, path: /version }
environments:
  staging:
    provider: cloudflare
  production:
    provider: cloudflare
    promotion: { approval: { required: 1 } }
`;

const cloudflare = (config: ResolvedConfig) => (environment: string) => {
  const settings = config.environments[environment]?.services.web?.provider;
  if (settings?.provider !== 'cloudflare') throw new Error('not cloudflare');
  return wranglerPlatformConfig(path.join(config.dir, 'wrangler.toml'), settings.env);
};

const keys = (rows: ParityComparison['rows']) => rows.map((r) => r.key);

describe('parity of real platform files', () => {
  it('fly.staging.toml + fly.toml, clean: only the app name, the volume name and runtime timeouts differ', () => {
    const config = project('fly-clean', ['fly.toml', 'fly.staging.toml'], FLY_YAML());
    const c = compare(config, (env) => flyPlatformConfig(flyFile(config, env)));
    expect(c.drift).toEqual([]);
    expect(c.allowed.map((r) => [r.key, r.a, r.b, r.allowedBy])).toEqual([
      ['airlock.keepWarmMs', '0', '600000', 'airlock.keepWarmMs'],
      ['platform.app', 'blue-banded-bee-staging', 'blue-banded-bee', 'app'],
      ['platform.mounts./data.source', 'bbb_staging_data', 'bbb_data', 'mounts.*.source'],
    ]);
    // Resources, bindings and var names are compared, and match.
    expect(c.rows.find((r) => r.key === 'platform.vm.0.memory')).toMatchObject({
      a: '1gb',
      b: '1gb',
      status: 'same',
    });
    expect(c.rows.find((r) => r.key === 'bindings./data')).toMatchObject({
      a: 'volume',
      status: 'same',
    });
    expect(keys(c.rows.filter((r) => r.section === 'vars'))).toEqual([
      'vars.APP_ENV',
      'vars.LOG_LEVEL',
      'vars.PORT',
    ]);
    // The database URL and the port never enter the profile.
    expect(JSON.stringify(c)).not.toContain('db.example.com');
    expect(c.sources.a[0]).toMatch(/fly\.staging\.toml$/);
    expect(c.sources.b[0]).toMatch(/\/fly\.toml$/);
  });

  it('fly.staging.toml + fly.toml, drifted: production has half the memory, and parity names it with both values', () => {
    const config = project('fly-drift', ['fly.toml', 'fly.staging.toml'], FLY_YAML());
    const c = compare(config, (env) => flyPlatformConfig(flyFile(config, env)));
    expect(c.drift.map((r) => [r.key, r.a, r.b])).toEqual([
      ['platform.vm.0.memory', '1gb', '512mb'],
    ]);

    // Allowed on purpose by the project: no drift left.
    const allowing = project(
      'fly-drift',
      ['fly.toml', 'fly.staging.toml'],
      FLY_YAML('parity: { allow: ["vm.*.memory"] }\n'),
    );
    const allowed = compare(allowing, (env) => flyPlatformConfig(flyFile(allowing, env)));
    expect(allowed.drift).toEqual([]);
    expect(allowed.allowed.find((r) => r.key === 'platform.vm.0.memory')?.allowedBy).toBe(
      'vm.*.memory',
    );
  });

  it('wrangler.toml with [env.production], clean: names, database ids, routes and workers_dev differ, all allowed', () => {
    const config = project('wrangler-clean', ['wrangler.toml'], CLOUDFLARE_YAML);
    const c = compare(config, cloudflare(config));
    expect(c.drift).toEqual([]);
    expect(c.allowed.map((r) => [r.key, r.a, r.b])).toEqual([
      ['platform.name', 'crane-context', 'crane-context-production'],
      ['platform.routes.0.custom_domain', null, 'true'],
      ['platform.routes.0.pattern', null, 'context.crane.example.com'],
      ['platform.workers_dev', 'true', 'false'],
    ]);
    expect(c.rows.filter((r) => r.section === 'bindings').map((r) => [r.key, r.a, r.b])).toEqual([
      ['bindings.CACHE', 'kv', 'kv'],
      ['bindings.DB', 'd1', 'd1'],
    ]);
    expect(c.rows.find((r) => r.key === 'airlock.database.engine')).toMatchObject({
      a: 'd1',
      b: 'd1',
      status: 'same',
    });
    // Database names and ids are bindings' business: they never show up as settings.
    expect(JSON.stringify(c)).not.toContain('crane-context-db-prod');
  });

  it('wrangler.toml with [env.production], drifted: a newer compatibility_date in production blocks', () => {
    const config = project('wrangler-drift', ['wrangler.toml'], CLOUDFLARE_YAML);
    const c = compare(config, cloudflare(config));
    expect(c.drift.map((r) => [r.key, r.a, r.b, r.status])).toEqual([
      ['platform.compatibility_date', '2024-01-01', '2024-09-23', 'drift'],
    ]);
  });

  it('a binding, a var or a secret on one side only is drift, by name and kind only', () => {
    const base: PlatformConfig = {
      settings: { compatibility_date: '2024-01-01' },
      bindings: { DB: 'd1' },
      vars: ['APP_ENV'],
      secrets: ['CRANE_ADMIN_KEY'],
      sources: [],
    };
    const staging = buildProfile(
      'staging',
      'web',
      {},
      {
        ...base,
        bindings: { DB: 'd1', CACHE: 'kv' },
        secrets: ['CRANE_ADMIN_KEY', 'GEMINI_API_KEY'],
      },
    );
    const production = buildProfile(
      'production',
      'web',
      {},
      {
        ...base,
        bindings: { DB: 'd1', CACHE: 'r2' },
        vars: ['APP_ENV', 'FEATURE_FLAGS'],
      },
    );
    const c = compareProfiles(staging, production, DEFAULT_PARITY_ALLOW);
    expect(c.drift.map((r) => [r.key, r.a, r.b])).toEqual([
      ['bindings.CACHE', 'kv', 'r2'],
      ['vars.FEATURE_FLAGS', null, 'set'],
      ['secrets.GEMINI_API_KEY', 'set', null],
    ]);
    // The gate's lighter comparison gives the same answers.
    const gate = compareForGate(staging, production, DEFAULT_PARITY_ALLOW);
    expect(gate.drift).toEqual(c.drift);
    expect(gate.allowed).toBe(c.allowed.length);
    expect(gate.unread).toEqual(c.unread);
    const renamed = buildProfile(
      'production',
      'web',
      {},
      { ...base, settings: { ...base.settings, name: 'web-production' } },
    );
    const withAllowed = compareProfiles(staging, renamed, DEFAULT_PARITY_ALLOW);
    expect(withAllowed.allowed.length).toBeGreaterThan(0);
    expect(compareForGate(staging, renamed, DEFAULT_PARITY_ALLOW)).toEqual({
      drift: withAllowed.drift,
      allowed: withAllowed.allowed.length,
      unread: withAllowed.unread,
    });
  });
});

describe('the allow list', () => {
  it('matches whole keys or any tail at a segment; * stays within a segment, ** crosses them', () => {
    expect(allowedBy('platform.app', ['app'])).toBe('app');
    expect(allowedBy('platform.myapp', ['app'])).toBeNull();
    expect(allowedBy('platform.kv.0.preview_id', ['*_id'])).toBe('*_id');
    expect(allowedBy('platform.vm.0.memory', ['vm.*.memory'])).toBe('vm.*.memory');
    expect(allowedBy('platform.vm.0.memory', ['platform.vm.*'])).toBeNull();
    expect(allowedBy('platform.vm.0.memory', ['platform.vm.**'])).toBe('platform.vm.**');
    expect(allowedBy('vars.LOG_LEVEL', DEFAULT_PARITY_ALLOW)).toBe('LOG_LEVEL');
    expect(allowedBy('vars.DATABASE_URL', DEFAULT_PARITY_ALLOW)).toBe('*_URL');
    expect(allowedBy('secrets.SENTRY_DSN', DEFAULT_PARITY_ALLOW)).toBeNull();
    // What must match is not allowed by default: resources, health, checks, the engine.
    for (const key of [
      'platform.vm.0.memory',
      'platform.compatibility_date',
      'airlock.health.path',
      'airlock.checks.e2e',
      'airlock.database.engine',
      'airlock.stopTimeoutMs',
    ])
      expect(allowedBy(key, DEFAULT_PARITY_ALLOW)).toBeNull();
  });
});
