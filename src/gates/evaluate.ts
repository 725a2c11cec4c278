import { evaluateApprovalGate } from './approval-gate.ts';
import { evaluateAuditGate } from './audit-gate.ts';
import { evaluateChecksGate } from './checks-gate.ts';
import { evaluateCiGate } from './ci-gate.ts';
import { evaluateDeployedGate } from './deployed-gate.ts';
import { evaluateDriftGate } from './drift-gate.ts';
import type { GateInputs, GateResult } from './gate.ts';
import { evaluateHealthGate } from './health-gate.ts';
import { evaluateMigrationsGate } from './migrations-gate.ts';
import { evaluateParityGate } from './parity-gate.ts';
import { evaluatePolicyGate } from './policy-gate.ts';
import { evaluateRehearsalGate } from './rehearsal-gate.ts';
import { evaluateSecretsGate } from './secrets-gate.ts';
import { evaluateSoakGate } from './soak-gate.ts';
import { evaluateWindowGate } from './window-gate.ts';

/**
 * Evaluates every gate of a promotion, in a fixed order. Pure. The optional gates appear
 * only when they apply, so a plan lists exactly the conditions that do: drift for services
 * with a database; parity unless `parity.gate: off`; secrets with a `secrets:` section or a value shared between environments; ci, soak and window when the promotion policy configures them;
 * health when an incident is open on the previous environment (or `--fixes` names one); rehearsal when `rollbackRehearsal: required`; audit only when the audit log's chain is found altered (it is checked for every promotion); policy only when airlock.yaml's promotion policy is looser than the one committed at the release's commit, or that one cannot be read.
 */
export function evaluateGates(inputs: GateInputs): GateResult[] {
  const policy = inputs.environment.promotion;
  return [
    ...(inputs.policy?.tightened || inputs.policy?.problem ? [evaluatePolicyGate(inputs)] : []),
    evaluateDeployedGate(inputs),
    evaluateChecksGate(inputs),
    evaluateMigrationsGate(inputs),
    ...(policy.rollbackRehearsal === 'required' ? [evaluateRehearsalGate(inputs)] : []),
    ...(inputs.drift.length ? [evaluateDriftGate(inputs)] : []),
    ...(inputs.parity.length ? [evaluateParityGate(inputs)] : []),
    ...(inputs.secrets ? [evaluateSecretsGate(inputs)] : []),
    ...(policy.ci ? [evaluateCiGate(inputs)] : []),
    ...(policy.soakMs ? [evaluateSoakGate(inputs)] : []),
    ...(policy.window || policy.freeze.length ? [evaluateWindowGate(inputs)] : []),
    ...(inputs.incidents?.length || inputs.fixes ? [evaluateHealthGate(inputs)] : []),
    evaluateApprovalGate(inputs),
    ...(inputs.audit && !inputs.audit.ok ? [evaluateAuditGate(inputs)] : []),
  ];
}

/** True when every gate holds. */
export function gatesHold(results: GateResult[]): boolean {
  return results.every((r) => r.status === 'holds');
}
