/**
 * Seed 001 end to end through the real `airlock` CLI, with the FAKE Railway CLI on PATH (the
 * Railway CLI cannot run here): staging and production are Railway environments of one project,
 * each with its own project token (credentials never shared). The release built once is uploaded
 * byte for byte to staging, then to production; a failing release never replaces what serves.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCliEnv, fakeCliEnv } from '../../fakes/cli/fake-cli-env.ts';
import { BIN } from '../../helpers/project.ts';
import { PRODUCTION_TOKEN, STAGING_TOKEN } from './railway-test-project.ts';

const AIRLOCK_YAML = `project: archon-api
pipeline: [staging, production]
services:
  web:
    build: { command: "mkdir -p dist && cp server.js railway.json dist/", output: dist }
    health: { path: /health }
environments:
  staging:
    provider: railway
    services:
      web: { vars: { LOG_LEVEL: debug } }
  production:
    provider: railway
    promotion: automatic
    services:
      web: { vars: { LOG_LEVEL: info } }
`;

describe('seed 001 through the CLI (FAKE Railway CLI): the same bytes, staging then production', () => {
  let dir: string;
  let fake: FakeCliEnv;
  const airlock = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: dir,
          env: {
            ...process.env,
            ...fake.env,
            RAILWAY_TOKEN_STAGING: STAGING_TOKEN,
            RAILWAY_TOKEN_PRODUCTION: PRODUCTION_TOKEN,
            AIRLOCK_FROM_SOURCE: '1',
            AIRLOCK_ACTOR: 'archon@example.com',
            CI: '1',
            NO_COLOR: '1',
            ...env,
          },
          timeout: 120_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
  const serving = (environment: string) =>
    fake
      .railwayState()
      .deployments.filter((d) => d.environment === environment && d.status === 'SUCCESS')
      .map((d) => ({ digest: d.digest, message: String(d.meta.commitMessage).split(' ')[1] }));

  beforeAll(() => {
    fake = fakeCliEnv({
      railway: {
        project: 'archon-api',
        environments: ['staging', 'production'],
        services: ['web'],
        tokens: { [STAGING_TOKEN]: 'staging', [PRODUCTION_TOKEN]: 'production' },
      },
    });
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-seed001-'));
    writeFileSync(path.join(dir, 'airlock.yaml'), AIRLOCK_YAML);
    writeFileSync(path.join(dir, 'server.js'), "console.log('v1');\n");
    writeFileSync(path.join(dir, 'railway.json'), '{"deploy":{"healthcheckPath":"/health"}}\n');
    writeFileSync(path.join(dir, '.gitignore'), 'dist\n.airlock\n');
    git('init', '-q');
    git('config', 'user.email', 'archon@example.com');
    git('config', 'user.name', 'archon');
    git('add', '-A');
    git('commit', '-q', '-m', 'v1');
  });
  afterAll(() => {
    fake.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys to staging, promotes exactly those bytes to production; a release whose staging deployment fails stops there and r1 keeps serving everywhere', async () => {
    const staged = await airlock(['deploy', 'staging']);
    expect(staged.code, staged.out).toBe(0);
    expect(staged.out).toMatch(/https:\/\/web-staging-\w+\.up\.railway\.app/);
    const promoted = await airlock(['promote', 'production', '--yes']);
    expect(promoted.code, promoted.out).toBe(0);
    const [staging] = serving('staging');
    expect(staging?.message).toBe('r1');
    expect(serving('production')).toEqual([staging]);
    expect(fake.railwayState().variables.production?.web).toMatchObject({
      AIRLOCK_RELEASE: 'r1',
      LOG_LEVEL: 'info',
    });
    // Each environment's commands carried only that environment's token.
    for (const call of fake.invocations())
      expect(call.note).toBe(
        `token scope=${call.argv.includes('production') ? 'production' : 'staging'}`,
      );

    // A release whose staging deployment fails stops there; r1 keeps serving everywhere.
    writeFileSync(path.join(dir, 'server.js'), "console.log('v2');\n");
    git('commit', '-q', '-am', 'v2');
    fake.updateRailwayState((s) => {
      s.faults.failDeploy = ['staging/web'];
    });
    const failed = await airlock(['deploy', 'staging']);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('ended FAILED. r1 keeps serving.');
    expect(serving('staging').map((d) => d.message)).toEqual(['r1']);
    expect(fake.railwayState().variables.staging?.web?.AIRLOCK_RELEASE).toBe('r1');
    const notPromoted = await airlock(['promote', 'production', '--yes']);
    expect(serving('production').map((d) => d.message)).toEqual(['r1']);
    expect(notPromoted.out).not.toContain('r2 promoted');
  });
});
