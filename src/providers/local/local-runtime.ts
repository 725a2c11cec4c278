/**
 * The local runtime's engine: runs app processes per (environment, service) behind a stable
 * proxy port on 127.0.0.1 and switches traffic between releases without dropping a request.
 * It runs inside the daemon (`runtime-daemon.ts`) and can be used in-process (tests).
 *
 * The deploy sequence is kamal-proxy's: start the new release beside the old one, health-check
 * it, switch the proxy's upstream in one assignment, drain the old one, stop it. Argo Rollouts'
 * fast rollback: the old process may be kept "warm" for `keepWarmMs`, and deploying its release
 * again switches back to it at once, without a boot. A serving process that crashes is
 * restarted with exponential backoff (200 ms doubling to 5 s, reset after 30 s of uptime), the
 * way process supervisors do; meanwhile the proxy answers 503 with `Retry-After`.
 */

import fsp from 'node:fs/promises';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import {
  hasCode,
  InternalError,
  ProviderError,
  type SerializedError,
  toAirlockError,
} from '../../errors.ts';
import type {
  CrashRecord,
  DeployOptions,
  DeployOutcome,
  ProcessDeployment,
  ServiceState,
} from '../provider.ts';
import { AppProcess, type ExitInfo, findFreePort, probeHttp } from './app-process.ts';
import {
  emptyServiceState,
  isProcessAlive,
  isRuntimeProcess,
  type ProcessRecord,
  type RuntimePaths,
  type RuntimeStateFile,
  readStateFile,
  runtimePaths,
  type ServiceRecord,
  signalProcessGroup,
  urlFor,
  waitForExit,
  writeFileAtomic,
} from './runtime-files.ts';

/** First pause between health probes (ms); it doubles up to `health.intervalMs`. */
const FIRST_HEALTH_POLL_MS = 5;

/** Idle keep-alive sockets to an app are closed after this long (ms); below Node's 5 s default. */
const UPSTREAM_IDLE_TIMEOUT_MS = 2_000;

/** What the runtime reports as it works; the daemon appends each one to `envs/<env>/events.jsonl`. */
export interface RuntimeEvent {
  /** ISO-8601 time. */
  at: string;
  type: RuntimeEventType;
  environment: string;
  service: string;
  /** Release id the event is about. */
  release: string;
  pid?: number;
  details?: Record<string, unknown>;
}

/**
 * Kinds of runtime events: a process `started` / `healthy` / `stopped` / `crashed` /
 * `restarted`; traffic `switched` to a release; the old release `drained`; a deploy that
 * `failed` or was `aborted` (the previous release kept serving).
 */
export type RuntimeEventType =
  | 'process.started'
  | 'process.healthy'
  | 'switched'
  | 'drained'
  | 'process.stopped'
  | 'process.crashed'
  | 'process.restarted'
  | 'deploy.failed'
  | 'deploy.aborted';

/** Options of {@link LocalRuntime}. */
export interface LocalRuntimeOptions {
  /** The project's `.airlock` directory. */
  home: string;
  /** Called synchronously for every event; exceptions it throws are ignored. */
  onEvent?: (event: RuntimeEvent) => void;
  /** Wall clock in ms since the epoch (event times, `since`, crash uptime). Default `Date.now`. */
  now?: () => number;
}

/** What {@link LocalRuntime.restore} did. */
export interface RestoreResult {
  /** `<environment>/<service>@<release>` relaunched and serving. */
  restored: string[];
  /** Services that could not be relaunched now (they are retried with backoff when possible). */
  failed: { environment: string; service: string; release: string; error: SerializedError }[];
  /** Pids of app processes left over from a previous runtime that were stopped. */
  killedStale: number[];
}

const BACKOFF_START_MS = 200;
const BACKOFF_MAX_MS = 5_000;
const BACKOFF_RESET_UPTIME_MS = 30_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Serializes async sections (one deploy at a time per environment/service). */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

interface WarmEntry {
  proc: AppProcess;
  fingerprint: string;
  timer: NodeJS.Timeout;
}

interface RestartState {
  controller: AbortController;
  /** Wall-clock ms (runtime clock) of the next attempt. */
  retryAt: number;
  timer: NodeJS.Timeout | undefined;
  task: Promise<void> | null;
}

/** Everything the runtime holds for one (environment, service). */
interface Slot {
  key: string;
  environment: string;
  service: string;
  port: number;
  server: http.Server;
  proxy: ProxyServer;
  agent: http.Agent;
  lock: Mutex;
  /** Aborted when the slot is being stopped: cancels a deploy in progress. */
  abort: AbortController;
  closed: boolean;
  serving: AppProcess | null;
  /** The deployment that should serve (survives a crash; relaunched by restarts and restore). */
  desired: ProcessDeployment | null;
  since: string | null;
  restarts: number;
  lastCrash: CrashRecord | null;
  backoffMs: number;
  restart: RestartState | null;
  warm: WarmEntry[];
  draining: Set<AppProcess>;
  candidates: Set<AppProcess>;
}

type HealthWait =
  | { kind: 'healthy' }
  | { kind: 'exited' }
  | { kind: 'timeout'; last: string }
  | { kind: 'aborted' };

const slotKey = (environment: string, service: string) => `${environment}\u0000${service}`;

/** Identity of what a process runs: a warm process is reused only for the same release and config. */
function fingerprint(d: ProcessDeployment): string {
  const env = Object.entries(d.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([d.release.digest, d.run, env]);
}

/**
 * Rejects a deployment the provider cannot run safely (names become file names).
 * @throws InternalError `INTERNAL`: the config layer should have refused it first.
 */
export function validateDeployment(d: ProcessDeployment): void {
  const problems: string[] = [];
  const isName = (value: unknown) =>
    typeof value === 'string' && NAME_PATTERN.test(value) && !value.includes('..');
  if (!d || typeof d !== 'object') problems.push('not an object');
  else {
    if (!isName(d.environment)) problems.push(`environment ${JSON.stringify(d.environment)}`);
    if (!isName(d.service)) problems.push(`service ${JSON.stringify(d.service)}`);
    if (!d.release || !isName(d.release.id)) problems.push('release.id');
    if (!d.release || typeof d.release.digest !== 'string') problems.push('release.digest');
    if (typeof d.artifactDir !== 'string' || !d.artifactDir.startsWith('/'))
      problems.push('artifactDir (must be absolute)');
    if (typeof d.run !== 'string' || d.run.trim() === '') problems.push('run');
    if (!d.env || typeof d.env !== 'object') problems.push('env');
    if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65_535) problems.push('port');
    if (!d.health || typeof d.health.path !== 'string' || !d.health.path.startsWith('/'))
      problems.push('health.path');
    for (const [name, value] of [
      ['health.timeoutMs', d.health?.timeoutMs],
      ['health.intervalMs', d.health?.intervalMs],
      ['drainTimeoutMs', d.drainTimeoutMs],
      ['keepWarmMs', d.keepWarmMs],
      ['stopTimeoutMs', d.stopTimeoutMs],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(name);
    }
  }
  if (problems.length) {
    throw new InternalError(
      'INTERNAL',
      `Invalid deployment for the local runtime: ${problems.join(', ')}.`,
      {
        hint: 'This is a bug in Airlock (the configuration should have been rejected first). Report it.',
        details: { problems },
      },
    );
  }
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * The in-process engine of the local provider. One instance per `.airlock` home (the daemon
 * enforces that). All methods are safe to call concurrently; deploys to the same
 * (environment, service) are serialized.
 */
export class LocalRuntime {
  readonly #paths: RuntimePaths;
  readonly #onEvent: ((event: RuntimeEvent) => void) | undefined;
  readonly #now: () => number;
  readonly #slots = new Map<string, Slot>();
  readonly #pendingSlots = new Map<string, Promise<Slot>>();
  /** Every live app process and its slot (for state.json and shutdown). */
  readonly #live = new Map<AppProcess, Slot>();
  /** Services from state.json that could not get a proxy at restore; kept so they are not forgotten. */
  #orphans: ServiceRecord[] = [];
  readonly #closing = new AbortController();
  #shutdown: Promise<void> | null = null;
  #persistChain: Promise<void> = Promise.resolve();

  constructor(options: LocalRuntimeOptions) {
    this.#paths = runtimePaths(options.home);
    this.#onEvent = options.onEvent;
    this.#now = options.now ?? Date.now;
  }

  /** Absolute `.airlock` home. */
  get home(): string {
    return this.#paths.home;
  }

  /**
   * Deploys one service (kamal-proxy's sequence): reuse a warm process of the same release if it
   * answers its health path, else spawn the release on a free port and poll `health.path` every
   * `health.intervalMs` until 200; switch the proxy on `d.port` to it; drain the old process (at
   * most `drainTimeoutMs`); keep it warm for `keepWarmMs` or stop it (SIGTERM, SIGKILL after
   * `stopTimeoutMs`). Resolves after the old process is drained and stopped (or kept warm).
   * Deploying the release that already serves starts a fresh process (a zero-downtime restart).
   *
   * @throws ProviderError `PORT_IN_USE` (the proxy port is taken by another process),
   *   `APP_EXITED` (the candidate exited before it was healthy), `HEALTH_TIMEOUT`,
   *   `DEPLOY_ABORTED` (`options.signal` aborted before the switch), `BUILD_OUTPUT_MISSING`
   *   (no `artifactDir`), `PROVIDER_UNAVAILABLE` (the runtime is shutting down). Failures carry
   *   `details.logTail` (last 20 lines of the candidate's output) where there is one. In every
   *   case the previous release keeps serving untouched.
   */
  async deploy(d: ProcessDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    validateDeployment(d);
    this.#assertOpen();
    const guard = this.#fenceGuard(d);
    const signal = options.signal
      ? AbortSignal.any([options.signal, guard.controller.signal])
      : guard.controller.signal;
    try {
      const slot = await this.#slotFor(d);
      return await slot.lock.run(() => {
        guard.check();
        return this.#deployLocked(slot, d, { ...options, signal });
      });
    } catch (error) {
      if (guard.superseded()) throw guard.lost();
      throw error;
    } finally {
      guard.done();
    }
  }

  /** Highest lock fence seen per environment, and the deploys in flight under lower ones. */
  readonly #fences = new Map<
    string,
    { max: number; inflight: Set<{ fence: number; controller: AbortController }> }
  >();

  /**
   * Fencing (the lock's token): a deploy carrying a fence lower than one already seen for its
   * environment comes from a process that lost the lock, and is refused; a higher fence
   * abandons the unfinished deploys of lower ones (the old release keeps serving until the
   * newer deploy switches).
   * @throws ProviderError `LOCK_LOST`.
   */
  #fenceGuard(d: ProcessDeployment) {
    const controller = new AbortController();
    const fence = d.fence;
    const lost = () =>
      new ProviderError(
        'LOCK_LOST',
        `${d.environment} is now deployed under a newer lock (fence ${this.#fences.get(d.environment)?.max}); this deploy of ${d.release.id} (fence ${fence}) is refused.`,
        {
          hint: 'Another Airlock process took the environment lock over. Run `airlock status` to see what serves.',
        },
      );
    if (fence === undefined) {
      return { controller, check() {}, superseded: () => false, lost, done() {} };
    }
    let entry = this.#fences.get(d.environment);
    if (!entry) {
      entry = { max: fence, inflight: new Set() };
      this.#fences.set(d.environment, entry);
    }
    if (fence < entry.max) throw lost();
    if (fence > entry.max) {
      entry.max = fence;
      for (const other of entry.inflight) if (other.fence < fence) other.controller.abort();
    }
    const mine = { fence, controller };
    entry.inflight.add(mine);
    const state = entry;
    return {
      controller,
      check() {
        if (fence < state.max) throw lost();
      },
      superseded: () => fence < state.max,
      lost,
      done() {
        state.inflight.delete(mine);
      },
    };
  }

  /**
   * What serves one service in one environment. `healthy` comes from one probe of the serving
   * process's health path (at most 1 s). Nothing deployed → `release: null`, never an error.
   */
  async describe(environment: string, service: string, port: number): Promise<ServiceState> {
    const slot = this.#slots.get(slotKey(environment, service));
    if (!slot || slot.closed) return emptyServiceState(environment, service, port);
    return this.#stateOf(slot);
  }

  /** {@link describe} for every (environment, service) the runtime has a proxy for. */
  async describeAll(): Promise<ServiceState[]> {
    const slots = [...this.#slots.values()].filter((slot) => !slot.closed);
    return Promise.all(slots.map((slot) => this.#stateOf(slot)));
  }

  /**
   * Stops every process of an environment (serving, warm, booting), closes its proxies and
   * forgets it in state.json. A deploy in progress there is aborted.
   */
  async stopEnvironment(environment: string): Promise<void> {
    const slots = [...this.#slots.values()].filter((slot) => slot.environment === environment);
    await Promise.all(slots.map((slot) => this.#closeSlot(slot, 'environment stopped')));
    for (const slot of slots) this.#slots.delete(slot.key);
    this.#orphans = this.#orphans.filter((record) => record.environment !== environment);
    await this.#persist();
  }

  /**
   * Stops every app process gracefully (SIGTERM, SIGKILL after each one's `stopTimeoutMs`) and
   * closes every proxy; deploys in progress are aborted. state.json keeps what was serving (with
   * no pids), so the next {@link restore} brings it back. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#closing.abort();
      await Promise.all([...this.#slots.values()].map((slot) => this.#closeSlot(slot, 'shutdown')));
      await this.#persist();
    })();
    return this.#shutdown;
  }

  /**
   * Brings back what `<home>/local/state.json` says was serving. First stops app processes of a
   * previous runtime that are still alive and ours (their `/proc/<pid>/environ` holds
   * `AIRLOCK_RUNTIME_HOME=<home>`; a recycled pid of another program is never touched), then
   * relaunches each service on its proxy port. A service that fails to boot stays desired and is
   * retried with the crash backoff. A service a deploy already took over is left alone.
   */
  async restore(): Promise<RestoreResult> {
    this.#assertOpen();
    const state = await readStateFile(this.#paths.home);
    const owned = new Set([...this.#live.keys()].map((proc) => proc.pid));
    const stale = new Map<number, number>();
    for (const record of state.processes) stale.set(record.pid, record.stopTimeoutMs);
    for (const record of state.services) {
      if (record.pid !== null) stale.set(record.pid, record.deployment.stopTimeoutMs);
    }
    const killedStale: number[] = [];
    await Promise.all(
      [...stale].map(async ([pid, graceMs]) => {
        if (owned.has(pid) || !isProcessAlive(pid) || !isRuntimeProcess(pid, this.#paths.home)) {
          return;
        }
        signalProcessGroup(pid, 'SIGTERM');
        if (!(await waitForExit(pid, Number.isFinite(graceMs) ? graceMs : 5_000))) {
          signalProcessGroup(pid, 'SIGKILL');
          await waitForExit(pid, 2_000);
        }
        killedStale.push(pid);
      }),
    );

    const result: RestoreResult = { restored: [], failed: [], killedStale };
    await Promise.all(
      state.services.map(async (record) => {
        const d = record.deployment;
        const fail = (error: unknown) => {
          const serialized = toAirlockError(error).toJSON();
          result.failed.push({
            environment: record.environment,
            service: record.service,
            release: d?.release?.id ?? 'unknown',
            error: serialized,
          });
          if (d?.release) {
            this.#emit('deploy.failed', d, undefined, { phase: 'restore', error: serialized });
          }
        };
        let slot: Slot;
        try {
          validateDeployment(d);
          slot = await this.#slotFor(d);
        } catch (error) {
          this.#orphans.push(record);
          fail(error);
          return;
        }
        await slot.lock.run(async () => {
          if (slot.serving || slot.restart || slot.closed) return;
          const signal = AbortSignal.any([slot.abort.signal, this.#closing.signal]);
          try {
            const { proc, bootMs } = await this.#launch(slot, d, signal, () => {}, 'restore');
            await this.#switch(slot, proc, d, { reusedWarm: false, bootMs }, () => {}, null);
            slot.since = record.since ?? slot.since;
            result.restored.push(`${d.environment}/${d.service}@${d.release.id}`);
          } catch (error) {
            fail(error);
            // Kept desired (state.json keeps it); retried like a crash unless retrying is pointless.
            slot.desired = d;
            if (signal.aborted || hasCode(error, 'BUILD_OUTPUT_MISSING')) return;
            this.#scheduleRestart(slot, this.#nextBackoff(slot));
          }
        });
      }),
    );
    await this.#persist();
    return result;
  }

  // ---------------------------------------------------------------- deploy

  async #deployLocked(
    slot: Slot,
    d: ProcessDeployment,
    options: DeployOptions,
  ): Promise<DeployOutcome> {
    const signals = [slot.abort.signal, this.#closing.signal];
    if (options.signal) signals.push(options.signal);
    const signal = AbortSignal.any(signals);
    const progress = (message: string) => {
      try {
        options.onProgress?.(message);
      } catch {
        // a broken progress listener must not break the deploy
      }
    };
    const previous = slot.serving?.release ?? slot.desired?.release.id ?? null;
    let extraServer: http.Server | null = null;
    try {
      if (signal.aborted) throw this.#abortedError(d, previous);
      if (d.port !== slot.port) {
        progress(`moving the proxy from port ${slot.port} to ${d.port}`);
        extraServer = await this.#listen(slot, d.port);
      }

      const fp = fingerprint(d);
      const warm = slot.warm.find((entry) => entry.fingerprint === fp && !entry.proc.exit);
      if (warm) {
        // Taken out of the warm list first, so its keep-warm timer cannot stop it meanwhile.
        this.#takeWarm(slot, warm);
        if (await warm.proc.isHealthy(Math.max(50, Math.min(1_000, d.health.timeoutMs)))) {
          if (signal.aborted) {
            this.#keepWarm(slot, warm.proc, warm.fingerprint, Math.max(d.keepWarmMs, 1_000));
            throw this.#abortedError(d, previous);
          }
          progress(`switching back to warm ${d.release.id} (pid ${warm.proc.pid})`);
          return await this.#switch(
            slot,
            warm.proc,
            d,
            { reusedWarm: true, bootMs: 0 },
            progress,
            extraServer,
          );
        }
        progress(
          `warm ${d.release.id} (pid ${warm.proc.pid}) is unhealthy; starting a new process`,
        );
        await this.#stop(warm.proc, 'warm process unhealthy');
      }

      const { proc, bootMs } = await this.#launch(slot, d, signal, progress, 'deploy');
      if (signal.aborted) {
        slot.candidates.delete(proc);
        await this.#stop(proc, 'deploy aborted');
        throw this.#abortedError(d, previous);
      }
      return await this.#switch(
        slot,
        proc,
        d,
        { reusedWarm: false, bootMs },
        progress,
        extraServer,
      );
    } catch (error) {
      if (extraServer && slot.server !== extraServer) this.#closeServer(extraServer);
      const airlockError = toAirlockError(error);
      this.#emit(
        airlockError.code === 'DEPLOY_ABORTED' ? 'deploy.aborted' : 'deploy.failed',
        d,
        typeof airlockError.details.pid === 'number' ? airlockError.details.pid : undefined,
        { code: airlockError.code, message: airlockError.message, previousRelease: previous },
      );
      throw error;
    }
  }

  /**
   * Spawns `d` on a free port and waits until it is healthy. On failure the candidate is
   * stopped before the error is thrown.
   */
  async #launch(
    slot: Slot,
    d: ProcessDeployment,
    signal: AbortSignal,
    progress: (message: string) => void,
    reason: 'deploy' | 'restart' | 'restore',
  ): Promise<{ proc: AppProcess; bootMs: number }> {
    const previous = slot.serving?.release ?? slot.desired?.release.id ?? null;
    if (signal.aborted) throw this.#abortedError(d, previous);
    try {
      const stat = await fsp.stat(d.artifactDir);
      if (!stat.isDirectory()) throw new Error('not a directory');
    } catch {
      throw new ProviderError(
        'BUILD_OUTPUT_MISSING',
        `The build output of ${d.service} ${d.release.id} is missing: ${d.artifactDir} is not a directory.`,
        {
          hint: `Deploy again (airlock deploy ${d.environment}) so the release is verified and unpacked; ${keepsServing(previous)}.`,
          details: { environment: d.environment, service: d.service, release: d.release.id },
        },
      );
    }
    const port = await findFreePort();
    const logFile = this.#paths.appLogFile(d.environment, d.service, d.release.id);
    let proc: AppProcess;
    try {
      proc = await AppProcess.spawn({
        deployment: d,
        home: this.#paths.home,
        port,
        logFile,
        now: this.#now,
      });
    } catch (error) {
      throw new ProviderError(
        'APP_EXITED',
        `Could not start ${d.service} ${d.release.id}: ${(error as Error).message}.`,
        {
          hint: `Check that /bin/sh exists and that \`run\` is right in airlock.yaml; ${keepsServing(previous)}.`,
          details: { environment: d.environment, service: d.service, release: d.release.id },
          cause: error,
        },
      );
    }
    slot.candidates.add(proc);
    this.#watch(slot, proc);
    void this.#persist();
    this.#emit('process.started', d, proc.pid, { port, reason, logFile });
    progress(`started ${d.service} ${d.release.id} (pid ${proc.pid}) on port ${port}`);

    const started = performance.now();
    const outcome = await this.#waitHealthy(proc, d, signal, progress);
    if (outcome.kind === 'healthy') {
      slot.candidates.delete(proc);
      const bootMs = Math.round(performance.now() - started);
      this.#emit('process.healthy', d, proc.pid, { bootMs });
      progress(`${d.health.path} answered 200 after ${bootMs} ms`);
      return { proc, bootMs };
    }

    slot.candidates.delete(proc);
    await this.#stop(proc, outcome.kind === 'aborted' ? 'deploy aborted' : 'failed to boot');
    if (outcome.kind === 'aborted') throw this.#abortedError(d, previous, proc.pid);
    const logTail = await proc.logTail(20);
    const details = {
      environment: d.environment,
      service: d.service,
      release: d.release.id,
      pid: proc.pid,
      logFile,
      logTail,
    };
    if (outcome.kind === 'exited') {
      const exit = proc.exit ?? { exitCode: null, signal: null };
      const how = exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.exitCode}`;
      throw new ProviderError(
        'APP_EXITED',
        `${d.service} ${d.release.id} ${how} ${Math.round(performance.now() - started)} ms after it started, before ${d.health.path} answered 200 (environment ${d.environment}).`,
        {
          hint: `Read its output in ${logFile} (the last lines are in details.logTail), fix the release and deploy again; ${keepsServing(previous)}.`,
          details: { ...details, exitCode: exit.exitCode, signal: exit.signal },
        },
      );
    }
    throw new ProviderError(
      'HEALTH_TIMEOUT',
      `${d.service} ${d.release.id} did not answer 200 on ${d.health.path} within ${d.health.timeoutMs} ms (last probe: ${outcome.last}; environment ${d.environment}).`,
      {
        hint: `Read ${logFile} to see why; fix the app, or raise health.timeoutMs in airlock.yaml if it boots slowly; ${keepsServing(previous)}.`,
        details: { ...details, timeoutMs: d.health.timeoutMs, lastProbe: outcome.last },
      },
    );
  }

  /** Polls the health path until 200, exit, abort or timeout (whichever first). */
  async #waitHealthy(
    proc: AppProcess,
    d: ProcessDeployment,
    signal: AbortSignal,
    progress: (message: string) => void,
  ): Promise<HealthWait> {
    const { path, timeoutMs, intervalMs } = d.health;
    const started = performance.now();
    const deadline = started + timeoutMs;
    let nextReport = started + 1_000;
    let last = 'no answer yet';
    let pollMs = Math.min(FIRST_HEALTH_POLL_MS, intervalMs);
    // Aborted on exit or on the caller's abort: wakes every wait below at once.
    const interrupt = new AbortController();
    const onAbort = () => interrupt.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    void proc.exited.then(onAbort);
    const interrupted = new Promise<'interrupted'>((resolve) => {
      interrupt.signal.addEventListener('abort', () => resolve('interrupted'), { once: true });
    });
    try {
      for (;;) {
        if (proc.exit) return { kind: 'exited' };
        if (signal.aborted) return { kind: 'aborted' };
        const remaining = deadline - performance.now();
        if (remaining <= 0) return { kind: 'timeout', last };
        const probeTimeout = Math.max(50, Math.min(remaining, Math.max(1_000, intervalMs)));
        const result = await Promise.race([probeHttp(proc.port, path, probeTimeout), interrupted]);
        if (result === 'interrupted') continue;
        if (result === 200) return proc.exit ? { kind: 'exited' } : { kind: 'healthy' };
        last = typeof result === 'number' ? `HTTP ${result}` : result;
        const now = performance.now();
        if (now >= nextReport) {
          progress(`waiting for ${path} (${((now - started) / 1000).toFixed(1)} s, last: ${last})`);
          nextReport = now + 1_000;
        }
        // Poll fast while a typical app is still booting, then every intervalMs.
        const pause = Math.min(pollMs, deadline - now);
        pollMs = Math.min(pollMs * 2, intervalMs);
        if (pause > 0) {
          await sleep(pause, undefined, { signal: interrupt.signal }).catch(() => undefined);
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      interrupt.abort();
    }
  }

  /** Points the proxy at `proc` (one assignment), then drains and retires the old process. */
  async #switch(
    slot: Slot,
    proc: AppProcess,
    d: ProcessDeployment,
    info: { reusedWarm: boolean; bootMs: number },
    progress: (message: string) => void,
    extraServer: http.Server | null,
  ): Promise<DeployOutcome> {
    const started = performance.now();
    this.#cancelRestart(slot);
    const old = slot.serving;
    const previousRelease = old?.release ?? slot.desired?.release.id ?? null;
    slot.serving = proc; // the switch: every request from now on goes to `proc`
    slot.desired = d;
    slot.since = new Date(this.#now()).toISOString();
    slot.restarts = 0;
    slot.backoffMs = BACKOFF_START_MS;
    if (extraServer) {
      const oldServer = slot.server;
      slot.server = extraServer;
      slot.port = d.port;
      this.#closeServer(oldServer);
    }
    const switchMs = Math.round((performance.now() - started) * 1000) / 1000;
    this.#emit('switched', d, proc.pid, { previousRelease, ...info, switchMs, port: slot.port });
    progress(`switched ${d.service} in ${d.environment} to ${d.release.id}`);
    await this.#persist();
    if (old && old !== proc) await this.#retire(slot, old, d, progress);
    return {
      url: urlFor(slot.port),
      reusedWarm: info.reusedWarm,
      bootMs: info.bootMs,
      switchMs,
      previousRelease,
    };
  }

  /** Drains the process that served before a switch, then keeps it warm or stops it. */
  async #retire(
    slot: Slot,
    old: AppProcess,
    d: ProcessDeployment,
    progress: (message: string) => void,
  ): Promise<void> {
    slot.draining.add(old);
    const started = performance.now();
    if (old.inflight > 0) {
      progress(`draining ${old.release} (${old.inflight} in flight, up to ${d.drainTimeoutMs} ms)`);
    }
    const stopSignal = AbortSignal.any([slot.abort.signal, this.#closing.signal]);
    const idle = await Promise.race([
      old.waitIdle(d.drainTimeoutMs),
      new Promise<boolean>((resolve) => {
        if (stopSignal.aborted) resolve(false);
        stopSignal.addEventListener('abort', () => resolve(false), { once: true });
      }),
    ]);
    this.#emit('drained', old.deployment, old.pid, {
      waitedMs: Math.round(performance.now() - started),
      timedOut: !idle,
      inflight: old.inflight,
    });
    slot.draining.delete(old);
    if (d.keepWarmMs > 0 && !old.exit && !slot.closed && !stopSignal.aborted) {
      const fp = fingerprint(old.deployment);
      for (const entry of slot.warm.filter((w) => w.fingerprint === fp)) {
        this.#takeWarm(slot, entry);
        await this.#stop(entry.proc, 'replaced by a newer warm process');
      }
      this.#keepWarm(slot, old, fp, d.keepWarmMs);
      progress(
        `keeping ${old.release} (pid ${old.pid}) warm for ${d.keepWarmMs} ms for instant rollback`,
      );
    } else {
      await this.#stop(old, 'replaced');
      progress(`stopped ${old.release} (pid ${old.pid})`);
    }
    await this.#persist();
  }

  #keepWarm(slot: Slot, proc: AppProcess, fp: string, keepWarmMs: number): void {
    const entry: WarmEntry = {
      proc,
      fingerprint: fp,
      timer: setTimeout(() => {
        if (!slot.warm.includes(entry)) return;
        this.#takeWarm(slot, entry);
        void this.#stop(proc, 'warm window ended').then(() => this.#persist());
      }, keepWarmMs),
    };
    entry.timer.unref();
    slot.warm.push(entry);
  }

  #takeWarm(slot: Slot, entry: WarmEntry): void {
    clearTimeout(entry.timer);
    slot.warm = slot.warm.filter((w) => w !== entry);
  }

  async #stop(proc: AppProcess, reason: string): Promise<void> {
    const alreadyStopping = proc.stopping;
    const exit = await proc.stop();
    if (!alreadyStopping) {
      this.#emit('process.stopped', proc.deployment, proc.pid, {
        reason,
        exitCode: exit.exitCode,
        signal: exit.signal,
      });
    }
  }

  #abortedError(d: ProcessDeployment, previous: string | null, pid?: number): ProviderError {
    return new ProviderError(
      'DEPLOY_ABORTED',
      `The deployment of ${d.service} ${d.release.id} to ${d.environment} was aborted before traffic switched.`,
      {
        hint: `Nothing changed: ${keepsServing(previous)}. Deploy again when ready (airlock deploy ${d.environment}).`,
        details: {
          environment: d.environment,
          service: d.service,
          release: d.release.id,
          ...(pid ? { pid } : {}),
        },
      },
    );
  }

  // ---------------------------------------------------------------- crashes

  #watch(slot: Slot, proc: AppProcess): void {
    this.#live.set(proc, slot);
    void proc.exited.then((info) => {
      this.#live.delete(proc);
      this.#onExit(slot, proc, info);
      void this.#persist();
    });
  }

  #onExit(slot: Slot, proc: AppProcess, info: ExitInfo): void {
    if (proc.stopping) return;
    if (slot.serving === proc) {
      this.#onCrash(slot, proc, info);
      return;
    }
    const warm = slot.warm.find((entry) => entry.proc === proc);
    if (warm) this.#takeWarm(slot, warm);
    if (warm || slot.draining.has(proc)) {
      this.#emit('process.stopped', proc.deployment, proc.pid, {
        reason: warm ? 'exited while warm' : 'exited while draining',
        exitCode: info.exitCode,
        signal: info.signal,
      });
    }
    // Candidates: #waitHealthy sees the exit and reports APP_EXITED.
  }

  #onCrash(slot: Slot, proc: AppProcess, info: ExitInfo): void {
    const at = new Date(this.#now()).toISOString();
    slot.lastCrash = { at, release: proc.release, exitCode: info.exitCode, signal: info.signal };
    slot.serving = null;
    const uptimeMs = this.#now() - proc.startedAt;
    if (uptimeMs >= BACKOFF_RESET_UPTIME_MS) slot.backoffMs = BACKOFF_START_MS;
    const delay = this.#nextBackoff(slot);
    this.#emit('process.crashed', proc.deployment, proc.pid, {
      exitCode: info.exitCode,
      signal: info.signal,
      uptimeMs,
      restartInMs: delay,
    });
    this.#scheduleRestart(slot, delay);
  }

  #nextBackoff(slot: Slot): number {
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(delay * 2, BACKOFF_MAX_MS);
    return delay;
  }

  #scheduleRestart(slot: Slot, delayMs: number): void {
    if (slot.closed || this.#closing.signal.aborted || !slot.desired) return;
    const state: RestartState = {
      controller: new AbortController(),
      retryAt: this.#now() + delayMs,
      timer: undefined,
      task: null,
    };
    state.timer = setTimeout(() => {
      state.task = this.#restartNow(slot, state);
    }, delayMs);
    slot.restart = state;
  }

  async #restartNow(slot: Slot, state: RestartState): Promise<void> {
    const d = slot.desired;
    if (slot.restart !== state || !d) return;
    try {
      const { proc } = await this.#launch(slot, d, state.controller.signal, () => {}, 'restart');
      if (slot.restart !== state) {
        await this.#stop(proc, 'superseded by a deployment');
        return;
      }
      slot.restart = null;
      slot.serving = proc;
      slot.restarts += 1;
      this.#emit('process.restarted', d, proc.pid, { restarts: slot.restarts });
      await this.#persist();
    } catch (error) {
      if (slot.restart !== state) return;
      const airlockError = toAirlockError(error);
      const pid =
        typeof airlockError.details.pid === 'number' ? airlockError.details.pid : undefined;
      if (airlockError.code === 'APP_EXITED') {
        slot.lastCrash = {
          at: new Date(this.#now()).toISOString(),
          release: d.release.id,
          exitCode: (airlockError.details.exitCode as number | null | undefined) ?? null,
          signal: (airlockError.details.signal as string | null | undefined) ?? null,
        };
      }
      // A missing build output will not come back by waiting: stay down until the next deploy.
      const retry = airlockError.code !== 'BUILD_OUTPUT_MISSING';
      const delay = retry ? this.#nextBackoff(slot) : null;
      this.#emit('process.crashed', d, pid, {
        phase: 'restart',
        code: airlockError.code,
        message: airlockError.message,
        restartInMs: delay,
      });
      slot.restart = null;
      if (delay !== null) this.#scheduleRestart(slot, delay);
    }
  }

  #cancelRestart(slot: Slot): RestartState | null {
    const state = slot.restart;
    if (!state) return null;
    slot.restart = null;
    clearTimeout(state.timer);
    state.controller.abort();
    return state;
  }

  // ---------------------------------------------------------------- proxy

  async #slotFor(d: ProcessDeployment): Promise<Slot> {
    const key = slotKey(d.environment, d.service);
    const existing = this.#slots.get(key);
    if (existing && !existing.closed) return existing;
    let pending = this.#pendingSlots.get(key);
    if (!pending) {
      pending = this.#createSlot(d).finally(() => this.#pendingSlots.delete(key));
      this.#pendingSlots.set(key, pending);
    }
    return pending;
  }

  async #createSlot(d: ProcessDeployment): Promise<Slot> {
    // Idle upstream sockets are closed after 2 s, before the app's own keep-alive timeout
    // (Node's default is 5 s), so the proxy never reuses a socket the app is closing (a 502).
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: 256,
      maxFreeSockets: 32,
      timeout: UPSTREAM_IDLE_TIMEOUT_MS,
    });
    const proxy = createProxyServer({ ws: true, xfwd: true, agent });
    proxy.on('error', () => {
      // every proxy call passes its own error callback; this only keeps stray errors non-fatal
    });
    const slot: Slot = {
      key: slotKey(d.environment, d.service),
      environment: d.environment,
      service: d.service,
      port: d.port,
      server: undefined as unknown as http.Server,
      proxy,
      agent,
      lock: new Mutex(),
      abort: new AbortController(),
      closed: false,
      serving: null,
      desired: null,
      since: null,
      restarts: 0,
      lastCrash: null,
      backoffMs: BACKOFF_START_MS,
      restart: null,
      warm: [],
      draining: new Set(),
      candidates: new Set(),
    };
    try {
      slot.server = await this.#listen(slot, d.port);
    } catch (error) {
      agent.destroy();
      throw error;
    }
    if (this.#closing.signal.aborted) {
      this.#closeServer(slot.server);
      agent.destroy();
      this.#assertOpen();
    }
    this.#slots.set(slot.key, slot);
    return slot;
  }

  /**
   * Starts an HTTP server on 127.0.0.1:`port` that proxies to the slot's serving process.
   * @throws ProviderError `PORT_IN_USE`
   */
  async #listen(slot: Slot, port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => this.#handleRequest(slot, req, res));
    server.on('upgrade', (req, socket, head) => this.#handleUpgrade(slot, req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ProviderError(
        'PORT_IN_USE',
        code === 'EACCES'
          ? `Cannot listen on port ${port} for ${slot.service} in ${slot.environment}: permission denied.`
          : `Port ${port} (environment ${slot.environment}, service ${slot.service}) is already in use by another process.`,
        {
          hint: `Stop whatever listens on 127.0.0.1:${port}, or change \`port\` of ${slot.service} for environment ${slot.environment} in airlock.yaml to a free port.`,
          details: { port, environment: slot.environment, service: slot.service, errno: code },
          cause: error,
        },
      );
    }
    server.on('error', () => {
      // after listen, errors are per connection; never crash the runtime
    });
    return server;
  }

  #handleRequest(slot: Slot, req: http.IncomingMessage, res: http.ServerResponse): void {
    const upstream = slot.serving;
    if (!upstream || upstream.exit) {
      this.#unavailable(slot, res);
      return;
    }
    res.once('close', upstream.acquire());
    slot.proxy.web(req, res, { target: upstream.target }, (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (slot.restart) {
        this.#unavailable(slot, res);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code ?? error.message;
      sendJson(res, 502, {
        error: `${slot.service} ${upstream.release} in ${slot.environment} did not answer (${code}).`,
      });
    });
  }

  #unavailable(slot: Slot, res: http.ServerResponse): void {
    if (slot.restart) {
      const retryAfter = Math.max(1, Math.ceil((slot.restart.retryAt - this.#now()) / 1000));
      sendJson(
        res,
        503,
        {
          error: `${slot.service} in ${slot.environment} is restarting after a crash; retry in ${retryAfter} s.`,
        },
        { 'retry-after': String(retryAfter) },
      );
      return;
    }
    sendJson(res, 502, {
      error: `Nothing serves ${slot.service} in ${slot.environment}; deploy a release first (airlock deploy ${slot.environment}).`,
    });
  }

  #handleUpgrade(slot: Slot, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const upstream = slot.serving;
    if (!upstream || upstream.exit) {
      const status = slot.restart ? '503 Service Unavailable' : '502 Bad Gateway';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    // An upgraded connection counts as in flight until its socket closes.
    socket.once('close', upstream.acquire());
    slot.proxy.ws(req, socket, head, { target: upstream.target }, () => socket.destroy());
  }

  #closeServer(server: http.Server): void {
    server.close();
    server.closeIdleConnections();
  }

  // ---------------------------------------------------------------- stop

  async #closeSlot(slot: Slot, reason: string): Promise<void> {
    slot.abort.abort();
    const restart = this.#cancelRestart(slot);
    await restart?.task;
    await slot.lock.run(async () => {
      slot.closed = true;
      this.#cancelRestart(slot);
      this.#closeServer(slot.server);
      const processes = new Set<AppProcess>([
        ...(slot.serving ? [slot.serving] : []),
        ...slot.warm.map((entry) => entry.proc),
        ...slot.draining,
        ...slot.candidates,
      ]);
      for (const entry of [...slot.warm]) this.#takeWarm(slot, entry);
      for (const [proc, owner] of this.#live) if (owner === slot) processes.add(proc);
      slot.serving = null;
      await Promise.all([...processes].map((proc) => this.#stop(proc, reason)));
      slot.server.closeAllConnections();
      slot.agent.destroy();
    });
  }

  #assertOpen(): void {
    if (this.#closing.signal.aborted) {
      throw new ProviderError('PROVIDER_UNAVAILABLE', 'The local runtime is shutting down.', {
        hint: 'Retry in a moment; check it with `airlock local status`.',
      });
    }
  }

  // ---------------------------------------------------------------- state

  async #stateOf(slot: Slot): Promise<ServiceState> {
    const serving = slot.serving;
    const healthy = serving ? await serving.isHealthy(1_000) : false;
    return {
      environment: slot.environment,
      service: slot.service,
      url: urlFor(slot.port),
      release: serving?.release ?? (slot.restart ? (slot.desired?.release.id ?? null) : null),
      pid: serving?.pid ?? null,
      since: serving || slot.restart ? slot.since : null,
      healthy,
      restarts: slot.restarts,
      lastCrash: slot.lastCrash,
      warm: slot.warm.map((entry) => entry.proc.release),
    };
  }

  #snapshot(): RuntimeStateFile {
    const services: ServiceRecord[] = [...this.#orphans];
    for (const slot of this.#slots.values()) {
      if (!slot.desired || (slot.closed && !this.#closing.signal.aborted)) continue;
      services.push({
        environment: slot.environment,
        service: slot.service,
        deployment: slot.desired,
        pid: slot.serving?.pid ?? null,
        since: slot.since,
      });
    }
    const processes: ProcessRecord[] = [];
    for (const [proc, slot] of this.#live) {
      if (proc.exit) continue;
      const role: ProcessRecord['role'] =
        slot.serving === proc
          ? 'serving'
          : slot.candidates.has(proc)
            ? 'candidate'
            : slot.warm.some((entry) => entry.proc === proc)
              ? 'warm'
              : 'draining';
      processes.push({
        pid: proc.pid,
        environment: slot.environment,
        service: slot.service,
        release: proc.release,
        role,
        stopTimeoutMs: proc.deployment.stopTimeoutMs,
      });
    }
    return { version: 1, updatedAt: new Date(this.#now()).toISOString(), services, processes };
  }

  /** Writes state.json (0600, atomic); writes are serialized and each one takes a fresh snapshot. */
  #persist(): Promise<void> {
    const write = this.#persistChain.then(() =>
      writeFileAtomic(this.#paths.stateFile, `${JSON.stringify(this.#snapshot(), null, 2)}\n`),
    );
    this.#persistChain = write.catch(() => undefined);
    return this.#persistChain;
  }

  #emit(
    type: RuntimeEventType,
    d: Pick<ProcessDeployment, 'environment' | 'service' | 'release'>,
    pid?: number,
    details?: Record<string, unknown>,
  ): void {
    const event: RuntimeEvent = {
      at: new Date(this.#now()).toISOString(),
      type,
      environment: d.environment,
      service: d.service,
      release: d.release.id,
      ...(pid !== undefined ? { pid } : {}),
      ...(details ? { details } : {}),
    };
    try {
      this.#onEvent?.(event);
    } catch {
      // listeners must not break the runtime
    }
  }
}

function keepsServing(previous: string | null): string {
  return previous
    ? `${previous} keeps serving`
    : 'nothing was serving before, and nothing serves now';
}
