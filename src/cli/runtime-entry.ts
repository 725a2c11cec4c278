/**
 * The local runtime as the CLI starts it: the provider's daemon, plus a hook that writes app
 * crashes and restarts into the project's audit log as they happen (the runtime itself knows
 * nothing of the state store). Usage: `node runtime-entry.ts --home <airlock-home> [--state <state.db>]`,
 * with `AIRLOCK_STATE_URL` in the environment for a Postgres or D1 state store (and
 * `AIRLOCK_STATE_TOKEN` for D1).
 */
import { parseArgs } from 'node:util';
import { d1StateLocation } from '../config/resolve-databases.ts';
import { openD1StateClient } from '../providers/cloudflare/d1-state-client.ts';
import { runDaemon } from '../providers/local/runtime-daemon.ts';
import { openStateStore } from '../state/open-state-store.ts';
import { auditRuntimeEvent } from './runtime-audit.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { home: { type: 'string' }, state: { type: 'string' } },
  strict: true,
});
// The state: a SQLite file (--state), or Postgres / D1 through AIRLOCK_STATE_URL (never an argument:
// arguments are visible to every user of the machine).
const stateUrl = process.env.AIRLOCK_STATE_URL;
const d1 = stateUrl ? d1StateLocation(stateUrl, process.env) : undefined;
const store = stateUrl
  ? await openStateStore(d1 ?? { kind: 'postgres', url: stateUrl, display: '' }, {
      d1Client: openD1StateClient,
    })
  : values.state
    ? await openStateStore({ kind: 'sqlite', file: values.state, display: values.state })
    : undefined;
await runDaemon(['--home', values.home ?? ''], {
  onEvent: (event) => {
    if (store) void auditRuntimeEvent(store, event).catch(() => {});
  },
});
