/**
 * The local runtime's engine: runs app processes per (environment, service) behind a stable
 * proxy port on 127.0.0.1 and switches traffic between releases without dropping a request.
 * It runs inside the daemon (`runtime-daemon.ts`) and can be used in-process (tests).
 *
 * `LocalRuntime` composes the parts, one file each: the reverse proxy per service
 * (`reverse-proxy.ts`), the deployment sequence — start new, health-check, switch, drain old,
 * keep warm for an instant rollback (`deploy-sequence.ts`) — the crash supervisor that restarts
 * a serving process with backoff (`crash-supervisor.ts`), restore after a restart
 * (`runtime-restore.ts`) and the lock's fences (`deploy-fences.ts`). What they share is in
 * `service-slot.ts`; `LocalRuntime` keeps the slots, state.json and shutdown.
 */
import { ProviderError } from '../../errors.ts';
import type {
  ChecksLeaseState,
  DeployOptions,
  DeployOutcome,
  ProcessDeployment,
  ServiceState,
} from '../provider.ts';
import type { AppProcess } from './app-process.ts';
import { ChecksLeases } from './checks-lease.ts';
import { CrashSupervisor } from './crash-supervisor.ts';
import { DeployFences } from './deploy-fences.ts';
import { DeploySequence, validateDeployment } from './deploy-sequence.ts';
import { eventEmitter, type RuntimeEvent } from './runtime-events.ts';
import {
  emptyServiceState,
  type ProcessRecord,
  type RuntimeStateFile,
  runtimePaths,
  type ServiceRecord,
  urlFor,
  writeFileAtomic,
} from './runtime-files.ts';
import { type RestoreResult, restoreServices } from './runtime-restore.ts';
import { type RuntimeContext, ServiceSlot, slotKey } from './service-slot.ts';

/** Options of {@link LocalRuntime}. */
export interface LocalRuntimeOptions {
  /** The project's Airlock home (`config/home.ts`). */
  home: string;
  /** Called synchronously for every event; exceptions it throws are ignored. */
  onEvent?: (event: RuntimeEvent) => void;
  /** Wall clock in ms since the epoch (event times, `since`, crash uptime). Default `Date.now`. */
  now?: () => number;
}

/**
 * The in-process engine of the local provider. One instance per Airlock home (the daemon
 * enforces that). All methods are safe to call concurrently; deploys to the same
 * (environment, service) are serialized.
 */
export class LocalRuntime {
  readonly #ctx: RuntimeContext;
  readonly #supervisor: CrashSupervisor;
  readonly #deploys: DeploySequence;
  readonly #leases: ChecksLeases;
  readonly #fences = new DeployFences();
  readonly #slots = new Map<string, ServiceSlot>();
  readonly #pendingSlots = new Map<string, Promise<ServiceSlot>>();
  /** Services from state.json that could not get a proxy at restore; kept so they are not forgotten. */
  #orphans: ServiceRecord[] = [];
  readonly #closing = new AbortController();
  #shutdown: Promise<void> | null = null;
  #persistChain: Promise<void> = Promise.resolve();

  constructor(options: LocalRuntimeOptions) {
    const now = options.now ?? Date.now;
    const emit = eventEmitter(options.onEvent, now);
    this.#ctx = {
      paths: runtimePaths(options.home),
      now,
      closing: this.#closing.signal,
      live: new Map(),
      emit,
      persist: () => this.#persist(),
      async stop(proc: AppProcess, reason: string) {
        const alreadyStopping = proc.stopping;
        const exit = await proc.stop();
        if (!alreadyStopping) {
          emit('process.stopped', proc.deployment, proc.pid, {
            reason,
            exitCode: exit.exitCode,
            signal: exit.signal,
          });
        }
      },
    };
    this.#supervisor = new CrashSupervisor(
      this.#ctx,
      async (slot, d, signal) => {
        const { proc } = await this.#deploys.launch(slot, d, signal, () => {}, 'restart');
        return proc;
      },
      async (slot, previous, signal) => {
        // Under no lock (like a restart): a deployment that comes meanwhile supersedes it.
        await this.#deploys.run(slot, { ...previous, checksLeaseMs: 0 }, { signal }, 'revert');
      },
    );
    this.#leases = new ChecksLeases(this.#ctx, (slot, previous, release) =>
      slot.lock.run(async () => {
        const serving = slot.serving?.release ?? slot.desired?.release.id ?? null;
        if (slot.closed || serving !== release) return false;
        await this.#deploys.run(slot, { ...previous, checksLeaseMs: 0 }, {}, 'revert');
        return true;
      }),
    );
    this.#deploys = new DeploySequence(this.#ctx, this.#supervisor, this.#leases);
  }

  /** Absolute path of the Airlock home. */
  get home(): string {
    return this.#ctx.paths.home;
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
   *   `details.logTail` (the last 20 lines of the candidate's output, repeated blocks collapsed
   *   and the first line of the error they belong to kept: `log-tail.ts`) where there is one.
   *   In every case the previous release keeps serving untouched.
   */
  async deploy(d: ProcessDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    validateDeployment(d);
    this.#assertOpen();
    const guard = this.#fences.guard(d);
    const signal = options.signal
      ? AbortSignal.any([options.signal, guard.controller.signal])
      : guard.controller.signal;
    try {
      const slot = await this.#slotFor(d);
      return await slot.lock.run(() => {
        guard.check();
        return this.#deploys.run(slot, d, { ...options, signal });
      });
    } catch (error) {
      if (guard.superseded()) throw guard.lost();
      throw error;
    } finally {
      guard.done();
    }
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

  /**
   * Renews (`ms` from now, default the lease's own length) or confirms the "checks pending" lease
   * of `release` in one service (see checks-lease.ts). A no-op when it is not pending; the answer
   * says what serves (another release than `release`: the runtime switched back).
   */
  checksLease(
    environment: string,
    service: string,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): ChecksLeaseState {
    const slot = this.#slots.get(slotKey(environment, service));
    return this.#leases.update(slot && !slot.closed ? slot : undefined, release, action, ms);
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
   * @throws ProviderError `PROVIDER_UNAVAILABLE` (the runtime is shutting down).
   */
  async restore(): Promise<RestoreResult> {
    this.#assertOpen();
    return restoreServices({
      ctx: this.#ctx,
      deploys: this.#deploys,
      supervisor: this.#supervisor,
      leases: this.#leases,
      slotFor: (d) => this.#slotFor(d),
      orphan: (record) => this.#orphans.push(record),
    });
  }

  // ---------------------------------------------------------------- slots

  async #slotFor(d: ProcessDeployment): Promise<ServiceSlot> {
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

  async #createSlot(d: ProcessDeployment): Promise<ServiceSlot> {
    const slot = new ServiceSlot(d.environment, d.service, d.port, this.#ctx.now);
    await slot.proxy.start();
    if (this.#closing.signal.aborted) {
      slot.proxy.close();
      slot.proxy.destroy();
      this.#assertOpen();
    }
    this.#slots.set(slot.key, slot);
    return slot;
  }

  // ---------------------------------------------------------------- stop

  async #closeSlot(slot: ServiceSlot, reason: string): Promise<void> {
    slot.abort.abort();
    const restart = this.#supervisor.cancelRestart(slot);
    await restart?.task;
    if (reason === 'shutdown') this.#leases.suspend(slot);
    else this.#leases.clear(slot);
    await slot.lock.run(async () => {
      slot.closed = true;
      this.#supervisor.cancelRestart(slot);
      slot.proxy.close();
      const processes = new Set<AppProcess>([
        ...(slot.serving ? [slot.serving] : []),
        ...slot.warm.map((entry) => entry.proc),
        ...slot.draining,
        ...slot.candidates,
      ]);
      for (const entry of [...slot.warm]) slot.takeWarm(entry);
      for (const [proc, owner] of this.#ctx.live) if (owner === slot) processes.add(proc);
      slot.serving = null;
      await Promise.all([...processes].map((proc) => this.#ctx.stop(proc, reason)));
      slot.proxy.destroy();
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

  async #stateOf(slot: ServiceSlot): Promise<ServiceState> {
    const serving = slot.serving;
    const healthy = serving ? await serving.isHealthy(1_000) : false;
    return {
      environment: slot.environment,
      service: slot.service,
      url: urlFor(slot.proxy.port),
      release: serving?.release ?? (slot.restart ? (slot.desired?.release.id ?? null) : null),
      pid: serving?.pid ?? null,
      since: serving || slot.restart ? slot.since : null,
      healthy,
      restarts: slot.restarts,
      lastCrash: slot.lastCrash,
      warm: slot.warm.map((entry) => entry.proc.release),
      listening: true,
      warmCopies: slot.warm
        .filter((entry) => !entry.proc.exit)
        .map(({ proc }) => ({
          release: proc.deployment.release.id,
          digest: proc.deployment.release.digest,
          artifactDir: proc.deployment.artifactDir,
          pid: proc.pid,
        })),
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
        ...(slot.previous ? { previous: slot.previous } : {}),
        ...(slot.pending ? { lease: this.#leases.record(slot) } : {}),
      });
    }
    const processes: ProcessRecord[] = [];
    for (const [proc, slot] of this.#ctx.live) {
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
        port: proc.port,
        deployment: proc.deployment,
        logOffset: proc.logOffset,
      });
    }
    return { version: 1, updatedAt: new Date(this.#ctx.now()).toISOString(), services, processes };
  }

  /** Writes state.json (0600, atomic); writes are serialized and each one takes a fresh snapshot. */
  #persist(): Promise<void> {
    const write = this.#persistChain.then(() =>
      writeFileAtomic(this.#ctx.paths.stateFile, `${JSON.stringify(this.#snapshot(), null, 2)}\n`),
    );
    this.#persistChain = write.catch(() => undefined);
    return this.#persistChain;
  }
}
