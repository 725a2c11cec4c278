/** `--wait 10m`: a duration for waiting in an environment's queue. */
import ms from 'ms';
import { UserError } from '../errors.ts';
import { describeLock } from '../pipeline/lock.ts';
import type { Lock } from '../state/state-store.ts';
import type { Reporter } from './reporter.ts';

/** Milliseconds of a `--wait` value (`90s`, `10m`, `1h`), or undefined. @throws UserError `USAGE`. */
export function parseWait(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = ms(text as ms.StringValue);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UserError(
      'USAGE',
      `--wait expects a duration such as 30s, 10m or 1h, got "${text}".`,
    );
  }
  return value;
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
