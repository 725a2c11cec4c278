/**
 * A run whose CLI was killed (kill -9), through the real CLI: `airlock status` shows it as
 * interrupted with the command that finishes it, and `airlock resume` asks before changing a
 * protected environment, as deploy, promote and rollback do.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { lastDeploymentLine } from '../../src/server/dashboard.ts';
import { type PipelineEnvironment, pipelineView } from '../../src/server/pipeline-view.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { projectHome, spawnCli, type TestProject } from '../helpers/project.ts';

/** Staging is protected: its run can be interrupted before anything boots (no app, no checks). */
const protectedStagingTest = projectTestWith({
  config: (doc) => doc.setIn(['environments', 'staging', 'protected'], true),
  commitMessage: 'staging is protected',
});

/** Runs `airlock deploy staging --yes`, stops it before its first step and kills it with SIGKILL. */
async function deployKilledBeforeVerify(project: TestProject): Promise<void> {
  const marker = path.join(projectHome(project.dir), 'fault-paused');
  rmSync(marker, { force: true });
  const { child, exited } = spawnCli(project.dir, ['deploy', 'staging', '--yes'], {
    AIRLOCK_FAULT_PAUSE: 'before:verify',
  });
  await expect.poll(() => existsSync(marker), { timeout: 60_000, interval: 50 }).toBe(true);
  child.kill('SIGKILL');
  await exited;
  rmSync(marker, { force: true });
}

protectedStagingTest(
  'status shows a killed run as interrupted; resume refuses a protected environment without a terminal or --yes',
  async ({ project }) => {
    await deployKilledBeforeVerify(project);

    const status = await project.cli(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      /^\s+staging\s+notes\s.*deploy r1 interrupted .* — airlock resume staging\s*$/m,
    );
    expect(status.stdout).not.toContain('failed');
    const json = JSON.parse((await project.cli(['status', 'staging', '--json'])).stdout);
    expect(json.environments[0].lastDeployment).toMatchObject({
      releaseId: 'r1',
      interrupted: true,
    });

    // No terminal (stdin is not one) and no --yes: nothing is deployed, the run stays interrupted.
    const refused = await project.cli(['resume', 'staging'], { input: '' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'staging is a protected environment and there is no terminal to confirm on.',
    );
    expect(refused.stderr).toContain('Re-run with --yes to confirm.');
    const after = JSON.parse((await project.cli(['status', 'staging', '--json'])).stdout);
    expect(after.environments[0].services[0].release).toBeNull();
    expect(after.environments[0].interrupted).toHaveLength(1);
    expect(after.environments[0].lastDeployment.interrupted).toBe(true);

    // The dashboard's column says the same.
    const view = await pipelineView((await project.session()).ctx);
    const staging = view.environments.find((e) => e.environment === 'staging');
    const line = String(await lastDeploymentLine(staging as PipelineEnvironment));
    expect(line).toContain('<span class="badge interrupted">interrupted</span>');
    expect(line).toContain('<code>airlock resume staging</code> finishes it');
    expect(line).not.toContain('failed');
  },
);
