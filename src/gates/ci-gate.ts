import type { GateInputs, GateResult } from './gate.ts';

/**
 * Holds when CI is green at the release's exact commit ("main-branch CI must be
 * green at the exact commit being promoted"), from GitHub's combined status and check runs or
 * from `airlock ci run`. A release built from uncommitted changes fails it: CI never saw them.
 */
export function evaluateCiGate(inputs: GateInputs): GateResult {
  if (!inputs.environment.promotion.ci)
    return { gate: 'ci', status: 'holds', reason: 'CI at the commit is not required.' };
  const commit = inputs.release.commit.slice(0, 7);
  // CI tested the commit, not what a build of a working tree added to it.
  if (inputs.release.dirty)
    return {
      gate: 'ci',
      status: 'fails',
      reason: `${inputs.release.id} was built from uncommitted changes on top of ${commit}: CI at ${commit} did not test them.`,
      next: 'commit the changes, let CI run on that commit, and deploy a release built from it',
    };
  const ci = inputs.ci;
  if (!ci || ci.state === 'none') {
    return {
      gate: 'ci',
      status: 'pending',
      reason: `no CI result for commit ${commit} yet${ci?.source === 'github' ? ' on GitHub' : ''}.`,
      next:
        ci?.source === 'github'
          ? 'wait for CI to report on the commit'
          : `airlock ci run --commit ${commit}`,
    };
  }
  if (ci.state === 'success')
    return { gate: 'ci', status: 'holds', reason: `CI is green at ${commit}: ${ci.summary}.` };
  if (ci.state === 'pending')
    return {
      gate: 'ci',
      status: 'pending',
      reason: `CI is still running at ${commit}: ${ci.summary}.`,
    };
  return {
    gate: 'ci',
    status: 'fails',
    reason: `CI is red at ${commit}${ci.failing.length ? ` (${ci.failing.join(', ')})` : ''}: ${ci.summary}.`,
    next: 'fix the failure and promote a release of a green commit',
  };
}
