/**
 * `kill -9` of the CLI in the middle of a deployment: the environment keeps serving the old
 * release, and the next command reports the interrupted run and frees the lock.
 */
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import { BIN, liveVersion, type TestProject } from '../helpers/project.ts';

const SLEEP = 'sleep 47.123';

function processRunning(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await predicate()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return predicate();
}

/**
 * Commits r2 whose process never becomes healthy and starts `airlock deploy staging` for it as a
 * real child process: the CLI will be waiting on the health check. Output is stdout and stderr.
 */
function startStuckDeploy(project: TestProject) {
  project.commit('2-pinned-notes');
  project.editConfig((doc) =>
    doc.setIn(['environments', 'staging', 'services', 'notes', 'run'], SLEEP),
  );
  const child = spawn(process.execPath, [BIN, 'deploy', 'staging'], {
    cwd: project.dir,
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => output };
}

describe('a deployment killed with SIGKILL', () => {
  projectTest(
    'leaves the old release serving; the next command reports it and frees the lock',
    async ({ project }) => {
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');

      // r2 whose process never becomes healthy: the CLI will be waiting on the health check.
      const { child, exited, output } = startStuckDeploy(project);
      expect(await waitFor(() => output().includes('▸ Deploy notes r1 → r2'), 30_000)).toBe(true);
      expect(await waitFor(() => processRunning(SLEEP), 10_000)).toBe(true);
      child.kill('SIGKILL');
      await exited;

      // Still the old release, and the candidate the dead CLI asked for is stopped.
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');
      expect(await waitFor(() => !processRunning(SLEEP), 10_000)).toBe(true);

      const report = await project.cli(['status']);
      expect(report.code).toBe(0);
      expect(report.stderr).toMatch(
        /run #\d+ \(deploy r2 → staging\) was interrupted during deploy:notes: process \d+ on .* is gone\. The staging lock is released\. staging serves: notes → r1\./,
      );
      const status = await project.cli(['status', '--json']);
      expect(status.code).toBe(0);
      const json = JSON.parse(status.stdout);
      expect(json.interrupted).toBeUndefined(); // reported once, by the first command after the kill
      const staging = json.environments.find(
        (e: { environment: string }) => e.environment === 'staging',
      );
      expect(staging.lock).toBeNull();
      expect(staging.services[0]).toMatchObject({ release: 'r1', healthy: true });
      expect(staging.lastDeployment).toMatchObject({ releaseId: 'r2', status: 'failed' });
      expect(staging.lastDeployment.message).toMatch(/^interrupted: process \d+/);

      const { ctx } = await project.session();
      const [run] = await ctx.store.listRuns({ environment: 'staging', limit: 1 });
      expect(run?.status).toBe('interrupted');
      const steps = await ctx.store.listSteps(run!.id);
      expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual([
        'verify:succeeded',
        'lint:notes:succeeded',
        'migrate:notes:succeeded',
        'deploy:notes:errored',
        'check:notes:skipped',
      ]);
      const events = await ctx.store.listAudit({ environment: 'staging', limit: 5 });
      expect(events.find((e) => e.action === 'run.interrupted')).toMatchObject({
        result: 'interrupted',
        detail: { step: 'deploy:notes', lockFreed: true },
      });

      // The lock is free: with a run command that works, the next deploy goes through.
      project.editConfig((doc) =>
        doc.deleteIn(['environments', 'staging', 'services', 'notes', 'run']),
      );
      const again = await project.cli(['deploy', 'staging', '--json']);
      expect(again.code).toBe(0);
      const deployed = JSON.parse(again.stdout);
      expect(deployed).toMatchObject({ ok: true, status: 'succeeded', environment: 'staging' });
      expect(deployed.release.id).not.toBe('r1');
      expect((await liveVersion(project.url('staging'))).release).toBe(deployed.release.id);
    },
  );
});

describe('a deployment stopped with SIGTERM (CI cancellation, `timeout`)', () => {
  projectTest(
    'stops as Ctrl-C does: the step stops, the old release keeps serving, the lock is freed',
    async ({ project }) => {
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      const { child, exited, output } = startStuckDeploy(project);
      expect(await waitFor(() => processRunning(SLEEP), 30_000)).toBe(true);
      child.kill('SIGTERM');
      // Handled, not killed by the signal (which would exit 143 with no cleanup).
      expect(await exited).toBe(1);
      expect(output()).toContain('Interrupting (SIGTERM)');
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');
      expect(await waitFor(() => !processRunning(SLEEP), 10_000)).toBe(true);

      const status = await project.cli(['status', '--json']);
      const json = JSON.parse(status.stdout);
      expect(json.interrupted).toBeUndefined(); // it ended itself: nothing left to recover
      const staging = json.environments.find(
        (e: { environment: string }) => e.environment === 'staging',
      );
      expect(staging.lock).toBeNull();
      expect(staging.services[0]).toMatchObject({ release: 'r1' });
    },
  );
});
