import { describeSharedValue } from '../secrets/fingerprint.ts';
import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when the environment promoted into has every secret name `secrets.required` lists for it
 * (read from the secret store, or the platform's secret names) and holds no value another
 * environment holds under a name that is not in `secrets.shared` (judged by the keyed
 * fingerprints `airlock secret set` records: values set elsewhere are not known). Listed when
 * airlock.yaml has a `secrets:` section, or when such a shared value is found. Names only, never
 * values.
 */
export function evaluateSecretsGate(inputs: GateInputs): GateResult {
  const fact = inputs.secrets;
  const target = inputs.environment.name;
  if (!fact) return { gate: 'secrets', status: 'holds', reason: 'no secrets policy.' };
  const problems: string[] = [];
  for (const m of fact.missing)
    problems.push(
      `${m.service} on ${target} lacks required secret${m.names.length === 1 ? '' : 's'} ${m.names.join(', ')}`,
    );
  const refused = fact.shared.filter((s) => !s.allowed);
  for (const s of refused) problems.push(`${describeSharedValue(s)} (not in secrets.shared)`);
  if (fact.error) problems.push(`secret names could not be read (${fact.error})`);
  if (problems.length > 0) {
    const first = fact.missing[0]?.names[0];
    return {
      gate: 'secrets',
      status: 'fails',
      reason: `${problems.join('; ')}.`,
      next: first
        ? `set it: \`printf %s "$VALUE" | airlock secret set ${target} ${first}\``
        : `give ${target} its own value with \`airlock secret set ${target} <NAME>\`, or add the name to secrets.shared in airlock.yaml`,
    };
  }
  const allowed = fact.shared.length;
  return {
    gate: 'secrets',
    status: 'holds',
    reason: `${target} has its required secrets${fact.requiredCount ? ` (${fact.requiredCount})` : ''} and shares no value with another environment${allowed ? ` except ${allowed} name${allowed === 1 ? '' : 's'} in secrets.shared` : ''}.`,
  };
}
