/**
 * What the local runtime reports as it works: one {@link RuntimeEvent} per process start, health,
 * switch, drain, stop, crash and restart. The daemon appends each one to `envs/<env>/events.jsonl`
 * (and `runtime-audit.ts` keeps crashes and restarts in the audit log).
 */
import type { ProcessDeployment } from '../provider.ts';

/** What the runtime reports as it works; the daemon appends each one to `envs/<env>/events.jsonl`. */
export interface RuntimeEvent {
  /** ISO-8601 time. */
  at: string;
  type: RuntimeEventType;
  environment: string;
  service: string;
  /** Release id the event is about. */
  release: string;
  pid?: number;
  details?: Record<string, unknown>;
}

/**
 * Kinds of runtime events: a process `started` / `healthy` / `stopped` / `crashed` /
 * `restarted`; traffic `switched` to a release; the old release `drained`; a deploy that
 * `failed` or was `aborted` (the previous release kept serving); a checks lease that `expired`
 * (`checks-lease.ts`: the runtime switched back by itself); the runtime `recovered` after its
 * previous daemon died (`runtime-watchdog.ts`); a crashed app's `restart.refused` because its copy
 * no longer verifies (the previous release serves instead).
 */
export type RuntimeEventType =
  | 'process.started'
  | 'process.healthy'
  | 'switched'
  | 'drained'
  | 'process.stopped'
  | 'process.crashed'
  | 'process.restarted'
  | 'deploy.failed'
  | 'deploy.aborted'
  | 'lease.expired'
  | 'runtime.recovered'
  | 'restart.refused';

/** Reports one event about deployment `d` (its environment, service and release). */
export type EmitEvent = (
  type: RuntimeEventType,
  d: Pick<ProcessDeployment, 'environment' | 'service' | 'release'>,
  pid?: number,
  details?: Record<string, unknown>,
) => void;

/**
 * An {@link EmitEvent} that stamps each event with `now()` (ms since the epoch) and hands it to
 * `onEvent` synchronously; exceptions `onEvent` throws are swallowed.
 */
export function eventEmitter(
  onEvent: ((event: RuntimeEvent) => void) | undefined,
  now: () => number,
): EmitEvent {
  return (type, d, pid, details) => {
    const event: RuntimeEvent = {
      at: new Date(now()).toISOString(),
      type,
      environment: d.environment,
      service: d.service,
      release: d.release.id,
      ...(pid !== undefined ? { pid } : {}),
      ...(details ? { details } : {}),
    };
    try {
      onEvent?.(event);
    } catch {
      // listeners must not break the runtime
    }
  };
}
