import type { GateInputs, GateResult } from './gate.ts';

/**
 * The audit log's hash chain (`src/state/audit-chain.ts`): the newest events and the head row,
 * checked when the gate's facts are gathered, plus any alteration `airlock audit verify` recorded
 * on the head. A broken chain fails the gate — and so every promotion — until `airlock audit
 * accept --reason` starts a new segment: nobody promotes on evidence that was altered.
 */
export function evaluateAuditGate(inputs: GateInputs): GateResult {
  const audit = inputs.audit;
  if (!audit || audit.ok)
    return {
      gate: 'audit',
      status: 'holds',
      reason: audit?.head
        ? `the audit log's newest events chain up to the head (#${audit.head}).`
        : 'the audit log is intact.',
    };
  return {
    gate: 'audit',
    status: 'fails',
    reason: `${audit.alteration} Gates fail until it is accepted.`,
    next: 'airlock audit verify (what changed), then airlock audit accept --reason "<why>" (audited)',
  };
}
