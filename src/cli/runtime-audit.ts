/**
 * Which local-runtime events go into the project's audit log, and how (see `runtime-entry.ts`).
 */
import type { RuntimeEvent } from '../providers/local/runtime-events.ts';
import { type AuditWriter, audit } from '../state/audit.ts';

/** The actor of events the runtime records by itself. */
export const RUNTIME_ACTOR = 'airlock-runtime';

/**
 * Records a runtime event worth keeping in history (`app.crashed`, `app.restarted`) in `store`;
 * other events are not recorded.
 * @throws whatever the store throws.
 */
export async function auditRuntimeEvent(
  store: AuditWriter['store'],
  event: RuntimeEvent,
): Promise<void> {
  if (event.type !== 'process.crashed' && event.type !== 'process.restarted') return;
  const crashed = event.type === 'process.crashed';
  await audit(
    { store, actor: RUNTIME_ACTOR, now: () => new Date() },
    crashed ? 'app.crashed' : 'app.restarted',
    {
      at: event.at,
      environment: event.environment,
      releaseId: event.release,
      result: crashed ? 'failed' : 'ok',
      detail: {
        service: event.service,
        ...(event.pid ? { pid: event.pid } : {}),
        ...event.details,
      },
    },
  );
}
