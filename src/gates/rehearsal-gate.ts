import type { GateInputs, GateResult } from './gate.ts';

/**
 * `rollbackRehearsal: required`. Holds when, for every service with a database, the release's
 * rollback was rehearsed on the previous environment and passed (its predecessor ran on the new
 * schema and passed its checks, then the release again), or was not needed (the release changed
 * no schema its predecessor does not know). A release carrying a contract migration the target
 * has not applied cannot pass (rolling back behind a contract is refused by design): it holds
 * only with `--fix-forward "reason"`, the audited acknowledgement that it is fix-forward only.
 */
export function evaluateRehearsalGate(inputs: GateInputs): GateResult {
  const { environment, previous, release } = inputs;
  const facts = inputs.rehearsal ?? [];
  const contracts = [
    ...new Set([
      ...inputs.migrations.flatMap((m) => (m.contracts ?? []).map((c) => `${m.service}/${c}`)),
      ...facts.flatMap((f) => f.contracts.map((c) => `${f.service}/${c}`)),
    ]),
  ];
  if (contracts.length > 0) {
    const what = `${release.id} carries ${contracts.length === 1 ? 'a contract migration' : 'contract migrations'} (${contracts.join(', ')}): once ${contracts.length === 1 ? 'it runs' : 'they run'} on ${environment.name}, rolling back behind ${contracts.length === 1 ? 'it' : 'them'} is refused by design, so its rollback cannot be rehearsed — it is fix-forward only`;
    if (inputs.fixForward) {
      return {
        gate: 'rehearsal',
        status: 'holds',
        reason: `${what}; acknowledged: "${inputs.fixForward}".`,
        overridden: inputs.fixForward,
      };
    }
    return {
      gate: 'rehearsal',
      status: 'fails',
      reason: `${what}. Acknowledge it to promote.`,
      next: `airlock promote ${environment.name} --release ${release.id} --fix-forward "<why fixing forward is acceptable>"`,
    };
  }
  const redeploy = `airlock deploy ${previous} --release ${release.id}`;
  const failed = facts.filter((f) => f.result === 'failed');
  if (failed.length > 0) {
    return {
      gate: 'rehearsal',
      status: 'fails',
      reason: `the rollback rehearsal on ${previous} failed — ${failed.map((f) => `${f.service}: ${f.message ?? 'failed'}`).join('; ')}. Rolling ${environment.name} back after this release's migrations would break; make the migration backward compatible (expand/contract).`,
    };
  }
  const serving = new Map(inputs.targetServing?.map((s) => [s.service, s.releaseId]) ?? []);
  const stale = facts.filter(
    (f) =>
      f.result === 'passed' &&
      serving.has(f.service) &&
      serving.get(f.service) !== release.id &&
      serving.get(f.service) !== f.previous,
  );
  if (stale.length > 0) {
    return {
      gate: 'rehearsal',
      status: 'fails',
      reason: `the rollback was rehearsed against ${stale.map((f) => `${f.previous} (${f.service})`).join(', ')}, but ${environment.name} now serves ${stale.map((f) => serving.get(f.service)).join(', ')}: rehearse again against what it would roll back to.`,
      next: redeploy,
    };
  }
  const missing = facts.filter((f) => f.result === 'missing');
  if (missing.length > 0) {
    return {
      gate: 'rehearsal',
      status: 'fails',
      reason: `no rollback rehearsal of ${release.id} is recorded on ${previous} for ${missing.map((f) => f.service).join(', ')} (it was deployed there before the rehearsal was required, or not deployed).`,
      next: redeploy,
    };
  }
  const passed = facts.filter((f) => f.result === 'passed');
  return {
    gate: 'rehearsal',
    status: 'holds',
    reason:
      facts.length === 0
        ? 'no service has a database: there is no schema to roll back over.'
        : passed.length > 0
          ? `rollback rehearsed on ${previous}: ${passed.map((f) => `${f.service} (${f.previous} passed its checks on the new schema)`).join(', ')}${
              passed.length < facts.length
                ? `; not needed for ${facts
                    .filter((f) => f.result === 'not-needed')
                    .map((f) => f.service)
                    .join(', ')}`
                : ''
            }.`
          : `no rehearsal needed: ${release.id} changed no schema its predecessor does not know (${facts.map((f) => f.service).join(', ')}).`,
  };
}
