/**
 * The local runtime as the CLI starts it: the provider's daemon, plus a hook that writes app
 * crashes and restarts into the project's audit log as they happen (the runtime itself knows
 * nothing of the state store). Usage: `node runtime-entry.ts [--watchdog] --home <airlock-home>
 * [--state <state.db>]`, with `AIRLOCK_STATE_URL` in the environment for a Postgres or D1 state
 * store (and `AIRLOCK_STATE_TOKEN` for D1). With `--watchdog` it is the daemon's watchdog
 * (runtime-watchdog.ts), which runs this file again without the flag and restarts it if it dies.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { StateStore } from '../state/state-store.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { home: { type: 'string' }, state: { type: 'string' }, watchdog: { type: 'boolean' } },
  strict: true,
});
// The watchdog loads only itself (imports below are dynamic): a light process, quick to start.
if (values.watchdog) {
  const { runWatchdog } = await import('../providers/local/runtime-watchdog.ts');
  process.exit(
    await runWatchdog({
      entry: process.argv[1] as string,
      args: process.argv.slice(2).filter((arg) => arg !== '--watchdog'),
      home: path.resolve(values.home ?? '.'),
    }),
  );
}
const [
  { d1StateLocation },
  { openD1StateClient },
  { runDaemon },
  { openStateStore },
  { auditRuntimeEvent },
] = await Promise.all([
  import('../config/resolve-databases.ts'),
  import('../providers/cloudflare/d1-state-client.ts'),
  import('../providers/local/runtime-daemon.ts'),
  import('../state/open-state-store.ts'),
  import('./runtime-audit.ts'),
]);
// The state: a SQLite file (--state), or Postgres / D1 through AIRLOCK_STATE_URL (never an
// argument: arguments are visible to every user of the machine). Opened once the daemon has
// restored what served, not before: a restarted runtime serves again without waiting for the
// store; events wait for it (in order) instead.
let opened!: (store: Promise<StateStore | undefined>) => void;
const store = new Promise<StateStore | undefined>((resolve) => {
  opened = resolve;
}).catch(() => undefined);
const openStore = (): Promise<StateStore | undefined> => {
  const stateUrl = process.env.AIRLOCK_STATE_URL;
  const d1 = stateUrl ? d1StateLocation(stateUrl, process.env) : undefined;
  if (stateUrl) {
    return openStateStore(d1 ?? { kind: 'postgres', url: stateUrl, display: '' }, {
      d1Client: openD1StateClient,
    });
  }
  return values.state
    ? openStateStore({ kind: 'sqlite', file: values.state, display: values.state })
    : Promise.resolve(undefined);
};
await runDaemon(['--home', values.home ?? ''], {
  onEvent: (event) => {
    void store.then((s) => s && auditRuntimeEvent(s, event)).catch(() => {});
  },
  onRestored: () => opened(Promise.resolve().then(openStore)),
});
