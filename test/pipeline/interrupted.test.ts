/**
 * `kill -9` of the CLI in the middle of a deployment: the environment keeps serving the old
 * release, and the next command reports the interrupted run and frees the lock. SIGTERM and
 * Ctrl-C stop it cleanly; a second Ctrl-C quits at once, but a repeat within
 * `REPEATED_SIGNAL_WINDOW_MS` (the copy `pnpm exec` forwards) is the same press.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect } from 'vitest';
import { REPEATED_SIGNAL_WINDOW_MS } from '../../src/cli/run-command.ts';
import { projectTest } from '../helpers/fixtures.ts';
import { liveVersion, spawnCli, type TestProject } from '../helpers/project.ts';

const SLEEP = 'sleep 47.123';
/** The command of a check that ignores SIGTERM (its own, so no other test's process matches). */
const TRAPPED = 'sleep 48.321';

function processRunning(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the processes whose command line contains `pattern` (a test's own command). */
function killAll(pattern: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return; // none
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
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
 * Commits r2, edits airlock.yaml with `edit` and starts `airlock deploy staging` for r2 as a
 * real child process. Output is stdout and stderr.
 */
function startDeploy(project: TestProject, edit: Parameters<TestProject['editConfig']>[0]) {
  project.commit('2-pinned-notes');
  project.editConfig(edit);
  return spawnCli(project.dir, ['deploy', 'staging']);
}

/**
 * Commits r2 whose process never becomes healthy and starts `airlock deploy staging` for it as a
 * real child process: the CLI will be waiting on the health check. Output is stdout and stderr.
 */
function startStuckDeploy(project: TestProject) {
  return startDeploy(project, (doc) =>
    doc.setIn(['environments', 'staging', 'services', 'notes', 'run'], SLEEP),
  );
}

/**
 * Staging in `airlock status --json` after a command stopped itself cleanly: nothing left to
 * recover, and its lock freed.
 */
async function stagingAfterCleanStop(project: TestProject) {
  const json = JSON.parse((await project.cli(['status', '--json'])).stdout);
  expect(json.interrupted).toBeUndefined(); // it ended itself: nothing left to recover
  const staging = json.environments.find(
    (e: { environment: string }) => e.environment === 'staging',
  );
  expect(staging.lock).toBeNull();
  return staging;
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

      const staging = await stagingAfterCleanStop(project);
      expect(staging.services[0]).toMatchObject({ release: 'r1' });
    },
  );
});

/**
 * Deploys r1, then starts the deployment of r2 whose staging check ignores SIGTERM, and waits
 * until that check runs: stopping it takes the 2 s until SIGKILL, so a clean stop is still under
 * way for a while after the first Ctrl-C (a second signal is not simply lost after the end).
 */
async function startSlowToStopDeploy(project: TestProject) {
  expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
  const started = startDeploy(project, (doc) =>
    doc.setIn(
      ['environments', 'staging', 'services', 'notes', 'checks'],
      [{ name: 'e2e', type: 'command', run: `trap "" TERM; ${TRAPPED}`, timeoutMs: 60_000 }],
    ),
  );
  expect(await waitFor(() => processRunning(TRAPPED), 30_000)).toBe(true);
  return started;
}

describe('Ctrl-C (SIGINT) during a deployment', () => {
  projectTest(
    'twice within the repeat window (pnpm exec forwards it) stops cleanly, as one press',
    async ({ project }) => {
      const { child, exited, output } = await startSlowToStopDeploy(project);
      try {
        // The terminal's Ctrl-C, then pnpm's forwarded copy a few milliseconds later.
        child.kill('SIGINT');
        await new Promise((r) => setTimeout(r, 5));
        child.kill('SIGINT');
        // One press: a clean stop (exit 1, the run recorded), not "again quits at once" (130).
        expect(await exited, output()).toBe(1);
        expect(output().match(/Interrupting \(Ctrl-C\)/g)).toHaveLength(1);
        expect(output()).toContain('✖ Check notes (e2e)');
        expect(output()).toContain(`e2e: \`trap "" TERM; ${TRAPPED}\` cancelled`);
        expect(await waitFor(() => !processRunning(TRAPPED), 10_000)).toBe(true);

        const staging = await stagingAfterCleanStop(project);
        expect(staging.lastDeployment).toMatchObject({ releaseId: 'r2', status: 'failed' });
        // Stopped during its checks, as if they failed: staging (the first environment) keeps
        // the new release, as it does when checks fail, and the summary says so.
        expect((await liveVersion(project.url('staging'))).release).toBe('r2');
        expect(output()).toContain('staging serves notes → r2.');
      } finally {
        killAll(TRAPPED);
      }
    },
  );

  projectTest(
    'a second press after the repeat window quits at once (130) while the step is stopping',
    async ({ project }) => {
      const { child, exited, output } = await startSlowToStopDeploy(project);
      try {
        child.kill('SIGINT');
        expect(await waitFor(() => output().includes('Interrupting (Ctrl-C)'), 10_000)).toBe(true);
        // After the window (the first press was handled before its line was printed).
        await new Promise((r) => setTimeout(r, REPEATED_SIGNAL_WINDOW_MS + 100));
        const pressed = Date.now();
        child.kill('SIGINT');
        expect(await exited, output()).toBe(130);
        expect(Date.now() - pressed).toBeLessThan(1_000); // at once, not after the clean stop
        expect(output().match(/Interrupting \(Ctrl-C\)/g)).toHaveLength(1);
      } finally {
        // The CLI quit without stopping its check, which ignores SIGTERM.
        killAll(TRAPPED);
      }
    },
  );
});
