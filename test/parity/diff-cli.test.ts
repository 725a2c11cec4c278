/**
 * `airlock diff` through the real CLI on real fly.toml pairs (issue 6, seed 003): with the FAKE
 * flyctl on PATH it compares everything, secret names included; without any flyctl it still
 * compares the files, names what it could not read, and exits 1 (not a proven mirror).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeCliEnv, fakeCliEnv } from '../fakes/cli/fake-cli-env.ts';

const BIN = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/parity/', import.meta.url));
const APPS = ['blue-banded-bee-staging', 'blue-banded-bee'];

const YAML = `project: bbb
pipeline: [staging, production]
services:
  web:
    build: { command: "mkdir -p dist", output: dist }
    health: { path: /health }
environments:
  staging:
    provider: fly
  production:
    provider: fly
`;

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function project(fixture: 'fly-clean' | 'fly-drift'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-diff-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ['fly.toml', 'fly.staging.toml'])
    copyFileSync(path.join(FIXTURES, fixture, file), path.join(dir, file));
  writeFileSync(path.join(dir, 'airlock.yaml'), YAML);
  return dir;
}

function fake(): FakeCliEnv {
  const f = fakeCliEnv({ flyApps: APPS });
  cleanup.push(() => f.cleanup());
  return f;
}

/** PATH with this Node and the system folders only: no flyctl anywhere. */
const NO_FLY_PATH = [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);

function diff(dir: string, env: Record<string, string>, json = false) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'diff', 'staging', 'production', ...(json ? ['--json'] : [])],
      {
        cwd: dir,
        env: {
          ...process.env,
          FLY_API_TOKEN: 'fo1_FAKEtokenForDiffTests0123456789',
          AIRLOCK_FROM_SOURCE: '1',
          NO_COLOR: '1',
          CI: '1',
          ...env,
        },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
}

describe('airlock diff on fly.toml pairs', () => {
  it('clean pair, FAKE flyctl: production mirrors staging, exit 0; the token never shows', async () => {
    const f = fake();
    const result = await diff(project('fly-clean'), f.env);
    expect(result.out).toContain('production mirrors staging');
    expect(result.out).not.toContain('not compared');
    expect(result.out).not.toContain('fo1_FAKEtoken');
    expect(result.code).toBe(0);
    expect(f.invocations().some((i) => i.argv.includes('secrets'))).toBe(true);
  });

  it('drifted pair, FAKE flyctl: names the memory with both values and exits 1', async () => {
    const result = await diff(project('fly-drift'), fake().env);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/platform\.vm\.0\.memory\s+1gb\s+512mb\s+drift/);
  });

  it('no flyctl: the files are still compared, the secret names are named as not read, exit 1', async () => {
    const clean = await diff(project('fly-clean'), { PATH: NO_FLY_PATH });
    expect(clean.code).toBe(1);
    expect(clean.out).toContain('not compared — staging: secret names: flyctl is not installed');
    expect(clean.out).toContain('not compared — production: secret names');
    expect(clean.out).toMatch(/but 2 parts were not read/);
    expect(clean.out).toMatch(/platform\.app\s+blue-banded-bee-staging\s+blue-banded-bee/);

    const drifted = await diff(project('fly-drift'), { PATH: NO_FLY_PATH }, true);
    expect(drifted.code).toBe(1);
    const result = JSON.parse(drifted.out);
    expect(result.drift).toBe(true);
    expect(result.complete).toBe(false);
    expect(result.diff.services[0].drift).toContain('platform.vm.0.memory');
    expect(result.diff.services[0].unread).toHaveLength(2);
  });
});
