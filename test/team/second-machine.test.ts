/**
 * Team mode from a second machine: one state store (Postgres) shared, each machine its own
 * Airlock home (its own artifact store), no shared artifact store. A release built on the
 * first machine is not on the second: planning its deployment says so (not "applied migrations
 * are gone"), its promotion's migrations gate waits for the files, and `airlock build` there
 * builds the commit again instead of reusing a release it cannot read. The example's build gives the same bytes, so it is the same release. Real CLI
 * processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { postgresProjectTestWith } from '../helpers/fixtures.ts';
import { describeIfPostgres } from '../helpers/postgres.ts';

const teamTest = postgresProjectTestWith();

describeIfPostgres('team mode: a release built on another machine', () => {
  teamTest(
    'is refused by name until built here; building the commit again stores the same release',
    async ({ project, onTestFinished }) => {
      const built = await project.cli(['build', '--json']);
      expect(built.code, built.stderr).toBe(0);
      const r1 = JSON.parse(built.stdout).release;

      // The second machine: same project and state store, another home.
      const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-second-machine-'));
      onTestFinished(() => rmSync(home, { recursive: true, force: true }));
      const there = { env: { AIRLOCK_HOME: home, XDG_STATE_HOME: home } };

      const plan = await project.cli(['plan', 'staging', '--release', r1.id], there);
      expect(plan.code).toBe(1);
      expect(plan.stderr).toContain(
        `${r1.id} was built from ${r1.commit.slice(0, 7)} by ${r1.createdBy} on another machine, and its files are not stored on this one.`,
      );
      expect(plan.stderr).toContain(`airlock build --commit ${r1.commit.slice(0, 7)}`);
      expect(plan.stderr).not.toContain('gone from the migrations directory');
      // A promotion's plan still names the release (a CI job learns from it what to fetch):
      // the migrations gate waits for the files instead of judging none.
      const promotion = await project.cli(
        ['plan', 'production', '--release', r1.id, '--json'],
        there,
      );
      expect(promotion.code).toBe(4);
      const gates = JSON.parse(promotion.stdout).plan.gates as Array<Record<string, string>>;
      expect(gates.find((g) => g.gate === 'migrations')).toMatchObject({
        status: 'pending',
        reason: expect.stringContaining('its files are not stored on this one'),
      });

      const again = await project.cli(['build'], there);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr + again.stdout).toContain(
        `${r1.id} was built from ${r1.commit.slice(0, 7)} on another machine`,
      );
      expect(again.stdout).toContain(`Release ${r1.id}: commit ${r1.commit.slice(0, 7)}`);

      const now = await project.cli(['plan', 'staging', '--release', r1.id, '--json'], there);
      expect(now.stderr).not.toContain('not stored');
      expect(JSON.parse(now.stdout).plan.release.id).toBe(r1.id);
      // Stored here now: the next build reuses it without building.
      const third = await project.cli(['build'], there);
      expect(third.stdout + third.stderr).toContain(`${r1.id} is already built from`);
    },
  );
});
