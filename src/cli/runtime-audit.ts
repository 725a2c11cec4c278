/**
 * Which local-runtime events go into the project's audit log, and how (see `runtime-entry.ts`).
 */
import type { RuntimeEvent } from '../providers/local/runtime-events.ts';
import type { NewAuditEvent } from '../state/state-store.ts';

/** The actor of events the runtime records by itself. */
export const RUNTIME_ACTOR = 'airlock-runtime';

/** The audit event for a runtime event worth keeping in history, or null. */
export function auditEventFor(event: RuntimeEvent): NewAuditEvent | null {
  if (event.type !== 'process.crashed' && event.type !== 'process.restarted') return null;
  return {
    at: event.at,
    actor: RUNTIME_ACTOR,
    action: event.type === 'process.crashed' ? 'app.crashed' : 'app.restarted',
    environment: event.environment,
    releaseId: event.release,
    runId: null,
    result: event.type === 'process.crashed' ? 'failed' : 'ok',
    detail: { service: event.service, ...(event.pid ? { pid: event.pid } : {}), ...event.details },
  };
}
