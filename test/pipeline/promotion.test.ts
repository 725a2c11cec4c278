/**
 * Promotions on the real example: real builds, real processes behind the local proxy, real
 * SQLite databases, real HTTP checks. Each failing gate condition blocks with its own reason.
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { hasCode, type UserError } from '../../src/errors.ts';
import type { GateResult } from '../../src/gates/gate.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { deploy, planDeploy } from '../../src/pipeline/operations.ts';
import { projectTest, promotedProjectTest, promotedProjectTestWith } from '../helpers/fixtures.ts';
import {
  DEVELOPER,
  liveVersion,
  productionChecksOnlyR1,
  projectHome,
  REVIEWER,
} from '../helpers/project.ts';

function gate(gates: GateResult[], name: GateResult['gate']): GateResult | undefined {
  return gates.find((g) => g.gate === name);
}

async function refusal(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (error) {
    if (hasCode(error, 'GATE_BLOCKED')) return error as UserError;
    throw error;
  }
  throw new Error('expected the promotion to be refused');
}

describe('promotion through the gate', () => {
  projectTest('refuses to promote when nothing is deployed on staging', async ({ project }) => {
    const { ctx } = await project.session();
    await expect(planDeploy(ctx, 'production', {})).rejects.toMatchObject({
      code: 'NOTHING_TO_PROMOTE',
    });
  });

  projectTest(
    'deploys r1 to staging, then refuses production until a different person approves',
    async ({ project }) => {
      const { ctx } = await project.session();
      const staged = await deploy(ctx, 'staging', {});
      expect(staged.status).toBe('succeeded');
      expect(staged.plan.release.id).toBe('r1');
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');

      const blocked = await refusal(deploy(ctx, 'production', {}));
      const gates = blocked.details.gates as GateResult[];
      expect(gates.map((g) => `${g.gate}:${g.status}`)).toEqual([
        'deployed:holds',
        'checks:holds',
        'migrations:holds',
        'drift:holds',
        'parity:holds',
        'approval:pending',
      ]);
      expect(blocked.message).toBe(
        'promotion of r1 to production refused: the approval gate is pending (1 more approval needed (0/1) by someone other than dev@airlock.demo).',
      );
      // The refusal is on record.
      const [refused] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(refused).toMatchObject({
        action: 'promotion.refused',
        result: 'refused',
        releaseId: 'r1',
      });

      // Self-approval is refused and recorded; it does not count.
      await expect(
        recordApproval(ctx, { environment: 'production', decision: 'approved' }),
      ).rejects.toMatchObject({ code: 'SELF_APPROVAL' });
      const [selfRefused] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(selfRefused).toMatchObject({ action: 'approval.refused', actor: DEVELOPER });

      const { ctx: reviewer } = await project.session(REVIEWER);
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const promoted = await deploy(ctx, 'production', {});
      expect(promoted.status).toBe('succeeded');
      const [s, p] = await Promise.all([
        liveVersion(project.url('staging')),
        liveVersion(project.url('production')),
      ]);
      expect(p).toMatchObject({ release: 'r1', digest: s.digest });
    },
  );

  promotedProjectTest(
    'blocks a release whose staging checks failed, naming the failing check',
    async ({ project, r1 }) => {
      const { ctx } = await project.session();
      project.commit('2-pinned-notes');
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r2
      project.commit('3-broken-create');
      const broken = await deploy(ctx, 'staging', {}); // r3
      expect(broken.status).toBe('failed');
      expect(broken.failedStep?.name).toBe('check:notes');
      expect(broken.deployment.checksStatus).toBe('failed');
      // The first environment keeps the failed release for inspection (onCheckFailure: keep).
      expect((await liveVersion(project.url('staging'))).release).toBe('r3');

      const { ctx: reviewer } = await project.session(REVIEWER);
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const blocked = await refusal(deploy(ctx, 'production', {}));
      const checks = gate(blocked.details.gates as GateResult[], 'checks');
      expect(checks?.status).toBe('fails');
      expect(checks?.reason).toMatch(
        /^r3's checks failed on staging — notes\/e2e: `node e2e\/notes\.e2e\.mjs` exited 1: .*POST \/notes → 500/,
      );
      expect(gate(blocked.details.gates as GateResult[], 'approval')?.status).toBe('holds');
      expect((await liveVersion(project.url('production'))).release).toBe(r1);

      // Approved, but its checks failed: replacing r3 on staging strands nothing, so the next
      // staging deployment does not warn about it.
      project.commitFiles({ 'CHANGELOG.md': 'r4\n' }, 'A newer change');
      const warnings: string[] = [];
      const r4 = await deploy(
        ctx,
        'staging',
        {},
        { beforeApply: async (plan) => void warnings.push(...plan.warnings) },
      );
      expect(r4.deployment.releaseId).toBe('r4');
      expect(warnings.filter((w) => w.includes('r3'))).toEqual([]);
    },
  );

  promotedProjectTest(
    'blocks a release whose migration staging has not run with the same checksum',
    async ({ project }) => {
      const { ctx } = await project.session();
      // r2 (with migration 0003) serves staging; then 0003 is lost from staging's ledger, as
      // after a restore from an old backup: production must not run a migration staging lacks.
      project.commit('2-pinned-notes');
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded');
      const db = new DatabaseSync(
        path.join(projectHome(project.dir), 'envs/staging/data/notes.db'),
      );
      db.exec('DELETE FROM airlock_migrations WHERE version = 3');
      db.close();
      const plan = await planDeploy(ctx, 'production', {});
      expect(plan.release.id).toBe('r2');
      const migrations = gate(plan.gates, 'migrations');
      expect(migrations).toMatchObject({
        status: 'fails',
        reason:
          'production would run migrations that have not succeeded on staging first: notes/0003_add_notes_pinned.sql (not applied on staging).',
      });
      expect(plan.blocked).toBe(true);
    },
  );

  projectTest(
    'blocks a release that staging does not serve (deployed gate), with --release',
    async ({ project }) => {
      expect((await project.cli(['build'])).code).toBe(0); // r1, never deployed
      project.commit('2-pinned-notes');
      const { ctx } = await project.session();
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r2
      const plan = await planDeploy(ctx, 'production', { release: 'r1' });
      expect(gate(plan.gates, 'deployed')).toMatchObject({
        status: 'fails',
        reason: 'staging serves r2, not r1: a release must pass staging before it is promoted.',
      });
    },
  );
});

describe('a promotion whose production checks fail', () => {
  promotedProjectTestWith({ config: productionChecksOnlyR1 })(
    'is rolled back to the previous release automatically and recorded as failed',
    async ({ project, r1 }) => {
      const { ctx } = await project.session();
      const { ctx: reviewer } = await project.session(REVIEWER);
      expect(r1).toBe('r1');

      project.commit('2-pinned-notes');
      await deploy(ctx, 'staging', {});
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const result = await deploy(ctx, 'production', {});
      expect(result.status).toBe('failed');
      expect(result.rolledBack).toBe(true);
      expect(result.deployment.status).toBe('rolled_back');
      expect(result.failedStep?.name).toBe('check:notes');
      expect(result.serving).toEqual({ notes: 'r1' });
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
      const steps = await ctx.store.listSteps(result.run.id);
      expect(steps.map((s) => `${s.name}:${s.status}`)).toEqual([
        'verify:succeeded',
        'migrate:notes:succeeded',
        'deploy:notes:succeeded',
        'check:notes:failed',
        'rollback:notes:succeeded',
      ]);
      const [event] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(event).toMatchObject({
        action: 'promotion.failed',
        result: 'failed',
        detail: { rolledBackTo: 'r1', failedStep: 'check:notes' },
      });

      // The approval that let r2 fail in production does not let it in again: promoting it
      // once more is refused until someone approves it again.
      const again = await refusal(deploy(ctx, 'production', {}));
      const approval = gate((again.details as { gates: GateResult[] }).gates, 'approval');
      expect(approval?.status).toBe('pending');
      expect(approval?.reason).toMatch(
        /r2 was rolled back from production automatically when its deployment by \S+ failed at \S+ \(to r1\), so the approval given before \(\S+\) no longer counts\./,
      );
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const { gates } = await planDeploy(ctx, 'production', {});
      expect(gate(gates, 'approval')?.status).toBe('holds');
    },
  );
});
