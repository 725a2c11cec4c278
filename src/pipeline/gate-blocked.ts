/** The error a blocked deployment or promotion is refused with. */
import { UserError } from '../errors.ts';
import type { Plan } from './plan.ts';

/**
 * `GATE_BLOCKED`, naming each gate that does not hold and the command that moves it forward.
 * With `changedUnderLock`, says that the gate held when the command started and stopped
 * holding while it waited for the environment lock.
 */
export function gateBlockedError(plan: Plan, changedUnderLock = false): UserError {
  const blocking = plan.gates.filter((g) => g.status !== 'holds');
  const next = blocking.find((g) => g.next)?.next;
  const what = `${plan.action === 'promote' ? 'promotion' : 'deployment'} of ${plan.release.id} to ${plan.environment}`;
  const when = changedUnderLock
    ? ' (checked again once the environment lock was free: what it waited behind changed the facts)'
    : '';
  return new UserError(
    'GATE_BLOCKED',
    `${what} refused${when}: ${blocking
      .map(
        (g) =>
          `the ${g.gate} gate ${g.status === 'pending' ? 'is pending' : 'fails'} (${g.reason.replace(/\.$/, '')})`,
      )
      .join('; ')}.`,
    {
      hint: next
        ? `Next: ${next}. See every gate with \`airlock plan ${plan.environment}\`.`
        : `See \`airlock plan ${plan.environment}\`.`,
      details: { gates: plan.gates, ...(changedUnderLock ? { changedUnderLock: true } : {}) },
    },
  );
}
