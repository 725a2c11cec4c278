/**
 * The promotion policy the gates use is the stricter of the working tree's airlock.yaml and
 * the one committed at the release's commit: field by field (pure), and on the real example,
 * where an uncommitted `allowSelfApproval: true` must not let the deployer approve their own
 * release into production.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { PromotionPolicy } from '../../src/config/resolve.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { stricterPolicy } from '../../src/pipeline/committed-policy.ts';
import { planDeploy } from '../../src/pipeline/operations.ts';
import { stagedProjectTest } from '../helpers/fixtures.ts';
import { promotionPolicy } from '../helpers/promotion-policy.ts';

/** The policies these tests compare: signed approvals, CI required, no live check. */
function policy(
  approval: Partial<PromotionPolicy['approval']> = {},
  rest: Partial<Omit<PromotionPolicy, 'approval'>> = {},
): PromotionPolicy {
  return promotionPolicy(
    { identity: 'signed', ...approval },
    { ci: true, livePrevious: false, ...rest },
  );
}

describe('stricterPolicy', () => {
  it('keeps the committed bound wherever the working tree loosens it, and names those fields', () => {
    const local = policy(
      { required: 0, allowSelfApproval: true, identity: 'any', expiresAfterMs: 86_400_000 },
      { policy: 'automatic', ci: false, soakMs: 60_000 },
    );
    const committed = policy({ required: 2, expiresAfterMs: 3_600_000 }, { soakMs: 600_000 });
    const { policy: merged, looser } = stricterPolicy(local, committed);
    expect(merged).toEqual(policy({ required: 2, expiresAfterMs: 3_600_000 }, { soakMs: 600_000 }));
    expect(looser.sort()).toEqual(
      [
        'approval.allowSelfApproval',
        'approval.expiresAfter',
        'approval.identity',
        'approval.required',
        'ci',
        'policy',
        'soak',
      ].sort(),
    );
  });

  it('keeps what the working tree tightens, and reports nothing looser', () => {
    const local = policy(
      { required: 3, approvers: ['ann@x', 'bo@x'] },
      { rollbackRehearsal: 'required', freeze: [{ from: 'a', to: 'b', reason: 'launch' }] },
    );
    const committed = policy({ approvers: ['ann@x', 'bo@x', 'cy@x'] });
    expect(stricterPolicy(local, committed)).toEqual({ policy: local, looser: [] });
  });

  it('keeps an identity that proves something over `any`, from either side', () => {
    const signed = policy({ identity: 'signed' });
    const any = policy({ identity: 'any' });
    expect(stricterPolicy(signed, any)).toEqual({ policy: signed, looser: [] });
    expect(stricterPolicy(any, signed).policy.approval.identity).toBe('signed');
    expect(stricterPolicy(any, signed).looser).toEqual(['approval.identity']);
  });

  it('intersects approver lists and joins freezes', () => {
    const { policy: merged, looser } = stricterPolicy(
      policy({ approvers: ['ann@x', 'eve@x'] }, { freeze: [{ from: 'a', to: 'b', reason: 'x' }] }),
      policy({ approvers: ['ann@x', 'bo@x'] }, { freeze: [{ from: 'c', to: 'd', reason: 'y' }] }),
    );
    expect(merged.approval.approvers).toEqual(['ann@x']);
    expect(merged.freeze).toHaveLength(2);
    expect(looser.sort()).toEqual(['approval.approvers', 'freeze']);
  });
});

describe('an uncommitted airlock.yaml and the gates', () => {
  stagedProjectTest(
    'does not let the deployer approve their own release by allowing it only in the working tree',
    async ({ project, r1 }) => {
      // Not committed: r1's commit still says the deployer's approval does not count.
      project.editConfig((doc) => {
        doc.setIn(
          ['environments', 'production', 'promotion', 'approval', 'allowSelfApproval'],
          true,
        );
      });
      const { ctx } = await project.session();
      await expect(
        recordApproval(ctx, { environment: 'production', decision: 'approved' }),
      ).rejects.toMatchObject({ code: 'SELF_APPROVAL' });
      // An approval on the record by the deployer (say, from when a policy allowed it) still
      // does not count.
      await ctx.store.addApproval({
        environment: 'production',
        releaseId: r1,
        actor: ctx.actor,
        decision: 'approved',
        comment: null,
        at: new Date().toISOString(),
        identity: 'unverified',
        nonce: null,
        evidence: null,
      });
      const plan = await planDeploy(ctx, 'production', {});
      expect(plan.release.id).toBe(r1);
      expect(plan.gates.find((g) => g.gate === 'approval')?.status).toBe('pending');
      const gate = plan.gates.find((g) => g.gate === 'policy');
      expect(gate?.status).toBe('holds');
      expect(gate?.reason).toContain('approval.allowSelfApproval');
      expect(gate?.reason).toContain(`${r1}'s commit`);
    },
  );

  stagedProjectTest(
    "fails the policy gate when the release's commit is not in this clone",
    async ({ project, r1 }) => {
      // A clone without the release's commit (shallow, or history rewritten): its committed
      // policy cannot be read, so the gate does not fall back to the working tree's.
      const git = (...args: string[]) => execFileSync('git', args, { cwd: project.dir });
      git('commit', '-q', '--amend', '-m', 'Notes service, reworded');
      git('reflog', 'expire', '--expire=now', '--all');
      git('gc', '-q', '--prune=now');
      const { ctx } = await project.session();
      const plan = await planDeploy(ctx, 'production', { release: r1 });
      expect(plan.gates.find((g) => g.gate === 'policy')).toMatchObject({
        status: 'fails',
        reason: expect.stringContaining('is not in this clone'),
        next: expect.stringContaining('git fetch'),
      });
    },
  );
});
