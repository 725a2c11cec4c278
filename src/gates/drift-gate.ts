import { newMigrationAdvice } from '../migrations/migration-name.ts';
import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when neither environment's live schema differs from what its ledger implies (
 * a manual `ALTER TABLE` on staging means staging no longer tests what production will run).
 * Differences the pending migrations explain are not drift. A service with
 * `database.drift: warn` lets the promotion through and says so.
 */
export function evaluateDriftGate(inputs: GateInputs): GateResult {
  const blocking = inputs.drift.filter(
    (d) => d.mode === 'block' && (d.findings.length > 0 || d.error),
  );
  const warned = inputs.drift.filter(
    (d) => d.mode === 'warn' && (d.findings.length > 0 || d.error),
  );
  const describe = (d: GateInputs['drift'][number]) =>
    d.error
      ? `${d.service}: drift could not be checked (${d.error})`
      : `${d.service}: ${d.findings.join('; ')}`;
  const environments = `${inputs.previous} and ${inputs.environment.name}`;
  if (blocking.length > 0) {
    return {
      gate: 'drift',
      status: 'fails',
      reason: `schema drift — ${blocking.map(describe).join(' | ')}.`,
      next: `to keep the change, ${newMigrationAdvice(blocking[0]?.layout ?? 'airlock')}; or undo it. See \`airlock migrate drift ${inputs.previous} ${inputs.environment.name}\``,
    };
  }
  if (warned.length > 0) {
    return {
      gate: 'drift',
      status: 'holds',
      reason: `schema drift, allowed by database.drift: warn — ${warned.map(describe).join(' | ')}.`,
    };
  }
  return {
    gate: 'drift',
    status: 'holds',
    reason: `the live schemas of ${environments} match their ledgers.`,
  };
}
