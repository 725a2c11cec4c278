/**
 * The `policy` gate: shown when the working tree's airlock.yaml would loosen the promotion
 * policy committed at the release's commit (the gates then use the stricter of the two, and
 * this says which fields), and failing when that committed policy cannot be read. See
 * `pipeline/committed-policy.ts` for why the committed policy binds.
 */
import type { GateInputs, GateResult } from './gate.ts';

export function evaluatePolicyGate(inputs: GateInputs): GateResult {
  const { environment, release, policy } = inputs;
  if (policy?.problem)
    return {
      gate: 'policy',
      status: 'fails',
      reason: policy.problem.reason,
      next: policy.problem.next,
    };
  const fields = policy?.tightened?.fields ?? [];
  return {
    gate: 'policy',
    status: 'holds',
    reason: `the stricter policy applies: ${environment.name}'s promotion policy in airlock.yaml here is looser than at ${release.id}'s commit ${policy?.tightened?.commit ?? ''} (${fields.join(', ')}); a looser policy binds only releases built from a commit that has it.`,
    next: 'commit the change to airlock.yaml and build a release from that commit, if the looser policy is meant',
  };
}
