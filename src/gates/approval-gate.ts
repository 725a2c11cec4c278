import type { Approval } from '../state/state-store.ts';
import type { GateInputs, GateResult } from './gate.ts';

/** Each approver's latest decision, in the order they first decided. */
export function latestDecisions(approvals: Approval[]): Approval[] {
  const byActor = new Map<string, Approval>();
  for (const a of approvals) byActor.set(a.actor, a);
  return [...byActor.values()];
}

/**
 * Holds when `required` distinct people approved this release for this environment and nobody's
 * latest word is a rejection. Someone who deployed the release does not count unless
 * `allowSelfApproval`; only listed `approvers` count when a list is set; approvals older than
 * `expiresAfter` do not count (GitHub Environments: required reviewers, prevent self-review),
 * nor do approvals given before the release was rolled back from this environment, by a user
 * or automatically after its deployment there failed (it was taken out of service for a reason;
 * Octopus likewise blocks a release after a failed deployment until someone looks again).
 */
export function evaluateApprovalGate(inputs: GateInputs): GateResult {
  const { environment, release, deployers } = inputs;
  const { required, allowSelfApproval, approvers, expiresAfterMs } = environment.promotion.approval;
  // Approvals from people not on the list, or too old, do not count.
  const now = Date.parse(inputs.now);
  const rolledBackAt = inputs.rolledBack ? Date.parse(inputs.rolledBack.at) : null;
  const beforeRollback = (a: Approval) => rolledBackAt !== null && Date.parse(a.at) <= rolledBackAt;
  const valid = inputs.approvals.filter(
    (a) =>
      (!approvers || approvers.includes(a.actor)) &&
      (expiresAfterMs === null || now - Date.parse(a.at) <= expiresAfterMs) &&
      !beforeRollback(a),
  );
  const decisions = latestDecisions(valid);
  const rejected = decisions.filter((d) => d.decision === 'rejected');
  if (rejected.length > 0) {
    const who = rejected.map((r) => `${r.actor}${r.comment ? ` ("${r.comment}")` : ''}`).join(', ');
    return {
      gate: 'approval',
      status: 'fails',
      reason: `${release.id} was rejected for ${environment.name} by ${who}.`,
      next: `the rejecting reviewer can run \`airlock approve ${environment.name} --release ${release.id}\``,
    };
  }
  if (required === 0) {
    return {
      gate: 'approval',
      status: 'holds',
      reason: `no approval required (policy: ${environment.promotion.policy}).`,
    };
  }
  const counted = decisions.filter(
    (d) => d.decision === 'approved' && (allowSelfApproval || !deployers.includes(d.actor)),
  );
  if (counted.length >= required) {
    return {
      gate: 'approval',
      status: 'holds',
      reason: `approved by ${counted.map((d) => d.actor).join(', ')} (${counted.length}/${required}).`,
    };
  }
  const missing = required - counted.length;
  const eligible = approvers
    ? approvers.filter((a) => allowSelfApproval || !deployers.includes(a))
    : null;
  const notBy = eligible
    ? ` from ${eligible.join(', ')}`
    : !allowSelfApproval && deployers.length
      ? ` by someone other than ${deployers.join(', ')}`
      : '';
  const expired =
    expiresAfterMs !== null &&
    inputs.approvals.some((a) => now - Date.parse(a.at) > expiresAfterMs);
  const voided = latestDecisions(inputs.approvals.filter(beforeRollback)).filter(
    (a) => a.decision === 'approved',
  );
  const rollback =
    inputs.rolledBack && voided.length > 0
      ? `; ${release.id} was rolled back from ${environment.name} ${inputs.rolledBack.automatic ? `automatically when its deployment by ${inputs.rolledBack.actor} failed` : `by ${inputs.rolledBack.actor}`} at ${inputs.rolledBack.at} (to ${inputs.rolledBack.to}), so the approval${voided.length === 1 ? '' : 's'} given before (${voided.map((a) => a.actor).join(', ')}) no longer count${voided.length === 1 ? 's' : ''}`
      : '';
  const identity = environment.promotion.approval.identity;
  const proven =
    identity === 'signed' ? ' signed' : identity === 'oidc' ? ' proven by a GitHub OIDC token' : '';
  const uncounted = (inputs.approvalsNotCounted ?? [])
    .map((u) => `${u.actor}: ${u.reason.replace(/\.$/, '')}`)
    .join('; ');
  return {
    gate: 'approval',
    status: 'pending',
    reason: `${missing} more${proven} approval${missing === 1 ? '' : 's'} needed (${counted.length}/${required})${notBy}${expired ? '; older approvals expired' : ''}${rollback}${uncounted ? `; not counted: ${uncounted}` : ''}.`,
    next:
      identity === 'signed'
        ? `airlock approve ${environment.name} --release ${release.id} --key ~/.ssh/id_ed25519 (a reviewer whose key is in ${environment.promotion.approval.allowedSigners})`
        : identity === 'oidc'
          ? `run the workflow .github/workflows/airlock-approve.yml on GitHub Actions for ${release.id}`
          : `airlock approve ${environment.name} --release ${release.id}`,
  };
}
