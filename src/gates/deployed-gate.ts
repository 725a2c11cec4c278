import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when every service of the previous environment serves this release, put there by a
 * deployment that switched traffic. ("The staging deploy must succeed".)
 */
export function evaluateDeployedGate(inputs: GateInputs): GateResult {
  const { previous, release, previousServing, services } = inputs;
  const serving = new Map(previousServing.map((s) => [s.service, s.releaseId]));
  const others = services.filter((s) => serving.get(s) !== release.id);
  if (others.length === 0 && inputs.previousDeployment?.switchedAt) {
    return {
      gate: 'deployed',
      status: 'holds',
      reason: `${release.id} serves on ${previous} (since ${inputs.previousDeployment.switchedAt}).`,
    };
  }
  if (previousServing.length === 0) {
    return {
      gate: 'deployed',
      status: 'fails',
      reason: `nothing is deployed on ${previous} yet.`,
      next: `airlock deploy ${previous}`,
    };
  }
  const there = [...new Set(others.map((s) => serving.get(s) ?? 'nothing'))].join(', ');
  return {
    gate: 'deployed',
    status: 'fails',
    reason: `${previous} serves ${there}, not ${release.id}: a release must pass ${previous} before it is promoted.`,
    next: `airlock deploy ${previous} --release ${release.id}`,
  };
}
