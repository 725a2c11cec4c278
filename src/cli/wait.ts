/** `--wait 10m`: a duration for waiting in an environment's queue. */
import ms from 'ms';
import { UserError } from '../errors.ts';
import { describeLock } from '../pipeline/lock.ts';
import type { Lock } from '../state/state-store.ts';
import type { Reporter } from './reporter.ts';

/**
 * Milliseconds of a duration flag (`90s`, `10m`, `1h`, or a plain number of ms).
 * @throws UserError `USAGE` naming the flag.
 */
export function parseDuration(
  flag: string,
  text: string,
  options: { zero?: boolean } = {},
): number {
  const value = /^\d+$/.test(text) ? Number(text) : ms(text as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < (options.zero ? 0 : 1)) {
    throw new UserError(
      'USAGE',
      `${flag} expects a duration such as 30s, 10m or 1h, got "${text}".`,
    );
  }
  return value;
}

/** Milliseconds of a `--wait` value, or undefined. @throws UserError `USAGE`. */
export function parseWait(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDuration('--wait', text);
}

/** Hooks that make a command wait in the queue and say so once. */
export function waitHooks(
  reporter: Reporter,
  wait: string | undefined,
): { waitMs?: number; onWait?: (holder: Lock) => void } {
  const waitMs = parseWait(wait);
  if (!waitMs) return {};
  return {
    waitMs,
    onWait: (holder) =>
      reporter.info(
        `⏳ ${describeLock(holder)}. Waiting in the queue (up to ${ms(waitMs, { long: true })})…`,
      ),
  };
}
