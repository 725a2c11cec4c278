import type { GateInputs, GateResult } from './gate.ts';

const formatAge = (ms: number) =>
  ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 3_600_000).toFixed(1)} h`;

/** Age in ms of the oldest of the latest check results on the previous environment; null without any. */
export function checksAgeMs(inputs: GateInputs): number | null {
  if (inputs.previousChecks.length === 0) return null;
  const oldest = Math.min(...inputs.previousChecks.map((c) => Date.parse(c.at)));
  return Date.parse(inputs.now) - oldest;
}

/**
 * True when the previous environment's passing checks are older than the target's
 * `promotion.checksMaxAge`: the promotion then re-runs them first (a `recheck:<service>` step).
 */
export function checksStale(inputs: GateInputs): boolean {
  const max = inputs.environment.promotion.checksMaxAgeMs;
  const age = checksAgeMs(inputs);
  return max !== null && age !== null && age > max;
}

/**
 * Holds when the checks of this release passed on the previous environment, against its live
 * URL. (Smoke and E2E against the live staging URL; unreachable blocks.)
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
      reason: `${release.id}'s checks failed on ${previous}${detail ? ` — ${detail}` : ''}${/[.!?]$/.test(detail) ? '' : '.'}`,
      next: `fix the failure, commit, and run \`airlock deploy ${previous}\` (or, for a flaky check, \`airlock check ${previous}\` to run them again)`,
    };
  }
  if (d.checksStatus === 'passed') {
    const names = previousChecks.map((c) => `${c.service}/${c.name}`);
    const age = checksAgeMs(inputs);
    const stale = checksStale(inputs);
    return {
      gate: 'checks',
      status: 'holds',
      reason: names.length
        ? `${names.length} check${names.length === 1 ? '' : 's'} passed on ${previous} (${names.join(', ')})${
            stale
              ? `, ${formatAge(age ?? 0)} ago: older than checksMaxAge, so the promotion re-runs them there first`
              : ''
          }.`
        : `no checks are configured; the deployment to ${previous} succeeded.`,
    };
  }
  return {
    gate: 'checks',
    status: 'pending',
    reason: `${release.id}'s checks on ${previous} have not finished.`,
  };
}
