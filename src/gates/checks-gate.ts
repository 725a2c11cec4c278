import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when the checks of this release passed on the previous environment, against its live
 * URL. (Seed 001: smoke and E2E against the live staging URL; unreachable blocks.)
 */
export function evaluateChecksGate(inputs: GateInputs): GateResult {
  const { previous, release, previousDeployment: d, previousChecks } = inputs;
  if (!d) {
    return {
      gate: 'checks',
      status: 'fails',
      reason: `${release.id} has not been checked on ${previous}.`,
      next: `airlock deploy ${previous} --release ${release.id}`,
    };
  }
  const failed = previousChecks.filter((c) => c.status === 'failed');
  if (d.checksStatus === 'failed' || failed.length > 0) {
    const detail = failed.map((c) => `${c.service}/${c.name}: ${c.message}`).join('; ');
    return {
      gate: 'checks',
      status: 'fails',
      reason: `${release.id}'s checks failed on ${previous}${detail ? ` — ${detail}` : ''}.`,
      next: `fix the failure, commit, and run \`airlock deploy ${previous}\``,
    };
  }
  if (d.checksStatus === 'passed') {
    const names = previousChecks.map((c) => `${c.service}/${c.name}`);
    return {
      gate: 'checks',
      status: 'holds',
      reason: names.length
        ? `${names.length} check${names.length === 1 ? '' : 's'} passed on ${previous} (${names.join(', ')}).`
        : `no checks are configured; the deployment to ${previous} succeeded.`,
    };
  }
  return {
    gate: 'checks',
    status: 'pending',
    reason: `${release.id}'s checks on ${previous} have not finished.`,
  };
}
