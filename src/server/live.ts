/**
 * Live runs for the dashboard over Server-Sent Events. One watch per watched thing (a run, or
 * the newest run of an environment) however many browsers watch it: a watch reads the run and
 * its steps (two indexed queries) and, when anything changed, sends the whole snapshot to every
 * subscriber.
 *
 * When does a watch read? On Postgres (a store with `watchChanges`), when the database says a
 * run or a step of it was written: one LISTEN connection per server, whoever wrote (another
 * server, a CLI on another machine), and no polling at all while it listens. Elsewhere (SQLite,
 * D1), and on Postgres while the listening connection is lost, every `pollMs`.
 */
import type { ChangeEvent, Run, RunStep, StateChange, StateStore } from '../state/state-store.ts';

export interface RunSnapshot {
  run: Run | null;
  steps: RunStep[];
}

type Listener = (json: string) => void;

interface Watch {
  key: string;
  listeners: Set<Listener>;
  last: string | null;
  /** The run the last snapshot showed (an environment's newest run changes over time). */
  runId: number | null;
  timer: NodeJS.Timeout | null;
  busy: boolean;
  /** A change arrived while a read was under way: read once more after it. */
  again: boolean;
}

/** What a key watches: `run:<id>` or `env:<name>` (its newest run). */
export async function readSnapshot(store: StateStore, key: string): Promise<RunSnapshot> {
  let run: Run | undefined;
  if (key.startsWith('run:')) run = await store.getRun(Number(key.slice(4)));
  else [run] = await store.listRuns({ environment: key.slice(4), limit: 1 });
  return { run: run ?? null, steps: run ? await store.listSteps(run.id) : [] };
}

/** Whether `change` may alter what `watch` shows. */
function concerns(watch: Watch, change: StateChange): boolean {
  if (change.table !== 'runs' && change.table !== 'run_steps') return false;
  if (change.run !== null && change.run === watch.runId) return true;
  if (watch.key.startsWith('run:')) return change.run === Number(watch.key.slice(4));
  // A new run of the environment replaces the one shown.
  return change.table === 'runs' && change.environment === watch.key.slice(4);
}

export class LiveHub {
  readonly #watches = new Map<string, Watch>();
  readonly store: StateStore;
  readonly pollMs: number;
  /** True while the store's change notices arrive (no polling then). */
  #listening = false;
  #subscription: Promise<{ close(): Promise<void> }> | null = null;
  #closed = false;

  constructor(store: StateStore, pollMs: number) {
    this.store = store;
    this.pollMs = pollMs;
  }

  /** How the hub learns of changes right now: `notify` (Postgres LISTEN) or `poll`. */
  get mode(): 'notify' | 'poll' {
    return this.#listening ? 'notify' : 'poll';
  }

  /** Calls `listener` with the snapshot now and on every change; returns the unsubscribe. */
  subscribe(key: string, listener: Listener): () => void {
    this.#listen();
    let watch = this.#watches.get(key);
    if (!watch) {
      watch = {
        key,
        listeners: new Set(),
        last: null,
        runId: null,
        timer: null,
        busy: false,
        again: false,
      };
      this.#watches.set(key, watch);
      if (!this.#listening) this.#startPolling(watch);
    }
    watch.listeners.add(listener);
    if (watch.last !== null) listener(watch.last);
    else void this.#read(watch);
    const w = watch;
    return () => {
      w.listeners.delete(listener);
      if (w.listeners.size === 0) {
        this.#stopPolling(w);
        this.#watches.delete(key);
      }
    };
  }

  /** Stops every watch and the listening connection (server shutdown). */
  close(): void {
    this.#closed = true;
    for (const w of this.#watches.values()) this.#stopPolling(w);
    this.#watches.clear();
    void this.#subscription?.then((s) => s.close());
  }

  /** Starts listening for the store's change notices once (when the store has them). */
  #listen(): void {
    if (this.#subscription || this.#closed || !this.store.watchChanges) return;
    this.#subscription = this.store.watchChanges((event) => this.#onEvent(event));
    void this.#subscription.then((s) => {
      if (this.#closed) void s.close();
    });
  }

  #onEvent(event: ChangeEvent): void {
    if (this.#closed) return;
    if (event.kind === 'change') {
      for (const w of this.#watches.values()) if (concerns(w, event.change)) void this.#read(w);
      return;
    }
    this.#listening = event.kind === 'listening';
    for (const w of this.#watches.values()) {
      if (this.#listening) {
        this.#stopPolling(w);
        // What was written while nobody listened is read now.
        void this.#read(w);
      } else this.#startPolling(w);
    }
  }

  #startPolling(watch: Watch): void {
    watch.timer ??= setInterval(() => void this.#read(watch), this.pollMs);
  }

  #stopPolling(watch: Watch): void {
    if (watch.timer) clearInterval(watch.timer);
    watch.timer = null;
  }

  async #read(watch: Watch): Promise<void> {
    if (watch.busy) {
      watch.again = true;
      return;
    }
    watch.busy = true;
    try {
      do {
        watch.again = false;
        const snapshot = await readSnapshot(this.store, watch.key);
        watch.runId = snapshot.run?.id ?? null;
        const json = JSON.stringify(snapshot);
        if (json !== watch.last) {
          watch.last = json;
          for (const l of watch.listeners) l(json);
        }
      } while (watch.again);
    } catch {
      // The store did not answer this time; the next change or poll reads again.
    } finally {
      watch.busy = false;
    }
  }
}
