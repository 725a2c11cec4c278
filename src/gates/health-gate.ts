import type { GateInputs, GateResult } from './gate.ts';

/**
 * Fails while `airlock monitor` has an incident open on the previous environment: a release
 * should not move on from an environment that is down. A promotion meant to fix it
 * (`--fixes <incident>`) is let through, and the override is audited (`gate.overridden`).
 * Every gate elsewhere is checked once at promotion time; this one follows the monitor.
 */
export function evaluateHealthGate(inputs: GateInputs): GateResult {
  const open = inputs.incidents ?? [];
  const { previous, fixes } = inputs;
  const named = (i: (typeof open)[number]) =>
    `incident #${i.id} (${i.failing.map((c) => `${c.service} ${c.check}`).join(', ') || i.cause} failing since ${i.startedAt}${i.issueUrl ? `, ${i.issueUrl}` : ''})`;
  if (open.length === 0) {
    return {
      gate: 'health',
      status: 'holds',
      reason: `no incident is open on ${previous}${fixes ? ` (incident #${fixes} is not open: nothing to override)` : ''}.`,
    };
  }
  const fixed = open.find((i) => i.id === fixes);
  const others = open.filter((i) => i.id !== fixes);
  if (fixed && others.length === 0) {
    return {
      gate: 'health',
      status: 'holds',
      reason: `${previous} has ${named(fixed)} open; this promotion is meant to fix it.`,
      overridden: `fixes incident #${fixed.id}`,
    };
  }
  return {
    gate: 'health',
    status: 'fails',
    reason: `${previous} is down: ${others.map(named).join('; ')}.`,
    next: `wait for \`airlock monitor\` to see ${previous} recover, or promote the fix with \`--fixes ${others[0]?.id}\``,
  };
}
