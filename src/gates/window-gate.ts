import type { GateInputs, GateResult } from './gate.ts';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Day (mon…sun) and minute of the day of `instant` in `timezone`. */
export function localTime(instant: Date, timezone: string): { day: string; minute: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(instant);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    day: get('weekday').toLowerCase().slice(0, 3),
    minute: Number(get('hour')) * 60 + Number(get('minute')),
  };
}

/**
 * Freeze periods and the deploy window (GitHub Environments' deployment branch/time rules,
 * Cloud Deploy's deploy policies). A freeze fails the gate with its reason; outside the window
 * the gate is pending until it opens. `--override-window "reason"` lets a promotion through,
 * and the override is audited by the caller.
 */
export function evaluateWindowGate(inputs: GateInputs): GateResult {
  const { freeze, window } = inputs.environment.promotion;
  const now = new Date(inputs.now);
  const frozen = freeze.find(
    (f) => Date.parse(f.from) <= now.getTime() && now.getTime() < Date.parse(f.to),
  );
  const override = inputs.windowOverride;
  if (frozen) {
    if (override) {
      return {
        gate: 'window',
        status: 'holds',
        reason: `frozen until ${frozen.to} (${frozen.reason}), overridden: "${override}".`,
        overridden: override,
      };
    }
    return {
      gate: 'window',
      status: 'fails',
      reason: `${inputs.environment.name} is frozen until ${frozen.to}: ${frozen.reason}.`,
      next: `wait for the freeze to end, or pass --override-window "<why>" (audited)`,
    };
  }
  if (!window)
    return {
      gate: 'window',
      status: 'holds',
      reason: freeze.length ? 'no freeze now.' : 'no deploy window configured.',
    };
  const { day, minute } = localTime(now, window.timezone);
  const open =
    window.days.includes(day) && minute >= window.startMinute && minute < window.endMinute;
  if (open)
    return {
      gate: 'window',
      status: 'holds',
      reason: `inside the deploy window (${window.text}).`,
    };
  if (override)
    return {
      gate: 'window',
      status: 'holds',
      reason: `outside the deploy window (${window.text}), overridden: "${override}".`,
      overridden: override,
    };
  return {
    gate: 'window',
    status: 'pending',
    reason: `outside the deploy window (${window.text}; it is ${day} ${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')} there).`,
    next: `wait for the window, or pass --override-window "<why>" (audited)`,
  };
}

export { DAYS };
