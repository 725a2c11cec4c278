/**
 * The command provider under the real pipeline: the notes example deployed by a user's deploy
 * script (the tiny platform of test/fixtures/command) into staging and production through the
 * real CLI — built once, migrated, deployed, checked on its live URL (smoke and the E2E suite),
 * promoted behind the gate (parity included), and rolled back with the deploy command.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleProject, liveVersion, REVIEWER, type TestProject } from '../../helpers/project.ts';
import { FIXTURES } from './command-test-helpers.ts';

describe('provider command under the pipeline (the notes example)', () => {
  let project: TestProject;
  const platformDir = path.join(os.tmpdir(), `airlock-command-platform-${process.pid}`);
  const env = { AIRLOCK_FROM_SOURCE: '1', PLATFORM_DIR: platformDir };
  const cli = (...args: string[]) => project.cli(args, { env });
  const current = (environment: string) =>
    JSON.parse(
      readFileSync(path.join(platformDir, environment, 'notes', 'current.json'), 'utf8'),
    ) as {
      release: string;
      url: string;
    };

  beforeAll(async () => {
    project = await exampleProject();
    mkdirSync(path.join(project.dir, 'deploy'));
    for (const file of ['deploy.sh', 'platform.mjs'])
      copyFileSync(path.join(FIXTURES, file), path.join(project.dir, 'deploy', file));
    project.editConfig((doc) => {
      doc.setIn(['services', 'notes', 'command'], doc.createNode({ deploy: './deploy/deploy.sh' }));
      for (const name of ['staging', 'production'])
        doc.setIn(['environments', name, 'provider'], 'command');
    });
    project.commitFiles({}, 'Deploy with our own script');
  });
  afterAll(async () => {
    for (const pid of readFileSync(path.join(platformDir, 'pids'), 'utf8')
      .split('\n')
      .filter(Boolean)) {
      try {
        process.kill(-Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(platformDir, { recursive: true, force: true });
    await project?.cleanup();
  });

  it('deploys to staging, promotes the same bytes to production, and rolls back with the deploy command', async () => {
    const staged = await cli('deploy', 'staging');
    expect(staged.code, staged.stderr).toBe(0);
    expect(staged.stdout).toMatch(/Deploy notes r1.*→ http:\/\/127\.0\.0\.1:\d+/);
    expect(staged.stdout).toMatch(/Check notes \(smoke, e2e\).*2 passed/);
    const staging = current('staging');
    expect((await liveVersion(staging.url)).release).toBe('r1');

    expect((await project.cli(['approve', 'production', '--as', REVIEWER], { env })).code).toBe(0);
    const plan = await cli('plan', 'production');
    expect(plan.stdout).toContain('✔ parity     production mirrors staging (1 allowed difference');
    const promoted = await cli('promote', 'production', '--yes');
    expect(promoted.code, promoted.stderr).toBe(0);
    const [s, p] = await Promise.all([
      liveVersion(staging.url),
      liveVersion(current('production').url),
    ]);
    expect(p).toMatchObject({ release: 'r1', digest: s.digest });

    project.commit('2-pinned-notes');
    expect((await cli('deploy', 'staging')).code).toBe(0);
    expect((await project.cli(['approve', 'production', '--as', REVIEWER], { env })).code).toBe(0);
    expect((await cli('promote', 'production', '--yes')).code).toBe(0);
    expect((await liveVersion(current('production').url)).release).toBe('r2');

    const back = await cli('rollback', 'production', '--yes');
    expect(back.code, back.stderr).toBe(0);
    expect(current('production').release).toBe('r1');
    expect((await liveVersion(current('production').url)).release).toBe('r1');
    const status = JSON.parse((await cli('status', '--json')).stdout);
    expect(JSON.stringify(status)).toContain(current('production').url);
  });
});
