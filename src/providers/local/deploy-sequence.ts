/**
 * The local runtime's deployment sequence, kamal-proxy's: start the new release beside the old
 * one on a free port, health-check it, switch the proxy's upstream in one assignment, drain the
 * old process, then stop it — or keep it "warm" for `keepWarmMs`, so that deploying its release
 * again switches back at once, without a boot (Argo Rollouts' fast rollback). In every failure
 * before the switch, the previous release keeps serving untouched.
 */

import fsp from 'node:fs/promises';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { InternalError, ProviderError, toAirlockError } from '../../errors.ts';
import type { DeployOptions, DeployOutcome, ProcessDeployment } from '../provider.ts';
import { AppProcess, findFreePort, probeHttp } from './app-process.ts';
import type { ChecksLeases } from './checks-lease.ts';
import { CopyVerifier } from './copy-verify.ts';
import { BACKOFF_START_MS, type CrashSupervisor } from './crash-supervisor.ts';
import { listeningPorts } from './listening-ports.ts';
import { urlFor } from './runtime-files.ts';
import type { RuntimeContext, ServiceSlot, WarmEntry } from './service-slot.ts';

/** Why a process is started: by a deployment, or by the runtime itself. */
export type LaunchReason = 'deploy' | 'restart' | 'restore' | 'revert';

/** First pause between health probes (ms); it doubles up to `health.intervalMs`. */
const FIRST_HEALTH_POLL_MS = 5;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

type HealthWait =
  | { kind: 'healthy' }
  | { kind: 'exited' }
  | {
      kind: 'timeout';
      last: string /** Ports the app's process group listens on. */;
      listening: number[];
    }
  | { kind: 'aborted' };

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

/** Runs the deployment sequence in a slot; see the module comment. */
export class DeploySequence {
  readonly #ctx: RuntimeContext;
  readonly #supervisor: CrashSupervisor;
  readonly #leases: ChecksLeases;
  readonly #copies: CopyVerifier;

  constructor(ctx: RuntimeContext, supervisor: CrashSupervisor, leases: ChecksLeases) {
    this.#ctx = ctx;
    this.#supervisor = supervisor;
    this.#leases = leases;
    this.#copies = new CopyVerifier(ctx.paths.home);
  }

  /**
   * Deploys `d` in `slot` (under the slot's lock): reuse a healthy warm process of the same
   * release and config, else {@link launch} a new one; then {@link switch}. Reports `deploy.failed`
   * or `deploy.aborted` on failure. Errors: see `LocalRuntime.deploy`.
   */
  async run(
    slot: ServiceSlot,
    d: ProcessDeployment,
    options: DeployOptions,
    reason: LaunchReason = 'deploy',
  ): Promise<DeployOutcome> {
    const signals = [slot.abort.signal, this.#ctx.closing];
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
      if (signal.aborted) throw abortedError(d, previous);
      if (d.port !== slot.proxy.port) {
        progress(`moving the proxy from port ${slot.proxy.port} to ${d.port}`);
        extraServer = await slot.proxy.listen(d.port);
      }

      const fp = fingerprint(d);
      const warm = slot.warm.find((entry) => entry.fingerprint === fp && !entry.proc.exit);
      if (warm) {
        // Taken out of the warm list first, so its keep-warm timer cannot stop it meanwhile.
        slot.takeWarm(warm);
        if (await warm.proc.isHealthy(Math.max(50, Math.min(1_000, d.health.timeoutMs)))) {
          if (signal.aborted) {
            this.#keepWarm(slot, warm.proc, warm.fingerprint, Math.max(d.keepWarmMs, 1_000));
            throw abortedError(d, previous);
          }
          progress(`switching back to warm ${d.release.id} (pid ${warm.proc.pid})`);
          return await this.switch(
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
        await this.#ctx.stop(warm.proc, 'warm process unhealthy');
      }

      const { proc, bootMs } = await this.launch(slot, d, signal, progress, reason);
      if (signal.aborted) {
        slot.candidates.delete(proc);
        await this.#ctx.stop(proc, 'deploy aborted');
        throw abortedError(d, previous);
      }
      return await this.switch(slot, proc, d, { reusedWarm: false, bootMs }, progress, extraServer);
    } catch (error) {
      if (extraServer) slot.proxy.discard(extraServer);
      const airlockError = toAirlockError(error);
      this.#ctx.emit(
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
   * stopped before the error is thrown. What the runtime starts by itself (any `reason` but
   * `deploy`, whose copy the CLI has just verified), and a deployment whose copy the CLI left to
   * a warm process (`copyUnverified`), starts only from a copy that still verifies.
   * @throws ProviderError `DIGEST_MISMATCH` (see copy-verify.ts), and as `LocalRuntime.deploy`.
   */
  async launch(
    slot: ServiceSlot,
    d: ProcessDeployment,
    signal: AbortSignal,
    progress: (message: string) => void,
    reason: LaunchReason,
  ): Promise<{ proc: AppProcess; bootMs: number }> {
    const previous = slot.serving?.release ?? slot.desired?.release.id ?? null;
    if (signal.aborted) throw abortedError(d, previous);
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
    // The pipeline verified the copy it deploys, unless it counted on a warm process that turned
    // out gone or unhealthy (`copyUnverified`).
    if (reason !== 'deploy' || d.copyUnverified) await this.#copies.verify(d);
    const port = await findFreePort();
    const logFile = this.#ctx.paths.appLogFile(d.environment, d.service, d.release.id);
    let proc: AppProcess;
    try {
      proc = await AppProcess.spawn({
        deployment: d,
        home: this.#ctx.paths.home,
        port,
        logFile,
        now: this.#ctx.now,
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
    this.#supervisor.watch(slot, proc);
    void this.#ctx.persist();
    this.#ctx.emit('process.started', d, proc.pid, { port, reason, logFile });
    progress(`started ${d.service} ${d.release.id} (pid ${proc.pid}) on port ${port}`);

    const started = performance.now();
    const outcome = await this.#waitHealthy(proc, d, signal, progress);
    if (outcome.kind === 'healthy') {
      slot.candidates.delete(proc);
      const bootMs = Math.round(performance.now() - started);
      this.#ctx.emit('process.healthy', d, proc.pid, { bootMs });
      progress(`${d.health.path} answered 200 after ${bootMs} ms`);
      return { proc, bootMs };
    }

    slot.candidates.delete(proc);
    await this.#ctx.stop(proc, outcome.kind === 'aborted' ? 'deploy aborted' : 'failed to boot');
    if (outcome.kind === 'aborted') throw abortedError(d, previous, proc.pid);
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
    // An app that listens, but not on PORT, is the usual cause of a health check that never
    // gets an answer: name the port it chose.
    const elsewhere = outcome.listening.filter((p) => p !== port);
    const wrongPort =
      elsewhere.length > 0 && !outcome.listening.includes(port)
        ? ` It listens on port ${elsewhere.join(', ')}, not on ${port}: make it listen on the PORT environment variable Airlock sets.`
        : '';
    throw new ProviderError(
      'HEALTH_TIMEOUT',
      `${d.service} ${d.release.id} did not answer 200 on ${d.health.path} within ${d.health.timeoutMs} ms (last probe: ${outcome.last}; environment ${d.environment}).${wrongPort}`,
      {
        hint: wrongPort
          ? `Start the app on $PORT (e.g. \`app.listen(process.env.PORT)\`); its output is in ${logFile}; ${keepsServing(previous)}.`
          : `Read ${logFile} to see why; fix the app, or raise health.timeoutMs in airlock.yaml if it boots slowly; ${keepsServing(previous)}.`,
        details: {
          ...details,
          timeoutMs: d.health.timeoutMs,
          lastProbe: outcome.last,
          listeningOn: outcome.listening,
        },
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
        if (remaining <= 0)
          return { kind: 'timeout', last, listening: await listeningPorts(proc.pid) };
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
  async switch(
    slot: ServiceSlot,
    proc: AppProcess,
    d: ProcessDeployment,
    info: { reusedWarm: boolean; bootMs: number },
    progress: (message: string) => void,
    extraServer: http.Server | null,
  ): Promise<DeployOutcome> {
    const started = performance.now();
    this.#supervisor.cancelRestart(slot);
    const old = slot.serving;
    const previousRelease = old?.release ?? slot.desired?.release.id ?? null;
    const before = slot.desired;
    slot.serving = proc; // the switch: every request from now on goes to `proc`
    slot.desired = d;
    if (before && before.release.id !== d.release.id) slot.previous = before;
    this.#leases.onSwitch(slot, d, before);
    slot.since = new Date(this.#ctx.now()).toISOString();
    slot.restarts = 0;
    slot.backoffMs = BACKOFF_START_MS;
    if (extraServer) slot.proxy.moveTo(extraServer, d.port);
    const switchMs = Math.round((performance.now() - started) * 1000) / 1000;
    this.#ctx.emit('switched', d, proc.pid, {
      previousRelease,
      ...info,
      switchMs,
      port: slot.proxy.port,
      ...(slot.pending ? { checksLeaseMs: slot.pending.leaseMs } : {}),
    });
    progress(
      `switched ${d.service} in ${d.environment} to ${d.release.id}${slot.pending ? ` (checks pending: switched back unless confirmed within ${slot.pending.leaseMs} ms)` : ''}`,
    );
    const leaseMs = slot.pending?.leaseMs;
    await this.#ctx.persist();
    if (old && old !== proc) await this.#retire(slot, old, d, progress);
    return {
      url: urlFor(slot.proxy.port),
      reusedWarm: info.reusedWarm,
      bootMs: info.bootMs,
      switchMs,
      previousRelease,
      ...(leaseMs ? { checksLeaseMs: leaseMs } : {}),
    };
  }

  /** Drains the process that served before a switch, then keeps it warm or stops it. */
  async #retire(
    slot: ServiceSlot,
    old: AppProcess,
    d: ProcessDeployment,
    progress: (message: string) => void,
  ): Promise<void> {
    slot.draining.add(old);
    const started = performance.now();
    if (old.inflight > 0) {
      progress(`draining ${old.release} (${old.inflight} in flight, up to ${d.drainTimeoutMs} ms)`);
    }
    const stopSignal = AbortSignal.any([slot.abort.signal, this.#ctx.closing]);
    const idle = await Promise.race([
      old.waitIdle(d.drainTimeoutMs),
      new Promise<boolean>((resolve) => {
        if (stopSignal.aborted) resolve(false);
        stopSignal.addEventListener('abort', () => resolve(false), { once: true });
      }),
    ]);
    this.#ctx.emit('drained', old.deployment, old.pid, {
      waitedMs: Math.round(performance.now() - started),
      timedOut: !idle,
      inflight: old.inflight,
    });
    slot.draining.delete(old);
    if (d.keepWarmMs > 0 && !old.exit && !slot.closed && !stopSignal.aborted) {
      const fp = fingerprint(old.deployment);
      for (const entry of slot.warm.filter((w) => w.fingerprint === fp)) {
        slot.takeWarm(entry);
        await this.#ctx.stop(entry.proc, 'replaced by a newer warm process');
      }
      this.#keepWarm(slot, old, fp, d.keepWarmMs);
      progress(
        `keeping ${old.release} (pid ${old.pid}) warm for ${d.keepWarmMs} ms for instant rollback`,
      );
      // The cap: the oldest warm processes beyond it are stopped (each holds a whole app's memory).
      const cap = Math.max(1, d.keepWarmReleases ?? 1);
      while (slot.warm.length > cap) {
        const oldest = slot.warm[0] as WarmEntry;
        slot.takeWarm(oldest);
        await this.#ctx.stop(oldest.proc, `more than ${cap} warm (keepWarmReleases)`);
        progress(
          `stopped warm ${oldest.proc.release} (pid ${oldest.proc.pid}): keepWarmReleases is ${cap}`,
        );
      }
    } else {
      await this.#ctx.stop(old, 'replaced');
      progress(`stopped ${old.release} (pid ${old.pid})`);
    }
    await this.#ctx.persist();
  }

  /** Keeps an adopted process (restore) warm for its deployment's `keepWarmMs` from now. */
  keepWarmAdopted(slot: ServiceSlot, proc: AppProcess): void {
    this.#keepWarm(
      slot,
      proc,
      fingerprint(proc.deployment),
      Math.max(1_000, proc.deployment.keepWarmMs),
    );
  }

  #keepWarm(slot: ServiceSlot, proc: AppProcess, fp: string, keepWarmMs: number): void {
    const entry: WarmEntry = {
      proc,
      fingerprint: fp,
      timer: setTimeout(() => {
        if (!slot.warm.includes(entry)) return;
        slot.takeWarm(entry);
        void this.#ctx.stop(proc, 'warm window ended').then(() => this.#ctx.persist());
      }, keepWarmMs),
    };
    entry.timer.unref();
    slot.warm.push(entry);
  }
}

function abortedError(d: ProcessDeployment, previous: string | null, pid?: number): ProviderError {
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

function keepsServing(previous: string | null): string {
  return previous
    ? `${previous} keeps serving`
    : 'nothing was serving before, and nothing serves now';
}
