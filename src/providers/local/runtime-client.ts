/**
 * The CLI's side of the local runtime: finds the daemon through `<home>/local/runtime.json`,
 * starts it detached when it is not running, and talks to its control API (bearer token,
 * 127.0.0.1). Deployments stream progress as NDJSON; aborting `signal` closes the request,
 * which makes the daemon abort the deploy if traffic has not switched yet.
 */
import fs from 'node:fs';
import type * as Http from 'node:http';
import { fileURLToPath } from 'node:url';
import { ProviderError, type SerializedError } from '../../errors.ts';
import { type BackgroundProcess, startBackground } from '../../process/background.ts';
import type {
  ChecksLeaseState,
  DeployOptions,
  DeployOutcome,
  ProcessDeployment,
  ServiceState,
} from '../provider.ts';
import { readLogTail } from './app-process.ts';
import {
  isProcessAlive,
  type RuntimeInfo,
  type RuntimePaths,
  readJsonFile,
  runtimePaths,
} from './runtime-files.ts';

/** node:http without its ESM facade, whose lazy WebSocket exports load undici (~25 ms per CLI start). */
const http: typeof Http = process.getBuiltinModule('node:http');

/** Options of {@link LocalRuntimeClient}. Times in ms. */
export interface LocalRuntimeClientOptions {
  /** The project's Airlock home (`config/home.ts`). */
  home: string;
  /** How long `ensureStarted()` waits for a new daemon (ms). Default 10 000. */
  startTimeoutMs?: number;
  /** How long `shutdown()` waits for the daemon to exit (ms). Default 30 000. */
  shutdownTimeoutMs?: number;
  /**
   * Absolute path of the daemon entry file to run with `process.execPath … --home <home>`.
   * Default: `runtime-daemon-main.ts` beside this file (see `runDaemon` there for a custom entry).
   */
  daemonEntry?: string;
  /** Extra arguments for the daemon entry, after `--home <home>` (e.g. where to audit). */
  daemonArgs?: string[];
  /** Extra environment variables for the daemon (secrets go here, never in arguments). */
  daemonEnv?: Record<string, string>;
}

/** `GET /v1/status`. */
export interface RuntimeStatus {
  pid: number;
  /** ISO-8601. */
  startedAt: string;
  /**
   * True while the daemon is still bringing back what served when it started (its restore);
   * absent from a daemon of an earlier version.
   */
  restoring?: boolean;
  services: ServiceState[];
}

const DAEMON_ENTRY = fileURLToPath(new URL('./runtime-daemon-main.ts', import.meta.url));

interface RawResponse {
  status: number;
  response: Http.IncomingMessage;
}

/** Rebuilds a daemon-side error as a ProviderError with the same code, message, hint and details. */
export function providerErrorFrom(error: SerializedError): ProviderError {
  return new ProviderError(error.code, error.message, {
    ...(error.hint ? { hint: error.hint } : {}),
    details: { ...error.details, ...(error.kind !== 'provider' ? { kind: error.kind } : {}) },
  });
}

/** Client of one project's local runtime daemon. */
/** How long (ms) a daemon that answered `GET /v1/status` is taken as live without asking again. */
const LIVE_FOR_MS = 2_000;

export class LocalRuntimeClient {
  readonly #paths: RuntimePaths;
  readonly #startTimeoutMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #daemonEntry: string;
  readonly #daemonArgs: string[];
  readonly #daemonEnv: Record<string, string>;
  #starting: Promise<RuntimeInfo> | null = null;
  /** The daemon (pid, port, token) that last answered `GET /v1/status`, and when (ms, monotonic). */
  #answered: { daemon: string; at: number } | null = null;
  #checking: Promise<RuntimeInfo | null> | null = null;

  constructor(options: LocalRuntimeClientOptions) {
    this.#paths = runtimePaths(options.home);
    this.#startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.#daemonEntry = options.daemonEntry ?? DAEMON_ENTRY;
    this.#daemonArgs = options.daemonArgs ?? [];
    this.#daemonEnv = options.daemonEnv ?? {};
  }

  /** Absolute path of the Airlock home. */
  get home(): string {
    return this.#paths.home;
  }

  /** True when runtime.json names a daemon that answers `GET /v1/status?services=0`. */
  async isRunning(): Promise<boolean> {
    return (await this.#liveInfo()) !== null;
  }

  /**
   * Returns the live daemon's runtime.json, starting the daemon first if needed: spawns
   * `process.execPath <daemonEntry> --watchdog --home <home>` detached (stdio to runtime.log,
   * unref'd), a watchdog that runs the daemon and restarts it if it dies,
   * and waits up to `startTimeoutMs` for a runtime.json that answers. Safe when several CLIs do it
   * at once (the pid file lets one daemon win; the others exit and everyone finds the winner).
   * @throws ProviderError `PROVIDER_UNAVAILABLE` when no daemon came up in time.
   */
  ensureStarted(): Promise<RuntimeInfo> {
    this.#starting ??= this.#start().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  async #start(): Promise<RuntimeInfo> {
    const live = await this.#liveInfo();
    if (live) return live;
    fs.mkdirSync(this.#paths.localDir, { recursive: true, mode: 0o700 });
    const logFd = fs.openSync(this.#paths.logFile, 'a', 0o600);
    let exitCode: number | null = null;
    let started: Promise<BackgroundProcess>;
    try {
      started = startBackground({
        command: process.execPath,
        // The watchdog runs the daemon and restarts it if it dies (runtime-watchdog.ts).
        args: [this.#daemonEntry, '--watchdog', '--home', this.#paths.home, ...this.#daemonArgs],
        cwd: this.#paths.home,
        env: { ...process.env, ...this.#daemonEnv },
        outputFd: logFd,
        unref: true,
      });
    } finally {
      fs.closeSync(logFd);
    }
    started.then(
      ({ exited }) =>
        exited.then(({ exitCode: code, signal }) => {
          exitCode = code ?? (signal ? 128 : -1);
        }),
      () => {
        exitCode = -1;
      },
    );
    const deadline = Date.now() + this.#startTimeoutMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const info = await this.#liveInfo();
      if (info) return info;
      // Exit code 0: another daemon won the pid file; wait for it. Anything else: it failed.
      if (exitCode !== null && exitCode !== 0) {
        throw new ProviderError(
          'PROVIDER_UNAVAILABLE',
          `The local runtime exited with code ${exitCode} while starting.`,
          {
            hint: `Read ${this.#paths.logFile} for the reason, then check with \`airlock local status\`.`,
            details: {
              home: this.#paths.home,
              logFile: this.#paths.logFile,
              logTail: await readLogTail(this.#paths.logFile, 0, 20),
            },
          },
        );
      }
    }
    throw new ProviderError(
      'PROVIDER_UNAVAILABLE',
      `The local runtime did not start within ${Math.round(this.#startTimeoutMs / 1000)} s.`,
      {
        hint: `Read ${this.#paths.logFile} for the reason, then check with \`airlock local status\`.`,
        details: { home: this.#paths.home, logFile: this.#paths.logFile },
      },
    );
  }

  /**
   * `GET /v1/status` of the running daemon.
   * @throws ProviderError `PROVIDER_UNAVAILABLE` when it is not running.
   */
  async status(): Promise<RuntimeStatus> {
    return this.#json<RuntimeStatus>(await this.#requireInfo(), 'GET', '/v1/status');
  }

  /**
   * Deploys through the daemon (`POST /v1/deployments`), passing each progress line to
   * `options.onProgress`. Aborting `options.signal` closes the request: before the switch the
   * daemon stops the candidate and the old release keeps serving.
   * @throws ProviderError with the daemon's code (`HEALTH_TIMEOUT`, `APP_EXITED`, `PORT_IN_USE`,
   *   `DEPLOY_ABORTED`, …), `DEPLOY_ABORTED` when `signal` aborted, `PROVIDER_UNAVAILABLE` when the
   *   daemon is not running or the stream broke off.
   */
  async deploy(deployment: ProcessDeployment, options: DeployOptions = {}): Promise<DeployOutcome> {
    const info = await this.#requireInfo();
    const { signal } = options;
    const aborted = () =>
      new ProviderError(
        'DEPLOY_ABORTED',
        `The deployment of ${deployment.service} ${deployment.release.id} to ${deployment.environment} was aborted.`,
        {
          hint: `If traffic had not switched yet, the previous release keeps serving; check with \`airlock status\`.`,
          details: {
            environment: deployment.environment,
            service: deployment.service,
            release: deployment.release.id,
          },
        },
      );
    if (signal?.aborted) throw aborted();
    let raw: RawResponse;
    try {
      raw = await this.#request(info, 'POST', '/v1/deployments', deployment, signal);
    } catch (error) {
      if (signal?.aborted) throw aborted();
      throw error;
    }
    if (raw.status !== 200) throw await this.#errorOf(raw);
    let buffer = '';
    try {
      for await (const chunk of raw.response) {
        buffer += (chunk as Buffer).toString('utf8');
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          const line = buffer.slice(0, newline).trim();
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
          if (!line) continue;
          const message = JSON.parse(line) as {
            progress?: string;
            result?: DeployOutcome;
            error?: SerializedError;
          };
          if (message.progress !== undefined) options.onProgress?.(message.progress);
          if (message.result) return message.result;
          if (message.error) throw providerErrorFrom(message.error);
        }
      }
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (signal?.aborted) throw aborted();
      throw this.#unavailable(
        `The connection to the local runtime broke during the deployment: ${(error as Error).message}`,
      );
    }
    if (signal?.aborted) throw aborted();
    throw this.#unavailable('The local runtime ended the deployment stream without a result.');
  }

  /** `GET /v1/environments/:env/services/:service?port=N`. */
  async describe(environment: string, service: string, port: number): Promise<ServiceState> {
    return this.#json<ServiceState>(
      await this.#requireInfo(),
      'GET',
      `/v1/environments/${encodeURIComponent(environment)}/services/${encodeURIComponent(service)}?port=${port}`,
    );
  }

  /**
   * `POST /v1/environments/:env/services/:service/lease`: renews (by `ms`, default the lease's
   * own length) or confirms the "checks pending" lease of `release` (see `LocalRuntime.checksLease`).
   * @throws ProviderError `PROVIDER_UNAVAILABLE` when the runtime is not running.
   */
  async checksLease(
    environment: string,
    service: string,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): Promise<ChecksLeaseState> {
    return this.#json<ChecksLeaseState>(
      await this.#requireInfo(),
      'POST',
      `/v1/environments/${encodeURIComponent(environment)}/services/${encodeURIComponent(service)}/lease`,
      { release, action, ...(ms !== undefined ? { ms } : {}) },
    );
  }

  /** `POST /v1/environments/:env/stop`: stops everything the runtime runs for an environment. */
  async stopEnvironment(environment: string): Promise<void> {
    await this.#json(
      await this.#requireInfo(),
      'POST',
      `/v1/environments/${encodeURIComponent(environment)}/stop`,
    );
  }

  /**
   * Stops the daemon gracefully (`POST /v1/shutdown`) and waits until its pid (and its watchdog's) is gone. No-op
   * when it is not running.
   * @throws ProviderError `PROVIDER_UNAVAILABLE` when it is still alive after `shutdownTimeoutMs`.
   */
  async shutdown(): Promise<void> {
    const info = await this.#liveInfo();
    this.#answered = null;
    if (!info) return;
    try {
      await this.#json(info, 'POST', '/v1/shutdown');
    } catch {
      // it may already be going away; wait for the pid below
    }
    const deadline = Date.now() + this.#shutdownTimeoutMs;
    // The watchdog ends with the daemon's clean exit.
    while (isProcessAlive(info.pid) || (info.watchdogPid && isProcessAlive(info.watchdogPid))) {
      if (Date.now() >= deadline) {
        throw this.#unavailable(
          `The local runtime (pid ${info.pid}) did not stop within ${Math.round(this.#shutdownTimeoutMs / 1000)} s.`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  // ------------------------------------------------------------------ HTTP

  /**
   * The live daemon's runtime.json, or null. Callers at the same moment (a page describing every
   * service of an environment at once) share one read and one ping.
   */
  #liveInfo(): Promise<RuntimeInfo | null> {
    this.#checking ??= this.#readLiveInfo().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #readLiveInfo(): Promise<RuntimeInfo | null> {
    const info = await readJsonFile<RuntimeInfo>(this.#paths.runtimeFile);
    if (info?.version !== 1 || !info.port || !info.token) return null;
    if (!isProcessAlive(info.pid)) return null;
    // One command asks several times in a row (describe, deploy, ...): the same daemon, alive,
    // that answered moments ago is not pinged again (a restarted one has another pid and token).
    const daemon = `${info.pid}:${info.port}:${info.token}`;
    if (this.#answered?.daemon === daemon && performance.now() - this.#answered.at < LIVE_FOR_MS)
      return info;
    try {
      // Without the services' states: a ping, not a health probe of every app (a daemon of an
      // earlier version ignores the query and answers in full).
      const raw = await this.#request(
        info,
        'GET',
        '/v1/status?services=0',
        undefined,
        AbortSignal.timeout(3_000),
      );
      raw.response.resume();
      if (raw.status !== 200) return null;
      this.#answered = { daemon, at: performance.now() };
      return info;
    } catch {
      return null;
    }
  }

  /** runtime.json of a daemon whose pid is alive (not pinged: a dead port fails the request itself). */
  async #requireInfo(): Promise<RuntimeInfo> {
    const info = await readJsonFile<RuntimeInfo>(this.#paths.runtimeFile);
    if (info?.version !== 1 || !isProcessAlive(info.pid)) {
      throw this.#unavailable('The local runtime is not running.');
    }
    return info;
  }

  #unavailable(message: string): ProviderError {
    return new ProviderError('PROVIDER_UNAVAILABLE', message, {
      hint: 'airlock local status',
      details: { home: this.#paths.home, logFile: this.#paths.logFile },
    });
  }

  #request(
    info: RuntimeInfo,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const request = http.request(
        {
          host: '127.0.0.1',
          port: info.port,
          method,
          path,
          agent: false,
          signal,
          headers: {
            authorization: `Bearer ${info.token}`,
            connection: 'close',
            ...(payload !== undefined
              ? {
                  'content-type': 'application/json',
                  'content-length': String(Buffer.byteLength(payload)),
                }
              : {}),
          },
        },
        (response) => resolve({ status: response.statusCode ?? 0, response }),
      );
      request.on('error', (error) => {
        if (signal?.aborted) reject(error);
        else reject(this.#unavailable(`Cannot reach the local runtime: ${error.message}`));
      });
      request.end(payload);
    });
  }

  async #readBody(response: Http.IncomingMessage): Promise<string> {
    let text = '';
    for await (const chunk of response) text += (chunk as Buffer).toString('utf8');
    return text;
  }

  async #errorOf(raw: RawResponse): Promise<ProviderError> {
    const text = await this.#readBody(raw.response).catch(() => '');
    try {
      const parsed = JSON.parse(text) as { error?: SerializedError };
      if (parsed.error?.code) return providerErrorFrom(parsed.error);
    } catch {
      // not JSON
    }
    return this.#unavailable(
      `The local runtime answered HTTP ${raw.status}: ${text.slice(0, 200)}`,
    );
  }

  async #json<T>(
    info: RuntimeInfo,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<T> {
    const raw = await this.#request(info, method, path, body);
    if (raw.status !== 200) throw await this.#errorOf(raw);
    const text = await this.#readBody(raw.response);
    return JSON.parse(text) as T;
  }
}
