import { evaluateApprovalGate } from './approval-gate.ts';
import { evaluateChecksGate } from './checks-gate.ts';
import { evaluateDeployedGate } from './deployed-gate.ts';
import type { GateInputs, GateResult } from './gate.ts';
import { evaluateMigrationsGate } from './migrations-gate.ts';

/** Evaluates every gate of a promotion, in a fixed order. Pure. */
export function evaluateGates(inputs: GateInputs): GateResult[] {
  return [
    evaluateDeployedGate(inputs),
    evaluateChecksGate(inputs),
    evaluateMigrationsGate(inputs),
    evaluateApprovalGate(inputs),
  ];
}

/** True when every gate holds. */
export function gatesHold(results: GateResult[]): boolean {
  return results.every((r) => r.status === 'holds');
}
