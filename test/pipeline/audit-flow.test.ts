/**
 * Every action a real flow writes is one of the listed audit actions: the notes example
 * deployed, promoted (refused, then approved), rolled back and locked by hand, its audit log
 * read back through `airlock history --json`.
 */
import { describe, expect } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { acquireManualLock, releaseLockByCommand } from '../../src/pipeline/lock.ts';
import { deploy, rollback } from '../../src/pipeline/operations.ts';
import { AUDIT_ACTIONS } from '../../src/state/audit-action.ts';
import type { AuditEvent } from '../../src/state/state-store.ts';
import { projectTest } from '../helpers/fixtures.ts';
import { REVIEWER } from '../helpers/project.ts';

describe('audit actions of a real flow', () => {
  projectTest(
    'writes only listed actions, with the results the list documents',
    async ({ project }) => {
      const { ctx } = await project.session();
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r1
      await expect(deploy(ctx, 'production', {})).rejects.toMatchObject({ code: 'GATE_BLOCKED' });
      await expect(
        recordApproval(ctx, { environment: 'production', decision: 'approved' }),
      ).rejects.toMatchObject({ code: 'SELF_APPROVAL' });
      const { ctx: reviewer } = await project.session(REVIEWER);
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      expect((await deploy(ctx, 'production', {})).status).toBe('succeeded');
      project.commit('2-pinned-notes');
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r2
      expect((await rollback(ctx, 'staging', 'r1')).status).toBe('succeeded');
      await acquireManualLock(ctx, 'production', 'freeze for the audit test');
      await releaseLockByCommand(ctx, 'production', false);

      const history = await project.cli(['history', '--json', '--steps', '--limit', '500']);
      expect(history.code).toBe(0);
      const { events } = JSON.parse(history.stdout) as { events: AuditEvent[] };
      // Without --steps, the same log without each step's own events.
      const operations = JSON.parse(
        (await project.cli(['history', '--json', '--limit', '500'])).stdout,
      ) as { events: AuditEvent[] };
      expect(operations.events).toEqual(events.filter((e) => !e.action.startsWith('step.')));
      const written = new Set(events.map((e) => e.action));
      expect([...written].filter((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a))).toEqual(
        [],
      );
      // The flow wrote what it did, not nothing.
      for (const action of [
        'release.built',
        'deployment.started',
        'step.succeeded',
        'deployment.succeeded',
        'promotion.refused',
        'approval.refused',
        'approval.recorded',
        'promotion.started',
        'promotion.succeeded',
        'rollback.started',
        'rollback.succeeded',
        'lock.acquired',
        'lock.released',
      ] as const) {
        expect(written, action).toContain(action);
      }
      expect(new Set(events.map((e) => e.result))).toEqual(new Set(['ok', 'refused']));
    },
    180_000,
  );
});
