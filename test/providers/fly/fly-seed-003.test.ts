/**
 * Seed 003 end to end through the real `airlock` CLI, with the FAKE flyctl on PATH (flyctl
 * cannot run here): fly.staging.toml beside fly.toml, two apps. `airlock build` pushes one image
 * from the release's clean checkout; `deploy staging` and `promote production` run that same
 * digest on both apps; `rollback production` puts the earlier digest back without building.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../../src/releases/artifact-store.ts';
import { type FakeCliEnv, fakeCliEnv } from '../../fakes/cli/fake-cli-env.ts';
import { BIN, projectHome } from '../../helpers/project.ts';
import { FLY_TOKEN, flyToml } from './fly-test-project.ts';

const AIRLOCK_YAML = `project: blue-banded-bee
pipeline: [staging, production]
services:
  web:
    build: { command: "mkdir -p dist && cp server.js dist/", output: dist }
    health: { path: /health }
environments:
  staging:
    provider: fly
  production:
    provider: fly
`;

describe('seed 003 through the CLI (FAKE flyctl): one image, staging then production', () => {
  let dir: string;
  let fake: FakeCliEnv;
  const airlock = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: dir,
          env: {
            ...process.env,
            ...fake.env,
            FLY_API_TOKEN: FLY_TOKEN,
            AIRLOCK_FROM_SOURCE: '1',
            AIRLOCK_ACTOR: 'dev@example.com',
            CI: '1',
            NO_COLOR: '1',
          },
          timeout: 120_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  const machines = (app: string) =>
    (fake.flyState().apps[app]?.machines ?? []).map((m) => ({
      digest: m.image.digest,
      release: m.env.AIRLOCK_RELEASE,
    }));
  const imageOf = (release: string) => {
    const builds = fake.invocations().filter((i) => i.argv.includes('--build-only'));
    const labels = builds.map((b) => b.argv[b.argv.indexOf('--image-label') + 1]);
    const images = fake.flyState().images.filter((i) => labels.includes(i.tag));
    return images[Number(release.slice(1)) - 1]?.digest;
  };

  beforeAll(() => {
    fake = fakeCliEnv({ flyApps: ['blue-banded-bee-staging', 'blue-banded-bee'] });
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-seed003-'));
    writeFileSync(path.join(dir, 'airlock.yaml'), AIRLOCK_YAML);
    writeFileSync(
      path.join(dir, 'fly.staging.toml'),
      flyToml('blue-banded-bee-staging', 'staging', 'debug'),
    );
    writeFileSync(path.join(dir, 'fly.toml'), flyToml('blue-banded-bee', 'production', 'info'));
    writeFileSync(
      path.join(dir, 'Dockerfile'),
      'FROM node:24-slim\nCOPY . .\nCMD ["node","server.js"]\n',
    );
    writeFileSync(path.join(dir, 'server.js'), "console.log('v1');\n");
    writeFileSync(path.join(dir, '.gitignore'), 'dist\n.airlock\n');
    git('init', '-q');
    git('config', 'user.email', 'dev@example.com');
    git('config', 'user.name', 'dev');
    git('add', '-A');
    git('commit', '-q', '-m', 'v1');
  });
  afterAll(() => {
    fake.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds one image from the clean checkout, runs that digest on staging then production, and rolls production back to r1's digest without building", async () => {
    const result = await airlock(['build']);
    expect(result.code, result.out).toBe(0);
    const builds = fake.invocations().filter((i) => i.argv.includes('--build-only'));
    expect(builds).toHaveLength(1);
    expect(builds[0]?.cwd).not.toBe(dir);
    expect(builds[0]?.argv).toContain('blue-banded-bee-staging');
    const store = new ArtifactStore(path.join(projectHome(dir), 'artifacts'));
    const entries = await Promise.all(
      (await store.list()).map(async (digest) => (await store.manifest(digest)).entries),
    );
    const entry = entries.flat().find((e) => e.path === 'fly-image.json');
    if (entry?.kind !== 'file') throw new Error('fly-image.json is not in the stored artifact');
    const stored = readFileSync(store.objectPath(entry.sha256, entry.mode), 'utf8');
    expect(JSON.parse(stored).digest).toBe(imageOf('r1'));

    // Deploy staging, then promote production: both apps run the same digest.
    expect((await airlock(['deploy', 'staging'])).code).toBe(0);
    const promoted = await airlock(['promote', 'production', '--yes']);
    expect(promoted.code, promoted.out).toBe(0);
    expect(promoted.out).toContain('https://blue-banded-bee.fly.dev');
    const digest = imageOf('r1');
    expect(machines('blue-banded-bee-staging')).toEqual([{ digest, release: 'r1' }]);
    expect(machines('blue-banded-bee')).toEqual([{ digest, release: 'r1' }]);
    expect(fake.invocations().filter((i) => i.argv.includes('--build-only'))).toHaveLength(1);

    // A second release promoted, then rolled back: production runs r1’s digest again, no build.
    writeFileSync(path.join(dir, 'server.js'), "console.log('v2');\n");
    git('commit', '-q', '-am', 'v2');
    expect((await airlock(['deploy', 'staging'])).code).toBe(0);
    expect((await airlock(['promote', 'production', '--yes'])).code).toBe(0);
    expect(machines('blue-banded-bee')).toEqual([{ digest: imageOf('r2'), release: 'r2' }]);
    const buildCount = fake.invocations().filter((i) => i.argv.includes('--build-only')).length;
    const rolled = await airlock(['rollback', 'production', '--yes']);
    expect(rolled.code, rolled.out).toBe(0);
    expect(machines('blue-banded-bee')).toEqual([{ digest: imageOf('r1'), release: 'r1' }]);
    expect(fake.invocations().filter((i) => i.argv.includes('--build-only'))).toHaveLength(
      buildCount,
    );
    expect(readFileSync(fake.env.FAKE_CLI_TRANSCRIPT as string, 'utf8')).not.toContain(FLY_TOKEN);
  });
});
