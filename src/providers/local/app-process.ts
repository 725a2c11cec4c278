/**
 * One app process run by the local runtime: spawned with `/bin/sh -c 'exec <run>'` as the leader
 * of its own process group, output appended to its log file, health-probed over HTTP on
 * 127.0.0.1, stopped with SIGTERM then SIGKILL (Kamal's `docker stop -t`), and counting the
 * requests the proxy has in flight to it so a switch can drain it (kamal-proxy's drain).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type * as Http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type BackgroundProcess, startBackground } from '../../process/background.ts';
import { BASIC_ENV_KEYS } from '../../process/child-env.ts';
import type { ProcessDeployment } from '../provider.ts';
import { readLocalSecrets } from './local-secrets.ts';
import { explainingTail } from './log-tail.ts';
import { isProcessAlive, signalProcessGroup } from './runtime-files.ts';

/** How often (ms) an adopted process (not our child: no exit event) is checked for life. */
const ADOPTED_POLL_MS = 50;

/** node:http without its ESM facade, whose lazy WebSocket exports load undici (~25 ms per CLI start). */
const http: typeof Http = process.getBuiltinModule('node:http');

/** How an app process ended. */
export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
}

/**
 * The environment of an app process: a safe base of the runtime's own environment (PATH, HOME,
 * LANG, TZ, …; never NODE_OPTIONS or secrets of the shell), then `d.env`, then the secrets file,
 * then `PORT` and
 * `AIRLOCK_RUNTIME_HOME` (which marks the process as ours for `restore()`).
 */
export function appEnvironment(
  deployment: ProcessDeployment,
  port: number,
  home: string,
): Record<string, string> {
  const env: Record<string, string> = {};
  // Of the CLI's own environment an app inherits only the basics; everything else comes from `d.env`.
  for (const key of BASIC_ENV_KEYS) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  Object.assign(env, deployment.env);
  if (deployment.secretsFile) Object.assign(env, readLocalSecrets(deployment.secretsFile));
  env.PORT = String(port);
  env.AIRLOCK_RUNTIME_HOME = home;
  return env;
}

/** Finds a free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function findFreePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('could not read a free port');
  return address.port;
}

/**
 * GET `http://127.0.0.1:<port><path>` once, without keep-alive.
 * @returns the status code, or the error code (`ECONNREFUSED`, `TIMEOUT`, …) when no answer came.
 */
export function probeHttp(
  port: number,
  probePath: string,
  timeoutMs: number,
): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.get(
      { host: '127.0.0.1', port, path: probePath, agent: false, headers: { connection: 'close' } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.setTimeout(timeoutMs, () => {
      request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' }));
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/**
 * Returns the end of a file from byte `fromOffset` on (reads at most its last 64 KiB): its last
 * `maxLines` lines, with repeated blocks collapsed and the line that starts the entry they are
 * part of (an error's first line) above them ({@link explainingTail}).
 */
export async function readLogTail(file: string, fromOffset = 0, maxLines = 20): Promise<string> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(file, 'r');
    const { size } = await handle.stat();
    const start = Math.max(fromOffset, size - 64 * 1024);
    const length = Math.max(0, size - start);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, start);
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    // Read from the middle of the file: the first line is cut (a secret in it could be cut too,
    // and then no longer masked), so it is left out.
    const truncated = start > fromOffset;
    if (truncated) lines.shift();
    return explainingTail(lines, maxLines, truncated).join('\n');
  } catch {
    return '';
  } finally {
    await handle?.close();
  }
}

/** Options of {@link AppProcess.spawn}. */
export interface SpawnAppOptions {
  deployment: ProcessDeployment;
  /** Absolute path of the Airlock home, exported to the app as `AIRLOCK_RUNTIME_HOME`. */
  home: string;
  /** Port the app must listen on (exported as `PORT`). */
  port: number;
  /** Log file the app's stdout and stderr are appended to. */
  logFile: string;
  /** Wall clock (ms since the epoch). */
  now: () => number;
}

/** A running (or finished) app process. */
export class AppProcess {
  readonly deployment: ProcessDeployment;
  readonly pid: number;
  readonly port: number;
  readonly logFile: string;
  /** Byte offset of the log file where this process's output starts. */
  readonly logOffset: number;
  /** When it was spawned (ms since the epoch, from the runtime's clock). */
  readonly startedAt: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Set once exited. */
  exit: ExitInfo | null = null;
  /** True once the runtime decided to stop it: its exit is not a crash. */
  stopping = false;
  /** Requests (and upgraded sockets) the proxy currently has in flight to this process. */
  inflight = 0;
  readonly #idleWaiters = new Set<() => void>();

  private constructor(
    options: SpawnAppOptions,
    pid: number,
    logOffset: number,
    exited: Promise<ExitInfo>,
  ) {
    this.deployment = options.deployment;
    this.port = options.port;
    this.logFile = options.logFile;
    this.startedAt = options.now();
    this.pid = pid;
    this.logOffset = logOffset;
    this.exited = exited;
    void exited.then((info) => {
      this.exit = info;
      this.inflight = 0;
      this.#notifyIdle();
    });
  }

  /** The release id this process runs. */
  get release(): string {
    return this.deployment.release.id;
  }

  /** `http://127.0.0.1:<port>`: where the proxy sends traffic. */
  get target(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Spawns `/bin/sh -c 'exec <run>'` in `artifactDir` as a process-group leader, with stdout and
   * stderr appended to `logFile` (0600).
   * @throws Error when the process could not be spawned at all (no pid).
   */
  static async spawn(options: SpawnAppOptions): Promise<AppProcess> {
    const { deployment } = options;
    await fsp.mkdir(path.dirname(options.logFile), { recursive: true, mode: 0o700 });
    const fd = fs.openSync(options.logFile, 'a', 0o600);
    let started: Promise<BackgroundProcess>;
    let logOffset: number;
    try {
      fs.writeSync(
        fd,
        `--- airlock: starting ${deployment.service} ${deployment.release.id} ` +
          `(${deployment.environment}) on port ${options.port} at ${new Date(options.now()).toISOString()}\n`,
      );
      logOffset = fs.fstatSync(fd).size;
      started = startBackground({
        command: '/bin/sh',
        args: ['-c', `exec ${deployment.run}`],
        cwd: deployment.artifactDir,
        env: appEnvironment(deployment, options.port, options.home),
        outputFd: fd,
      });
    } finally {
      fs.closeSync(fd);
    }
    const { pid, exited } = await started;
    return new AppProcess(options, pid, logOffset, exited);
  }

  /**
   * Takes over a live app process a previous daemon started (it survived that daemon's death:
   * apps are group leaders writing to their own log file). Not being its parent, the runtime
   * learns of its exit by polling (every 50 ms); its exit code is then unknown (null).
   */
  static adopt(options: SpawnAppOptions & { pid: number; logOffset: number }): AppProcess {
    const exited = new Promise<ExitInfo>((resolve) => {
      const timer = setInterval(() => {
        if (isProcessAlive(options.pid)) return;
        clearInterval(timer);
        resolve({ exitCode: null, signal: null });
      }, ADOPTED_POLL_MS);
    });
    return new AppProcess(options, options.pid, options.logOffset, exited);
  }

  /** One health probe of `path` (default: the deployment's health path). True on HTTP 200. */
  async isHealthy(timeoutMs = 1000, probePath = this.deployment.health.path): Promise<boolean> {
    if (this.exit) return false;
    return (await probeHttp(this.port, probePath, timeoutMs)) === 200;
  }

  /** Counts a request the proxy sends to this process; call the returned function when it ends. */
  acquire(): () => void {
    this.inflight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inflight = Math.max(0, this.inflight - 1);
      if (this.inflight === 0) this.#notifyIdle();
    };
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.#idleWaiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      this.#idleWaiters.add(onIdle);
    });
  }

  #notifyIdle(): void {
    for (const waiter of [...this.#idleWaiters]) waiter();
  }

  /** Sends a signal to the process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.exit) return;
    signalProcessGroup(this.pid, signal);
  }

  /**
   * Stops the process: SIGTERM to its group, SIGKILL after `graceMs` (default: the deployment's
   * `stopTimeoutMs`). Resolves once it has exited. Marks the exit as expected (not a crash).
   */
  async stop(graceMs = this.deployment.stopTimeoutMs): Promise<ExitInfo> {
    this.stopping = true;
    if (this.exit) return this.exit;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(0, graceMs));
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.signal('SIGKILL');
    const info = await this.exited;
    // Leftover members of the group (children of the app) get no second chance.
    signalProcessGroup(this.pid, 'SIGKILL', false);
    return info;
  }

  /** The last lines (default 20) this process wrote to its log. */
  logTail(maxLines = 20): Promise<string> {
    return readLogTail(this.logFile, this.logOffset, maxLines);
  }
}
