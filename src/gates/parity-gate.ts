import type { GateInputs, GateResult, ParityFact } from './gate.ts';

/** Differences named in a reason, per service, before "and N more". */
const SHOWN = 5;

function describe(fact: ParityFact, previous: string, target: string): string {
  if (fact.error) return `${fact.service}: parity could not be checked (${fact.error})`;
  const shown = fact.drift.slice(0, SHOWN).map((d) => {
    if (d.previous === null) return `${d.key} (only on ${target})`;
    if (d.target === null) return `${d.key} (only on ${previous})`;
    return `${d.key} (${d.previous} on ${previous}, ${d.target} on ${target})`;
  });
  const more = fact.drift.length - shown.length;
  return `${fact.service}: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/**
 * Holds when the environment promoted into mirrors the previous one (staging as a production mirror): their
 * profiles (Airlock settings, platform settings and resources, bindings by kind, var and secret
 * names) differ only in keys the allow list allows. `parity.gate: warn` lets drift through and
 * says so; a platform configuration that cannot be read fails the gate (or is noted in warn
 * mode). Listed only when `parity.gate` is not `off`.
 */
export function evaluateParityGate(inputs: GateInputs): GateResult {
  const previous = inputs.previous;
  const target = inputs.environment.name;
  const differing = inputs.parity.filter((p) => p.drift.length > 0 || p.error);
  const allowed = inputs.parity.reduce((n, p) => n + p.allowed, 0);
  const next = `see \`airlock diff ${previous} ${target}\`; make them match, or add the key to parity.allow in airlock.yaml`;
  if (differing.length === 0) {
    return {
      gate: 'parity',
      status: 'holds',
      reason: `${target} mirrors ${previous}${allowed ? ` (${allowed} allowed difference${allowed === 1 ? '' : 's'}: names, ids, databases, …)` : ''}.`,
    };
  }
  const text = differing.map((p) => describe(p, previous, target)).join(' | ');
  if (inputs.parity.some((p) => p.mode === 'warn')) {
    return {
      gate: 'parity',
      status: 'holds',
      reason: `${previous} and ${target} differ, allowed by parity.gate: warn — ${text}.`,
    };
  }
  return {
    gate: 'parity',
    status: 'fails',
    reason: `${target} does not mirror ${previous} — ${text}.`,
    next,
  };
}
