/**
 * The local runtime as the CLI starts it: the provider's daemon, plus a hook that writes app
 * crashes and restarts into the project's audit log as they happen (the runtime itself knows
 * nothing of the state store). Usage: `node runtime-entry.ts --home <.airlock> --state <state.db>`.
 */
import { parseArgs } from 'node:util';
import { runDaemon } from '../providers/local/runtime-daemon.ts';
import { SqliteStateStore } from '../state/sqlite-state-store.ts';
import { auditEventFor } from './runtime-audit.ts';

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
