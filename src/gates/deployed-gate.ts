import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when every service of the previous environment serves this release, put there by a
 * deployment that switched traffic ("the staging deploy must succeed"), and, where its platform
 * could be asked at promotion time (`previousLive`), it still serves it and answers its health
 * check ("if staging is unreachable, promotion blocks"). A service this machine may not ask (no
 * credentials for that environment here) is judged by the records alone, and the reason says so.
 */
export function evaluateDeployedGate(inputs: GateInputs): GateResult {
  const { previous, release, previousServing, services } = inputs;
  const serving = new Map(previousServing.map((s) => [s.service, s.releaseId]));
  const others = services.filter((s) => serving.get(s) !== release.id);
  if (others.length === 0 && inputs.previousDeployment?.switchedAt) {
    const live = liveProblem(inputs);
    if (live) return live;
    const unasked = (inputs.previousLive ?? []).filter((l) => !l.askable).map((l) => l.service);
    return {
      gate: 'deployed',
      status: 'holds',
      reason: `${release.id} serves on ${previous} (since ${inputs.previousDeployment.switchedAt})${
        inputs.previousLive && unasked.length === 0
          ? ', live and healthy now'
          : unasked.length > 0
            ? `; ${unasked.join(', ')} judged by the records (its platform was not asked live from here)`
            : ''
      }.`,
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

/** The first live problem of the previous environment, as a failing result; null when none. */
function liveProblem(inputs: GateInputs): GateResult | null {
  const { previous, release } = inputs;
  for (const live of inputs.previousLive ?? []) {
    if (!live.askable) continue;
    const where = live.url ? ` at ${live.url}` : '';
    if (live.error) {
      return {
        gate: 'deployed',
        status: 'fails',
        reason: `${previous} (${live.service}) could not be reached: ${live.error}. A release is promoted only from a live ${previous}.`,
        next: `airlock status ${previous}`,
      };
    }
    if (live.release !== release.id && !live.sameArtifact) {
      return {
        gate: 'deployed',
        status: 'fails',
        reason: `${previous}${where} serves ${live.release ?? 'nothing'} now (${live.service}), not ${release.id}, although the records say it does: ${live.release ? 'it was replaced outside Airlock' : 'it is down or stopped'}.`,
        next: live.release
          ? `airlock deploy ${previous} --release ${release.id}`
          : `airlock status ${previous}`,
      };
    }
    if (!live.healthy) {
      return {
        gate: 'deployed',
        status: 'fails',
        reason: `${previous}${where} serves ${release.id} but does not answer its health check now (${live.service}): a release is promoted only from a healthy ${previous}.`,
        next: `airlock status ${previous}`,
      };
    }
  }
  return null;
}
