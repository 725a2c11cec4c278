import type { GateInputs, GateResult } from './gate.ts';

const minutes = (ms: number) =>
  ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;

/**
 * Holds when the release has served on the previous environment for at least `soak`
 * (Kargo/Cloud Deploy soak time); until then it is pending, with the time left.
 */
export function evaluateSoakGate(inputs: GateInputs): GateResult {
  const soak = inputs.environment.promotion.soakMs;
  const { previous, release } = inputs;
  if (!soak) return { gate: 'soak', status: 'holds', reason: 'no soak time required.' };
  const since = inputs.previousDeployment?.switchedAt;
  if (!since) {
    return {
      gate: 'soak',
      status: 'pending',
      reason: `${release.id} has not started serving on ${previous}.`,
    };
  }
  const served = Date.parse(inputs.now) - Date.parse(since);
  if (served >= soak) {
    return {
      gate: 'soak',
      status: 'holds',
      reason: `${release.id} has served on ${previous} for ${minutes(served)} (at least ${minutes(soak)}).`,
    };
  }
  return {
    gate: 'soak',
    status: 'pending',
    reason: `${release.id} has served on ${previous} for ${minutes(served)} of the ${minutes(soak)} soak; ${minutes(soak - served)} to go.`,
  };
}
