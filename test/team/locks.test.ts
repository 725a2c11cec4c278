/**
 * Team mode on a real Postgres state store, with real Airlock processes: one deployment per
 * environment at a time across processes, waiting in the queue, and fencing of a process that
 * was paused (SIGSTOP) past its lease.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { postgresProjectTestWith } from '../helpers/fixtures.ts';
import { describeIfPostgres } from '../helpers/postgres.ts';
import { BIN, liveVersion, type TestProject } from '../helpers/project.ts';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `airlock <args>` and returns its exit later; `pid` is known at once. */
function start(project: TestProject, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: project.dir,
    env: { ...process.env, AIRLOCK_ACTOR: '', CI: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const exit = new Promise<Exit>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, exit, output: () => stdout + stderr };
}

async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A team-mode project (state on a Postgres database of its own) whose staging check keeps a
 * deployment, and its lock, busy until the test opens the gate (`gate.open()` creates the file
 * the check waits for: no fixed sleeps, however busy the machine); r1 is built. `env` points
 * commands at the state database.
 */
const teamTest = postgresProjectTestWith()
  .extend('gate', async ({ project }) => {
    const file = path.join(project.dir, '.git', 'airlock-test-gate');
    project.editConfig((doc) =>
      doc.setIn(
        ['environments', 'staging', 'services', 'notes', 'checks'],
        [
          {
            name: 'gated',
            type: 'command',
            run: `while [ ! -e '${file}' ]; do sleep 0.05; done`,
            timeoutMs: 120_000,
          },
        ],
      ),
    );
    return { open: () => writeFileSync(file, '') };
  })
  .extend('env', async ({ stateDatabase }) => ({ AIRLOCK_STATE_URL: stateDatabase.url }))
  .extend('r1', { auto: true }, async ({ project }) => {
    const built = await project.cli(['build', '--json']);
    expect(built.code, built.stderr).toBe(0);
    return JSON.parse(built.stdout).release.id as string;
  });

describeIfPostgres(
  'team mode: locks across processes (Postgres state)',
  () => {
    teamTest(
      '8 processes race to deploy into one environment: exactly one deploys, the others fail naming the holder',
      async ({ project, env, gate }) => {
        const racers = Array.from({ length: 8 }, () =>
          start(project, ['deploy', 'staging', '--release', 'r1', '--json'], env),
        );
        // The winner's check holds the lock at the gate until the seven others have exited.
        let ended = 0;
        for (const r of racers) r.exit.then(() => ended++);
        await until(() => ended >= 7, 120_000);
        gate.open();
        const exits = await Promise.all(racers.map((r) => r.exit));
        const winners = exits.filter((e) => e.code === 0);
        const losers = exits.filter((e) => e.code !== 0);
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(7);
        for (const loser of losers) {
          const error = JSON.parse(loser.stdout).error;
          expect(error.code).toBe('LOCK_HELD');
          expect(error.message).toMatch(
            /^staging is locked by dev@airlock\.demo \(pid \d+ on .+\) since .+: "deploy r1"\.$/,
          );
        }
        const { ctx } = await project.session();
        const deployments = await ctx.store.listDeployments({ environment: 'staging', limit: 20 });
        expect(deployments).toHaveLength(1);
        expect(deployments[0]?.status).toBe('succeeded');
        // Every refusal is on the record.
        const refused = (await ctx.store.listAudit({ environment: 'staging', limit: 100 })).filter(
          (e) => e.action === 'lock.refused',
        );
        expect(refused).toHaveLength(7);
        expect(refused[0]).toMatchObject({
          result: 'refused',
          detail: { wanted: 'deploy r1', holder: 'dev@airlock.demo', kind: 'run' },
        });
      },
    );

    teamTest(
      'a second process with --wait queues behind the first and deploys after it',
      async ({ project, env, gate }) => {
        // The first deployment holds the lock (its check waits at the gate) until the second
        // process has joined the queue.
        const first = start(project, ['deploy', 'staging', '--release', 'r1', '--json'], env);
        const { ctx } = await project.session();
        await until(async () => (await ctx.store.getLock('staging')) !== undefined, 60_000);
        const second = start(
          project,
          ['deploy', 'staging', '--release', 'r1', '--wait', '1m'],
          env,
        );
        await until(
          async () => (await ctx.store.listQueue('staging', 'waiting')).length === 1,
          60_000,
        );
        gate.open();
        const [a, b] = await Promise.all([first.exit, second.exit]);
        expect(a.code).toBe(0);
        expect(b.code).toBe(0);
        expect(b.stdout).toMatch(
          /⏳ staging is locked by dev@airlock\.demo \(pid \d+ on .+\) since .+: "deploy r1"\. Waiting in the queue \(up to 1 minute\)…/,
        );
        expect((await ctx.store.listQueue('staging')).map((q) => q.status)).toContain('started');
        const runs = await ctx.store.listRuns({ environment: 'staging', limit: 10 });
        expect(runs.slice(0, 2).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
      },
    );

    teamTest(
      'a process paused past its lease cannot write after another took over (fencing)',
      async ({ project, env, gate }) => {
        const ttl = { ...env, AIRLOCK_LOCK_TTL_MS: '1500' };
        const { ctx } = await project.session();
        const a = start(project, ['deploy', 'staging', '--release', 'r1'], ttl);
        // Pause A while its slow check runs (it holds the lock and has written its run).
        await until(() => a.output().includes('▸ Check notes'), 90_000);
        const [aRun] = await ctx.store.listRuns({
          environment: 'staging',
          status: 'running',
          limit: 1,
        });
        expect(aRun?.pid).toBe(a.child.pid);
        a.child.kill('SIGSTOP');
        try {
          await new Promise((r) => setTimeout(r, 2_500)); // A's 1.5 s lease runs out
          gate.open(); // B's check passes at once; A, stopped, stays inside its own
          const b = await project.cli(['deploy', 'staging', '--release', 'r1', '--json'], {
            env: ttl,
          });
          expect(b.code).toBe(0);
          const bRun = JSON.parse(b.stdout).runId as number;
          const takeover = (await ctx.store.listAudit({ environment: 'staging', limit: 50 })).find(
            (e) => e.action === 'lock.taken-over',
          );
          expect(takeover?.detail).toMatchObject({ pid: a.child.pid });
          const before = await ctx.store.listAudit({ limit: 1000 });
          // A wakes up: every write it tries is refused, and it stops.
          a.child.kill('SIGCONT');
          // Bounded, so a process that never stops fails with what it printed, not a timeout.
          const aExit = await Promise.race([
            a.exit,
            new Promise<never>((_, reject) =>
              setTimeout(
                () =>
                  reject(new Error(`A did not stop after it woke up; it printed:\n${a.output()}`)),
                90_000,
              ),
            ),
          ]);
          expect(aExit.code).toBe(1);
          expect(aExit.stderr).toContain('no longer holds the staging lock');
          const after = await ctx.store.listAudit({ limit: 1000 });
          expect(
            after.filter((e) => !before.some((x) => x.id === e.id) && e.runId === aRun?.id),
          ).toEqual([]);
          expect((await ctx.store.getRun(aRun!.id))?.status).toBe('running'); // A could not even close it
          expect((await ctx.store.getRun(bRun))?.status).toBe('succeeded');
          const serving = await ctx.store.getServing('staging');
          expect(serving[0]?.deploymentId).toBe(JSON.parse(b.stdout).deploymentId);
          expect((await liveVersion(project.url('staging'))).release).toBe('r1');
        } finally {
          a.child.kill('SIGCONT');
          a.child.kill('SIGKILL');
        }
      },
    );

    teamTest(
      'holds an environment with a manual lock until it is released',
      async ({ project, gate }) => {
        gate.open();
        const acquired = await project.cli([
          'lock',
          'acquire',
          'staging',
          '-m',
          'database maintenance',
        ]);
        expect(acquired.code).toBe(0);
        const refused = await project.cli(['deploy', 'staging', '--release', 'r1']);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toContain(
          'staging is locked by dev@airlock.demo (a manual lock) since',
        );
        expect(refused.stderr).toContain('"database maintenance"');
        const status = await project.cli(['lock', 'status']);
        expect(status.stdout).toContain('🔒 staging is locked by dev@airlock.demo (a manual lock)');
        expect(status.stdout).toContain('🔓 production is free');

        // Someone else cannot release it without --force: refused, naming holder, since and why.
        const alice = { AIRLOCK_ACTOR: 'alice@airlock.demo' };
        const notHers = await project.cli(['lock', 'release', 'staging'], { env: alice });
        expect(notHers.code).toBe(1);
        expect(notHers.stderr).toMatch(
          /staging is locked by dev@airlock\.demo \(a manual lock\) since \d{4}-\d\d-\d\dT[^:]+:\d\d:[^:]+: "database maintenance"; it is dev@airlock\.demo's manual lock, not yours \(alice@airlock\.demo\)/,
        );
        expect(notHers.stderr).toContain(
          'Ask dev@airlock.demo to run `airlock lock release staging`',
        );
        expect(notHers.stderr).toContain('airlock lock release staging --force');
        const json = await project.cli(['lock', 'release', 'staging', '--json'], { env: alice });
        expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'LOCK_HELD' });
        expect((await project.cli(['lock', 'status', 'staging'])).stdout).toContain('🔒 staging');

        // The holder releases their own without --force.
        const own = await project.cli(['lock', 'release', 'staging']);
        expect(own.code, own.stderr).toBe(0);
        expect((await project.cli(['deploy', 'staging', '--release', 'r1'])).code).toBe(0);
        const { ctx } = await project.session();
        const events = await ctx.store.listAudit({ environment: 'staging', limit: 200 });
        const actions = events.map((e) => e.action);
        expect(actions).toContain('lock.acquired');
        expect(actions).toContain('lock.released');
        expect(events.find((e) => e.action === 'lock.released')).toMatchObject({
          actor: 'dev@airlock.demo',
          detail: { holder: 'dev@airlock.demo', kind: 'manual', forced: false },
        });
        expect(events.find((e) => e.action === 'lock.refused')).toMatchObject({
          actor: 'alice@airlock.demo',
          result: 'refused',
          detail: { wanted: 'lock release', holder: 'dev@airlock.demo', kind: 'manual' },
        });

        // With --force, someone else releases it, and the audit log says it was forced.
        expect(
          (await project.cli(['lock', 'acquire', 'staging', '-m', 'freeze for the demo'])).code,
        ).toBe(0);
        const forced = await project.cli(['lock', 'release', 'staging', '--force'], {
          env: alice,
        });
        expect(forced.code, forced.stderr).toBe(0);
        expect(forced.stdout + forced.stderr).toContain(
          'Released the staging lock held by dev@airlock.demo',
        );
        expect((await project.cli(['lock', 'status', 'staging'])).stdout).toContain(
          '🔓 staging is free',
        );
        const [released] = (await ctx.store.listAudit({ environment: 'staging', limit: 200 }))
          .filter((e) => e.action === 'lock.released')
          .sort((a, b) => b.id - a.id);
        expect(released).toMatchObject({
          actor: 'alice@airlock.demo',
          detail: {
            holder: 'dev@airlock.demo',
            kind: 'manual',
            message: 'freeze for the demo',
            forced: true,
          },
        });
      },
    );
  },
  // Several real CLI processes per test, each a few seconds on a busy machine.
  { timeout: 240_000 },
);
