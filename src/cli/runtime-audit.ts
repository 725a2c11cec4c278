/**
 * Which local-runtime events go into the project's audit log, and how (see `runtime-entry.ts`).
 */
import type { RuntimeEvent } from '../providers/local/runtime-events.ts';
import { type AuditWriter, audit } from '../state/audit.ts';
import type { AuditAction, AuditResult } from '../state/audit-action.ts';

/** The actor of events the runtime records by itself. */
export const RUNTIME_ACTOR = 'airlock-runtime';

/** The audit action of each runtime event kept in history, and its result. */
const AUDITED: Partial<
  Record<
    RuntimeEvent['type'],
    (event: RuntimeEvent) => { action: AuditAction; result: AuditResult }
  >
> = {
  'process.crashed': () => ({ action: 'app.crashed', result: 'failed' }),
  'process.restarted': () => ({ action: 'app.restarted', result: 'ok' }),
  'restart.refused': () => ({ action: 'app.restart-refused', result: 'refused' }),
  'lease.expired': (event) => ({
    action: 'runtime.reverted',
    result: event.details?.reverted === true ? 'ok' : 'failed',
  }),
  'runtime.recovered': (event) => ({
    action: 'runtime.recovered',
    result: event.details?.servesAgain === false ? 'failed' : 'ok',
  }),
};

/**
 * Records a runtime event worth keeping in history in `store`: app crashes, restarts and refused
 * restarts (`app.*`), a checks lease that expired and the switch back (`runtime.reverted`), and
 * the runtime's own outage (`runtime.recovered`). Other events are not recorded.
 * @throws whatever the store throws.
 */
export async function auditRuntimeEvent(
  store: AuditWriter['store'],
  event: RuntimeEvent,
): Promise<void> {
  const kind = AUDITED[event.type]?.(event);
  if (!kind) return;
  await audit({ store, actor: RUNTIME_ACTOR, now: () => new Date() }, kind.action, {
    at: event.at,
    environment: event.environment,
    releaseId: event.release,
    result: kind.result,
    detail: {
      service: event.service,
      ...(event.pid ? { pid: event.pid } : {}),
      ...event.details,
    },
  });
}
