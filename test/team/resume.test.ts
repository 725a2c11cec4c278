/**
 * kill -9 at every step boundary of a promotion (Postgres state store, real processes): after
 * `airlock resume`, the environment serves a release that passed its checks, the ledger
 * matches the schema, every completed step has its audit event, and the run is resolved.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { expect } from 'vitest';
import { postgresProjectTestWith, ship } from '../helpers/fixtures.ts';
import { describeIfPostgres } from '../helpers/postgres.ts';
import {
  BIN,
  liveVersion,
  productionChecks,
  projectHome,
  REVIEWER,
  type TestProject,
} from '../helpers/project.ts';

const BOUNDARIES = [
  'before:verify',
  'after:verify',
  'after:migrate:notes',
  'after:deploy:notes',
  'after:check:notes',
] as const;

/**
 * A team-mode project (state on a Postgres database of its own) whose production runs the smoke
 * check only (fast; staging keeps smoke + e2e), with r1 serving staging and production.
 */
const resumeTest = postgresProjectTestWith({
  config: (doc) =>
    productionChecks(doc, [
      {
        name: 'smoke',
        type: 'http',
        path: '/version',
        expect: { status: 200, json: { release: '${release.id}' } },
      },
    ]),
  commitMessage: 'production runs the smoke check only',
})
  .extend('env', async ({ stateDatabase }) => ({ AIRLOCK_STATE_URL: stateDatabase.url }))
  .extend('r1', { auto: true }, async ({ project }) => ship(project));

/** Runs `airlock promote production`, stops it at `boundary` and kills it with SIGKILL. */
async function promoteKilledAt(
  project: TestProject,
  env: Record<string, string>,
  boundary: string,
): Promise<void> {
  const marker = path.join(projectHome(project.dir), 'fault-paused');
  rmSync(marker, { force: true });
  const child = spawn(process.execPath, [BIN, 'promote', 'production', '--yes'], {
    cwd: project.dir,
    env: { ...process.env, ...env, CI: '1', NO_COLOR: '1', AIRLOCK_FAULT_PAUSE: boundary },
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await expect.poll(() => existsSync(marker), { timeout: 30_000, interval: 50 }).toBe(true);
  child.kill('SIGKILL');
  await exited;
  rmSync(marker, { force: true });
}

describeIfPostgres(
  'kill -9 at every step boundary of a promotion, then resume',
  () => {
    // Each boundary on a project of its own: r1 carries migrations 0001 and 0002.
    resumeTest.for(BOUNDARIES.map((b, i) => [b, i] as const))(
      'killed at %s',
      async ([boundary, index], { project, env }) => {
        const version = 3;
        const table = `boundary_${index}`;
        project.commitFiles(
          {
            [`migrations/${String(version).padStart(4, '0')}_${table}.sql`]: `CREATE TABLE ${table} (id INTEGER PRIMARY KEY);\n`,
          },
          `add ${table}`,
        );
        const staged = await project.cli(['deploy', 'staging', '--json']);
        expect(staged.code).toBe(0);
        const release = JSON.parse(staged.stdout).release.id as string;
        expect((await project.cli(['approve', 'production', '--as', REVIEWER])).code).toBe(0);

        await promoteKilledAt(project, env, boundary);

        const { ctx } = await project.session();
        const [killed] = await ctx.store.listRuns({ environment: 'production', limit: 1 });
        expect(killed).toMatchObject({ status: 'interrupted', releaseId: release }); // found by this session

        const resumed = await project.cli(['resume', 'production', '--yes', '--json']);
        expect(resumed.code).toBe(0);
        const outcome = JSON.parse(resumed.stdout).resumed[0];
        expect(outcome).toMatchObject({
          runId: killed!.id,
          outcome: 'finished',
          status: 'succeeded',
        });

        // The environment serves a release that passed its checks.
        const [serving] = await ctx.store.getServing('production');
        expect(serving?.releaseId).toBe(release);
        const deployment = await ctx.store.getDeployment(serving!.deploymentId);
        expect(deployment).toMatchObject({ status: 'succeeded', checksStatus: 'passed' });
        expect((await liveVersion(project.url('production'))).release).toBe(release);

        // The ledger matches the schema: every applied migration's table exists, and no other.
        const prod = new DatabaseSync(
          path.join(projectHome(project.dir), 'envs/production/data/notes.db'),
          { readOnly: true },
        );
        try {
          const ledger = prod
            .prepare('SELECT version, name FROM airlock_migrations ORDER BY version')
            .all() as Array<{ version: number; name: string }>;
          expect(ledger.map((e) => e.version)).toEqual(
            Array.from({ length: version }, (_, i) => i + 1),
          );
          const tables = (
            prod
              .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'boundary_%'",
              )
              .all() as Array<{ name: string }>
          )
            .map((t) => t.name)
            .sort();
          expect(tables).toEqual(
            ledger
              .filter((e) => e.name.startsWith('boundary_'))
              .map((e) => e.name)
              .sort(),
          );
        } finally {
          prod.close();
        }

        // No audit event of a completed step is missing, for the killed run and the one that finished it.
        for (const runId of [killed!.id, outcome.newRunId as number]) {
          const steps = (await ctx.store.listSteps(runId)).filter(
            (s) => s.status === 'succeeded' || s.status === 'failed',
          );
          const events = (await ctx.store.listAudit({ limit: 500 })).filter(
            (e) => e.runId === runId && e.action.startsWith('step.'),
          );
          expect(events.map((e) => `${e.action}:${e.detail.step}`).sort()).toEqual(
            steps.map((s) => `step.${s.status}:${s.name}`).sort(),
          );
        }
        expect(await ctx.store.getRun(killed!.id)).toMatchObject({
          status: 'resolved',
          message: `resumed by run #${outcome.newRunId}`,
        });
        expect((await ctx.store.getLock('production'))?.token ?? null).toBeNull();
      },
    );

    resumeTest(
      'rolls back when the interrupted release cannot be finished on this machine (its bytes are gone)',
      async ({ project, env }) => {
        const { ctx } = await project.session();
        const before = (await ctx.store.getServing('production'))[0]!.releaseId;
        // A new release (new bytes), deployed to staging and approved; its promotion dies after the switch.
        project.commitFiles({ 'src/marker.js': 'export const marker = 1;\n' }, 'marker');
        const staged = await project.cli(['deploy', 'staging', '--json']);
        expect(staged.code).toBe(0);
        const release = JSON.parse(staged.stdout).release;
        expect((await project.cli(['approve', 'production', '--as', REVIEWER])).code).toBe(0);
        await promoteKilledAt(project, env, 'after:deploy:notes');
        expect((await liveVersion(project.url('production'))).release).toBe(release.id);
        // The release's stored bytes disappear (a disk cleanup, another machine).
        const stored = (await ctx.store.findRelease(release.id))!.services.notes!;
        rmSync(ctx.artifacts.manifestPath(stored.digest), { force: true });
        rmSync(ctx.artifacts.pathOf(stored.digest), { recursive: true, force: true });

        const resumed = await project.cli(['resume', 'production', '--yes', '--json']);
        expect(resumed.code).toBe(0);
        const outcome = JSON.parse(resumed.stdout).resumed[0];
        expect(outcome).toMatchObject({
          outcome: 'rolled-back',
          status: 'succeeded',
          serving: { notes: before },
        });
        expect(outcome.reason).toMatch(
          new RegExp(
            `^cannot finish \\(artifact digest sha256:[0-9a-f]{12} is missing from .*\\); rolled back to ${before}$`,
          ),
        );
        expect((await liveVersion(project.url('production'))).release).toBe(before);
      },
    );
  },
  // A team-mode project promoted, then a promotion killed and resumed: real CLI processes.
  { timeout: 240_000 },
);
