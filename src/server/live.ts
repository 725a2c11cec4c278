/**
 * Live runs for the dashboard over Server-Sent Events. One poller per watched thing (a run, or
 * the newest run of an environment) however many browsers watch it: every `pollMs` it reads the
 * run and its steps (two indexed queries) and, when anything changed, sends the whole snapshot
 * to every subscriber. Works the same over SQLite and Postgres, and with several servers on one
 * Postgres (each reads the shared store).
 */
import type { Run, RunStep, StateStore } from '../state/state-store.ts';

export interface RunSnapshot {
  run: Run | null;
  steps: RunStep[];
}

type Listener = (json: string) => void;

interface Watch {
  listeners: Set<Listener>;
  last: string | null;
  timer: NodeJS.Timeout | null;
  busy: boolean;
}

/** What a key watches: `run:<id>` or `env:<name>` (its newest run). */
export async function readSnapshot(store: StateStore, key: string): Promise<RunSnapshot> {
  let run: Run | undefined;
  if (key.startsWith('run:')) run = await store.getRun(Number(key.slice(4)));
  else [run] = await store.listRuns({ environment: key.slice(4), limit: 1 });
  return { run: run ?? null, steps: run ? await store.listSteps(run.id) : [] };
}

export class LiveHub {
  readonly #watches = new Map<string, Watch>();
  readonly store: StateStore;
  readonly pollMs: number;
  constructor(store: StateStore, pollMs: number) {
    this.store = store;
    this.pollMs = pollMs;
  }

  /** Calls `listener` with the snapshot now and on every change; returns the unsubscribe. */
  subscribe(key: string, listener: Listener): () => void {
    let watch = this.#watches.get(key);
    if (!watch) {
      watch = { listeners: new Set(), last: null, timer: null, busy: false };
      this.#watches.set(key, watch);
      const w = watch;
      w.timer = setInterval(() => void this.#poll(key, w), this.pollMs);
    }
    watch.listeners.add(listener);
    if (watch.last !== null) listener(watch.last);
    else void this.#poll(key, watch);
    const w = watch;
    return () => {
      w.listeners.delete(listener);
      if (w.listeners.size === 0) {
        if (w.timer) clearInterval(w.timer);
        this.#watches.delete(key);
      }
    };
  }

  /** Stops every poller (server shutdown). */
  close(): void {
    for (const w of this.#watches.values()) if (w.timer) clearInterval(w.timer);
    this.#watches.clear();
  }

  async #poll(key: string, watch: Watch): Promise<void> {
    if (watch.busy) return;
    watch.busy = true;
    try {
      const json = JSON.stringify(await readSnapshot(this.store, key));
      if (json !== watch.last) {
        watch.last = json;
        for (const l of watch.listeners) l(json);
      }
    } catch {
      // The store did not answer this time; the next poll tries again.
    } finally {
      watch.busy = false;
    }
  }
}
