/**
 * The cache of validated airlock.yaml files (config-cache.ts): a hit gives exactly what the
 * full path gives, resolved afresh against the environment; anything in doubt is a miss.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CacheSlot,
  CONFIG_CACHE_MAX_AGE_MS,
  cacheSlot,
  configCacheDir,
  type LocatedConfig,
  resolveCachedConfig,
} from '../../src/config/config-cache.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { yaml } from './yaml-text.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// A rule's warning (promotion on the first environment), a `${NAME}` the environment fills, and
// a migrations folder (a path checked on every load).
const TEXT = yaml`
  project: cached
  pipeline: [staging, production]
  notify:
    - { kind: slack, url: "\${SLACK_WEBHOOK_URL}" }
  services:
    web:
      build: { command: node build.mjs, output: dist }
      run: node server.js
      database: { engine: sqlite, migrations: migrations }
  environments:
    staging:
      promotion: { approval: { required: 1 } }
      services: { web: { port: 4100 } }
    production:
      services: { web: { port: 4200 } }
`;

function project(): { located: LocatedConfig; env: Record<string, string> } {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'airlock-config-cache-')));
  dirs.push(dir);
  mkdirSync(path.join(dir, 'migrations'));
  const file = path.join(dir, 'airlock.yaml');
  writeFileSync(file, TEXT);
  return {
    located: { file, displayFile: 'airlock.yaml' },
    env: {
      AIRLOCK_HOME: path.join(dir, 'home'),
      SLACK_WEBHOOK_URL: 'https://hooks.slack.test/services/T0/B0/very-secret-token',
    },
  };
}

/** The full path, filling `slot`. */
function validate(located: LocatedConfig, env: Record<string, string>, slot: CacheSlot | null) {
  return parseConfig(TEXT, located.file, located.displayFile, env, slot);
}

describe('the cache of validated configuration files', () => {
  it('removes entries not written for months and stale temporary files when it writes one', () => {
    const { located, env } = project();
    const folder = configCacheDir(path.dirname(located.file), env);
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const at = (name: string, ageMs: number) => {
      const file = path.join(folder, name);
      writeFileSync(file, '{}', { mode: 0o600 });
      const when = (Date.now() - ageMs) / 1000;
      utimesSync(file, when, when);
      return name;
    };
    const day = 24 * 3600 * 1000;
    const old = at(`${'0'.repeat(32)}.json`, CONFIG_CACHE_MAX_AGE_MS + day);
    const recent = at(`${'1'.repeat(32)}.json`, CONFIG_CACHE_MAX_AGE_MS - day);
    const staleTemporary = at(`${'2'.repeat(32)}.json.123.tmp`, 2 * 3600 * 1000);
    const freshTemporary = at(`${'3'.repeat(32)}.json.456.tmp`, 60 * 1000);
    const other = at('notes.txt', CONFIG_CACHE_MAX_AGE_MS + day);
    // A hit writes nothing and collects nothing; a miss writes its entry, then collects.
    const slot = cacheSlot(located, TEXT, env, 'test-gc');
    validate(located, env, slot);
    const written = path.basename(slot?.file ?? '');
    expect(readdirSync(folder).sort()).toEqual([written, recent, freshTemporary, other].sort());
    expect(readdirSync(folder)).not.toContain(old);
    expect(readdirSync(folder)).not.toContain(staleTemporary);
  });

  it('gives what the full path gives, warnings placed, secrets resolved afresh and never stored', () => {
    const { located, env } = project();
    const slot = cacheSlot(located, TEXT, env, 'test-1');
    expect(resolveCachedConfig(located, slot, env)).toBeUndefined();
    const full = validate(located, env, slot);
    expect(full.warnings.map((w) => `${w.line}:${w.col} ${w.path}`)).toEqual([
      '12:5 environments.staging.promotion',
    ]);

    const cached = resolveCachedConfig(located, slot, env);
    expect(cached).toEqual(full);
    // Another environment: the reference resolves to its value, not to the first one's.
    const other = { ...env, SLACK_WEBHOOK_URL: 'https://hooks.slack.test/services/other' };
    expect(resolveCachedConfig(located, slot, other)?.notify[0]?.url).toBe(
      'https://hooks.slack.test/services/other',
    );

    const folder = configCacheDir(path.dirname(located.file), env);
    expect(folder).toBe(path.join(env.AIRLOCK_HOME ?? '', 'cache', 'config'));
    const [entry, ...more] = readdirSync(folder);
    expect(more).toEqual([]);
    const file = path.join(folder, entry ?? '');
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain('very-secret-token');
    expect(readFileSync(file, 'utf8')).toContain('${SLACK_WEBHOOK_URL}');
  });

  it('misses on another text or code, a finding only the full path can place, or an entry in doubt', () => {
    const { located, env } = project();
    const slot = cacheSlot(located, TEXT, env, 'test-1');
    validate(located, env, slot);
    expect(resolveCachedConfig(located, slot, env)).toBeDefined();

    expect(resolveCachedConfig(located, cacheSlot(located, `${TEXT}\n`, env, 'test-1'), env)).toBe(
      undefined,
    );
    expect(resolveCachedConfig(located, cacheSlot(located, TEXT, env, 'test-2'), env)).toBe(
      undefined,
    );
    expect(cacheSlot(located, TEXT, env, null)).toBeNull();
    // Unset, the webhook variable is a resolution warning: the full path places it.
    const { SLACK_WEBHOOK_URL: _, ...unset } = env;
    expect(resolveCachedConfig(located, slot, unset)).toBeUndefined();
    expect(validate(located, unset, null).warnings.map((w) => w.message)).toContainEqual(
      expect.stringContaining('$SLACK_WEBHOOK_URL, which is not set'),
    );

    // The migrations folder now leads outside the project: the full path refuses it.
    const outside = mkdtempSync(path.join(os.tmpdir(), 'airlock-config-outside-'));
    dirs.push(outside);
    const migrations = path.join(path.dirname(located.file), 'migrations');
    rmSync(migrations, { recursive: true });
    symlinkSync(outside, migrations);
    expect(resolveCachedConfig(located, slot, env)).toBeUndefined();
    expect(() => validate(located, env, null)).toThrow(ConfigError);
    rmSync(migrations);
    mkdirSync(migrations);
    expect(resolveCachedConfig(located, slot, env)).toBeDefined();

    if (!slot) throw new Error('no slot');
    chmodSync(slot.file, 0o620);
    expect(resolveCachedConfig(located, slot, env)).toBeUndefined();
    chmodSync(slot.file, 0o600);
    writeFileSync(slot.file, '{"key":');
    expect(resolveCachedConfig(located, slot, env)).toBeUndefined();
  });
});
