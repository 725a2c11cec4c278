/**
 * The queue rule (in process, real SQLite): a command waiting for a lock as an automatic
 * promotion gives way to a newer release; a manual one keeps waiting.
 */
import { describe, expect } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { acquireEnvironmentLock } from '../../src/pipeline/lock.ts';
import { projectTest } from '../helpers/fixtures.ts';

describe('waiting for a lock in the queue', () => {
  projectTest(
    'an automatic promotion of an older release gives way to a newer one; a manual one never does',
    async ({ project }) => {
      expect((await project.cli(['build'])).code).toBe(0);
      project.commit('2-pinned-notes');
      expect((await project.cli(['build'])).code).toBe(0);
      const { ctx } = await project.session();
      const [r1, r2] = [(await ctx.store.findRelease('r1'))!, (await ctx.store.findRelease('r2'))!];
      const holder = await acquireEnvironmentLock(ctx, 'production', 'hotfix');
      const waits = { waitMs: 20_000, pollMs: 20 };
      const autoOld = acquireEnvironmentLock(ctx, 'production', 'promote r1', {
        ...waits,
        queue: { release: r1, kind: 'automatic' },
      });
      const manualOld = acquireEnvironmentLock(ctx, 'production', 'promote r1', {
        ...waits,
        queue: { release: r1, kind: 'manual' },
      });
      autoOld.catch(() => {});
      manualOld.catch(() => {});
      await expect
        .poll(async () => (await ctx.store.listQueue('production', 'waiting')).length)
        .toBe(2);
      // A newer release joins the queue as an automatic promotion.
      const autoNew = acquireEnvironmentLock(ctx, 'production', 'promote r2', {
        ...waits,
        queue: { release: r2, kind: 'automatic' },
      });
      const superseded = await autoOld.then(
        () => null,
        (error: unknown) => error,
      );
      expect(hasCode(superseded, 'SUPERSEDED')).toBe(true);
      expect((superseded as Error).message).toBe(
        'this automatic promotion of r1 to production gave way to a newer release (superseded by r2).',
      );
      const statuses = Object.fromEntries(
        (await ctx.store.listQueue('production')).map((q) => [
          `${q.releaseId}/${q.kind}`,
          q.status,
        ]),
      );
      expect(statuses).toEqual({
        'r1/automatic': 'superseded',
        'r1/manual': 'waiting',
        'r2/automatic': 'waiting',
      });
      const events = await ctx.store.listAudit({ environment: 'production', limit: 10 });
      expect(events.find((e) => e.action === 'queue.superseded')).toMatchObject({
        releaseId: 'r1',
        detail: { by: 'r2' },
      });
      await holder.release();
      // Both remaining waiters get the lock in turn (each frees it as soon as it has it).
      await Promise.all([manualOld.then((l) => l.release()), autoNew.then((l) => l.release())]);
    },
  );
});
