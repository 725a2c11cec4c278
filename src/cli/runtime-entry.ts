/**
 * The local runtime as the CLI starts it: the provider's daemon, plus a hook that writes app
 * crashes and restarts into the project's audit log as they happen (the runtime itself knows
 * nothing of the state store). Usage: `node runtime-entry.ts --home <.airlock> --state <state.db>`.
 */
import { parseArgs } from 'node:util';
import type { RuntimeEvent } from '../providers/local/local-runtime.ts';
import { runDaemon } from '../providers/local/runtime-daemon.ts';
import { SqliteStateStore } from '../state/sqlite-state-store.ts';
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

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { home: { type: 'string' }, state: { type: 'string' } },
    strict: true,
  });
  const store = values.state ? await SqliteStateStore.open({ file: values.state }) : undefined;
  await runDaemon(['--home', values.home ?? ''], {
    onEvent: (event) => {
      const audit = auditEventFor(event);
      if (audit && store) void store.appendAudit(audit).catch(() => {});
    },
  });
}
