/**
 * When an incident opens, changes or resolves, from an environment's recent passes. Pure.
 * A pass fails when any of its samples failed. N consecutive failing passes open an incident
 * (`openAfter`), M consecutive passing passes resolve it (`resolveAfter`); anything shorter —
 * a flapping check — changes nothing.
 */
import type { Incident, IncidentCheck, MonitorPass } from '../state/state-store.ts';

export type IncidentDecision =
  | { kind: 'none' }
  /** `since`: the first failing pass of the streak. */
  | { kind: 'open'; since: string }
  | { kind: 'change' }
  /** `at`: the first passing pass of the recovery; `durationMs` from the incident's start. */
  | { kind: 'resolve'; at: string; durationMs: number };

/** The same checks, whatever their order and messages. */
export function sameChecks(a: IncidentCheck[], b: IncidentCheck[]): boolean {
  const key = (l: IncidentCheck[]) =>
    l
      .map((c) => `${c.service}\0${c.check}`)
      .sort()
      .join('\n');
  return key(a) === key(b);
}

/**
 * What to do for one environment and cause.
 * @param passes newest first (this pass included).
 * @param failing the checks failing in this pass.
 */
export function decideIncident(
  passes: MonitorPass[],
  open: Incident | undefined,
  failing: IncidentCheck[],
  rules: { openAfter: number; resolveAfter: number },
): IncidentDecision {
  if (open) {
    const recovery = passes.slice(0, rules.resolveAfter);
    if (recovery.length === rules.resolveAfter && recovery.every((p) => p.ok)) {
      // Only passes after the incident started count (older ones are from before it).
      const first = recovery[recovery.length - 1] as MonitorPass;
      if (first.at > open.startedAt) {
        return {
          kind: 'resolve',
          at: first.at,
          durationMs: Date.parse(first.at) - Date.parse(open.startedAt),
        };
      }
    }
    if (passes[0] && !passes[0].ok && !sameChecks(open.failing, failing)) return { kind: 'change' };
    return { kind: 'none' };
  }
  let streak = 0;
  while (streak < passes.length && !(passes[streak] as MonitorPass).ok) streak++;
  if (streak < rules.openAfter) return { kind: 'none' };
  return { kind: 'open', since: (passes[streak - 1] as MonitorPass).at };
}
