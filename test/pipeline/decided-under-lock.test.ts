/**
 * The promotion decision is made under the environment lock: a promotion that waits in the
 * queue while the pipeline changes is decided again from the facts as they are once it holds
 * the lock (real builds, real processes, real SQLite, real HTTP checks).
 */
import { describe, expect } from 'vitest';
import { hasCode, type UserError } from '../../src/errors.ts';
import type { GateResult } from '../../src/gates/gate.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { acquireEnvironmentLock } from '../../src/pipeline/lock.ts';
import { deploy, promote, rollback } from '../../src/pipeline/operations.ts';
import { projectTest, promotedProjectTest } from '../helpers/fixtures.ts';
import { liveVersion, productionChecksOnlyR1, REVIEWER } from '../helpers/project.ts';

/** Resolves when the operation reports that it waits for the lock. */
function waitSignal(): { onWait: () => void; waiting: Promise<void> } {
  let onWait = () => {};
  const waiting = new Promise<void>((resolve) => {
    onWait = resolve;
  });
  return { onWait, waiting };
}

describe('a promotion that waited for the lock', () => {
  projectTest(
    'is refused when the gate stopped holding while it waited, and the audit says so',
    async ({ project }) => {
      const { ctx } = await project.session();
      const { ctx: reviewer } = await project.session(REVIEWER);
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r1
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });

      // Someone holds production; the promotion of r1 (its gate holds now) waits in the queue.
      const holder = await acquireEnvironmentLock(ctx, 'production', 'database maintenance');
      const { onWait, waiting } = waitSignal();
      const promotion = promote(ctx, 'production', {}, { waitMs: 60_000, onWait });
      promotion.catch(() => {});
      await waiting;

      // Meanwhile staging moves on to r2: r1 no longer serves there, so it may not be promoted.
      project.commit('2-pinned-notes');
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r2
      await holder.release();

      const error = await promotion.then(
        () => null,
        (e: unknown) => e,
      );
      expect(hasCode(error, 'GATE_BLOCKED')).toBe(true);
      const refusal = error as UserError;
      expect(refusal.message).toMatch(/^promotion of r1 to production refused \(checked again/);
      const deployed = (refusal.details.gates as GateResult[]).find((g) => g.gate === 'deployed');
      expect(deployed).toMatchObject({
        status: 'fails',
        reason: 'staging serves r2, not r1: a release must pass staging before it is promoted.',
      });
      // Nothing ran on production, and the refusal is on record as decided under the lock.
      expect(await ctx.store.getServing('production')).toEqual([]);
      expect(await ctx.store.listRuns({ environment: 'production', limit: 10 })).toEqual([]);
      const [audit] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(audit).toMatchObject({
        action: 'promotion.refused',
        releaseId: 'r1',
        result: 'refused',
        detail: { checkedUnderLock: true, changedUnderLock: true },
      });
      expect(audit?.detail.waitedMs).toBeGreaterThan(0);
    },
  );

  promotedProjectTest(
    'rolls back automatically to what served when it took the lock, not before it waited',
    async ({ project }) => {
      const { ctx } = await project.session();
      const { ctx: reviewer } = await project.session(REVIEWER);
      // r1 (the fixture), then r2, reach production.
      project.commit('2-pinned-notes');
      await deploy(ctx, 'staging', {});
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      expect((await deploy(ctx, 'production', {})).status).toBe('succeeded');
      expect((await liveVersion(project.url('production'))).release).toBe('r2');

      // From now on production checks that it serves r1: r3 will fail there (and roll back).
      project.editConfig(productionChecksOnlyR1);
      const { ctx: dev } = await project.session();
      const { ctx: reviewer2 } = await project.session(REVIEWER);
      project.commitFiles({ 'CHANGES.md': 'r3: a change to promote\n' }, 'r3');
      expect((await deploy(dev, 'staging', {})).status).toBe('succeeded'); // r3
      await recordApproval(reviewer2, { environment: 'production', decision: 'approved' });

      // An operator rolls production back to r1; the rollback holds the lock, paused before it
      // switches, while the promotion of r3 (which sees r2 serving) joins the queue.
      let resume = () => {};
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      let atPause = () => {};
      const reachedPause = new Promise<void>((resolve) => {
        atPause = resolve;
      });
      const operator = {
        ...dev,
        pause: async (boundary: string) => {
          if (boundary !== 'before:deploy:notes') return;
          atPause();
          await paused;
        },
      };
      const rollingBack = rollback(operator, 'production', 'r1');
      await reachedPause;
      const { onWait, waiting } = waitSignal();
      const promotion = promote(dev, 'production', {}, { waitMs: 60_000, onWait });
      await waiting;
      resume();
      expect((await rollingBack).status).toBe('succeeded');

      const result = await promotion;
      if (result.status === 'unchanged') throw new Error('expected the promotion to run');
      expect(result.plan.release.id).toBe('r3');
      expect(result.plan.current).toBe('r1');
      expect(result.status).toBe('failed');
      expect(result.rolledBack).toBe(true);
      expect(result.deployment.previousReleaseId).toBe('r1');
      const steps = await dev.store.listSteps(result.run.id);
      expect(steps.find((s) => s.name === 'rollback:notes')).toMatchObject({
        title: 'Roll notes back to r1',
        status: 'succeeded',
      });
      expect(result.serving).toEqual({ notes: 'r1' });
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
    },
  );
});
