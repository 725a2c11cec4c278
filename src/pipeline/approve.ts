/**
 * Approvals: who let a release into an environment. Recorded per (environment, release); the
 * approval gate counts distinct people. Whoever deployed the release cannot approve its
 * promotion unless the environment allows self-approval (GitHub Environments: prevent
 * self-review, on by default).
 */

import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import type { Approval, Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { promotionCandidate, releaseNamed } from './decide.ts';
import { deployersOf, rolledBackFrom } from './facts.ts';

export interface ApproveRequest {
  environment: string;
  /** Default: the release a promotion would take (serving on the previous environment). */
  release?: string;
  decision: 'approved' | 'rejected';
  comment?: string;
}

export interface ApproveResult {
  approval: Approval;
  release: Release;
  /** True when this person had already recorded the same decision. */
  repeated: boolean;
}

/**
 * Records an approval or a rejection.
 * @throws UserError `SELF_APPROVAL` and `NOT_AN_APPROVER` (audited as refused), `APPROVAL_NOT_ALLOWED` for the first
 *   environment, `RELEASE_NOT_FOUND`, `NOTHING_TO_PROMOTE`, `UNKNOWN_ENVIRONMENT`.
 */
export async function recordApproval(
  ctx: AirlockContext,
  request: ApproveRequest,
): Promise<ApproveResult> {
  const env = environmentNamed(ctx.config, request.environment);
  if (!env.previous) {
    throw new UserError(
      'APPROVAL_NOT_ALLOWED',
      `${env.name} is the first environment; releases are deployed into it without approval.`,
      {
        hint: `Approvals gate promotions: approve a later environment, e.g. \`airlock approve ${ctx.config.pipeline[1] ?? '<env>'}\`.`,
      },
    );
  }
  const release = request.release
    ? await releaseNamed(ctx, request.release)
    : await promotionCandidate(ctx, env);
  const deployers = await deployersOf(ctx, env.name, release.id);
  const at = ctx.now().toISOString();
  /** A refused approval is on the record too (who tried, and why it did not count). */
  const refused = (detail: Record<string, unknown>) =>
    audit(ctx, 'approval.refused', {
      at,
      environment: env.name,
      releaseId: release.id,
      result: 'refused',
      detail,
    });
  const approvers = env.promotion.approval.approvers;
  if (approvers && !approvers.includes(ctx.actor)) {
    await refused({ reason: 'not-an-approver', approvers, decision: request.decision });
    throw new UserError(
      'NOT_AN_APPROVER',
      `${ctx.actor} is not among ${env.name}'s approvers (${approvers.join(', ')}).`,
      {
        hint: `Ask one of them to run \`airlock approve ${env.name} --release ${release.id}\`, or add ${ctx.actor} to environments.${env.name}.promotion.approval.approvers.`,
        details: { actor: ctx.actor, approvers },
      },
    );
  }
  if (
    request.decision === 'approved' &&
    deployers.includes(ctx.actor) &&
    !env.promotion.approval.allowSelfApproval
  ) {
    await refused({ reason: 'self-approval', deployers });
    throw new UserError(
      'SELF_APPROVAL',
      `${ctx.actor} deployed ${release.id} to ${env.previous} and cannot approve its promotion to ${env.name} (prevent self-review).`,
      {
        hint: `Ask someone else to run \`airlock approve ${env.name} --release ${release.id}\`, or set environments.${env.name}.promotion.approval.allowSelfApproval: true.`,
        details: { actor: ctx.actor, deployers },
      },
    );
  }
  const earlier = (await ctx.store.listApprovals(env.name, release.id)).filter(
    (a) => a.actor === ctx.actor,
  );
  const last = earlier[earlier.length - 1];
  // A rollback from this environment voided the approvals before it: approving again counts.
  const rolledBack = await rolledBackFrom(ctx, env.name, release.id);
  const voided = last && rolledBack && Date.parse(last.at) <= Date.parse(rolledBack.at);
  if (last && last.decision === request.decision && !request.comment && !voided) {
    return { approval: last, release, repeated: true };
  }
  const approval = await ctx.store.addApproval({
    environment: env.name,
    releaseId: release.id,
    actor: ctx.actor,
    decision: request.decision,
    comment: request.comment ?? null,
    at,
  });
  await audit(ctx, request.decision === 'approved' ? 'approval.recorded' : 'approval.rejected', {
    at,
    environment: env.name,
    releaseId: release.id,
    detail: request.comment ? { comment: request.comment } : {},
  });
  return { approval, release, repeated: false };
}
