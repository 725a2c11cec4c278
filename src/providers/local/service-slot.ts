/**
 * What the parts of the local runtime share: the {@link ServiceSlot} it holds per (environment,
 * service) — its proxy, what serves, what should serve, the warm, draining and booting
 * processes, crash counters — and the {@link RuntimeContext} (paths, clock, events, state.json)
 * the deploy sequence, the crash supervisor and restore work through.
 */
import type { CrashRecord, ProcessDeployment } from '../provider.ts';
import type { AppProcess } from './app-process.ts';
import type { PendingLease } from './checks-lease.ts';
import { BACKOFF_START_MS, type RestartState } from './crash-supervisor.ts';
import { ReverseProxy } from './reverse-proxy.ts';
import type { EmitEvent } from './runtime-events.ts';
import type { RuntimePaths } from './runtime-files.ts';

/** What every part of the runtime may use; {@link LocalRuntime} provides it. */
export interface RuntimeContext {
  readonly paths: RuntimePaths;
  /** Wall clock in ms since the epoch. */
  readonly now: () => number;
  /** Aborted once the runtime shuts down. */
  readonly closing: AbortSignal;
  /** Every live app process and its slot (for state.json and shutdown). */
  readonly live: Map<AppProcess, ServiceSlot>;
  readonly emit: EmitEvent;
  /** Writes state.json from a fresh snapshot (writes are serialized; never rejects). */
  persist(): Promise<void>;
  /**
   * Stops `proc` (SIGTERM, SIGKILL after its `stopTimeoutMs`) and reports `process.stopped` with
   * `reason`, unless it was already being stopped.
   */
  stop(proc: AppProcess, reason: string): Promise<void>;
}

/** Serializes async sections (one deploy at a time per environment/service). */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** A process kept running after it was replaced, for an instant rollback to its release. */
export interface WarmEntry {
  proc: AppProcess;
  /** See `fingerprint` in deploy-sequence.ts: a warm process is reused only for the same one. */
  fingerprint: string;
  /** Stops it when the keep-warm window ends. */
  timer: NodeJS.Timeout;
}

/** Map key of a slot. */
export const slotKey = (environment: string, service: string) => `${environment}\u0000${service}`;

/** Everything the runtime holds for one (environment, service). */
export class ServiceSlot {
  readonly key: string;
  readonly environment: string;
  readonly service: string;
  readonly proxy: ReverseProxy;
  readonly lock = new Mutex();
  /** Aborted when the slot is being stopped: cancels a deploy in progress. */
  readonly abort = new AbortController();
  closed = false;
  serving: AppProcess | null = null;
  /** The deployment that should serve (survives a crash; relaunched by restarts and restore). */
  desired: ProcessDeployment | null = null;
  /** The deployment that served before `desired` (what a copy that fails to verify falls back to). */
  previous: ProcessDeployment | null = null;
  /** Set while the serving release's switch waits for its checks (see checks-lease.ts). */
  pending: PendingLease | null = null;
  since: string | null = null;
  restarts = 0;
  lastCrash: CrashRecord | null = null;
  /** The crash supervisor's next restart delay (ms). */
  backoffMs = BACKOFF_START_MS;
  /** Set while a crashed serving process waits for (or is in) its restart. */
  restart: RestartState | null = null;
  warm: WarmEntry[] = [];
  draining = new Set<AppProcess>();
  candidates = new Set<AppProcess>();

  /** A slot for `environment`/`service` whose proxy will listen on `port` (not yet started). */
  constructor(environment: string, service: string, port: number, now: () => number) {
    this.key = slotKey(environment, service);
    this.environment = environment;
    this.service = service;
    this.proxy = new ReverseProxy(this, port, now);
  }

  /** Takes `entry` out of the warm list and cancels its keep-warm timer (it is not stopped). */
  takeWarm(entry: WarmEntry): void {
    clearTimeout(entry.timer);
    this.warm = this.warm.filter((w) => w !== entry);
  }
}
