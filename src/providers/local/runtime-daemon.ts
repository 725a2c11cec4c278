/**
 * The local runtime daemon: a small supervisor that outlives the CLI, holds the proxies and app
 * processes of every environment (a {@link LocalRuntime}), and answers a control API on
 * 127.0.0.1 with bearer-token auth. Started detached by `LocalRuntimeClient.ensureStarted()`:
 *
 *     node src/providers/local/runtime-daemon.ts --home <Airlock home>
 *
 * One instance per home (`local/runtime.pid`, created with O_EXCL; a stale one is replaced).
 * Writes `local/runtime.json` `{ pid, port, token, startedAt, version: 1 }` (0600) once the API
 * listens, then restores what state.json says was serving. Appends every RuntimeEvent to
 * `envs/<env>/events.jsonl`; its own log is `local/runtime.log`. SIGTERM, SIGINT or
 * `POST /v1/shutdown` stop every app process gracefully, remove runtime.json and the pid file.
 *
 * API (JSON; errors are `{ error: SerializedError }`):
 *   GET  /v1/status                                   → { pid, startedAt, restoring, services: ServiceState[] }
 *   GET  /v1/status?services=0                        → { pid, startedAt } (a liveness ping: no
 *                                                       health probe of every service)
 *   POST /v1/deployments  (body: ProcessDeployment)   → NDJSON: {"progress":…}* then {"result":DeployOutcome}
 *                                                       or {"error":SerializedError}; a client that
 *                                                       disconnects before the switch aborts the deploy
 *   GET  /v1/environments/:env/services/:service?port=N → ServiceState
 *   POST /v1/environments/:env/services/:service/lease  (body: { release, action: 'renew'|'confirm', ms? })
 *                                                     → ChecksLeaseState (see checks-lease.ts)
 *   POST /v1/environments/:env/stop                   → { ok: true }
 *   POST /v1/shutdown                                 → { ok: true, pid }
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { ProviderError, type SerializedError, toAirlockError, UserError } from '../../errors.ts';
import type { ProcessDeployment } from '../provider.ts';
import { LocalRuntime } from './local-runtime.ts';
import type { RuntimeEvent } from './runtime-events.ts';
import {
  isProcessAlive,
  type RuntimeInfo,
  readStateFile,
  runtimePaths,
  writeFileAtomic,
} from './runtime-files.ts';
import {
  RECOVERED_ENV,
  type RecoveredFrom,
  runWatchdog,
  WATCHDOG_ENV,
} from './runtime-watchdog.ts';

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** The project's Airlock home (`config/home.ts`). */
  home: string;
  /** Called for every RuntimeEvent after it is appended to `envs/<env>/events.jsonl`. */
  onEvent?: (event: RuntimeEvent) => void;
  /** Called once the restore at start finished (what served serves again), or failed. */
  onRestored?: () => void;
}

/** A started daemon. */
export interface RunningDaemon {
  pid: number;
  /** Control API port on 127.0.0.1. */
  port: number;
  token: string;
  startedAt: string;
  runtime: LocalRuntime;
  /** Graceful shutdown (idempotent): stops app processes, closes the API, removes runtime.json and the pid file. */
  close(): Promise<void>;
  /** Resolves once the daemon has shut down (by close(), a signal handler or POST /v1/shutdown). */
  closed: Promise<void>;
}

/** Appends a timestamped line to `<home>/local/runtime.log`. */
function makeLogger(logFile: string): (message: string) => void {
  return (message) => {
    try {
      fs.appendFileSync(logFile, `${new Date().toISOString()} [${process.pid}] ${message}\n`, {
        mode: 0o600,
      });
    } catch {
      // logging must never take the daemon down
    }
  };
}

/**
 * Takes the single-instance pid file (O_EXCL). A pid file whose process is dead is replaced; an
 * empty one (a daemon between create and write) counts as live for 5 s.
 * @throws ProviderError `RUNTIME_ALREADY_RUNNING` when another live daemon holds it.
 */
function acquirePidFile(pidFile: string): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const fd = fs.openSync(pidFile, 'wx', 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let content: string;
    let ageMs: number;
    try {
      content = fs.readFileSync(pidFile, 'utf8');
      ageMs = Date.now() - fs.statSync(pidFile).mtimeMs;
    } catch {
      continue; // removed in between: try to create it again
    }
    const pid = Number.parseInt(content, 10);
    const live = Number.isInteger(pid) ? pid !== process.pid && isProcessAlive(pid) : ageMs < 5_000;
    if (live) {
      throw new ProviderError(
        'RUNTIME_ALREADY_RUNNING',
        `The local runtime is already running for this project${Number.isInteger(pid) ? ` (pid ${pid})` : ''}.`,
        {
          hint: 'Use it as it is (`airlock local status`), or stop it first (`airlock local stop`).',
          details: { pid: Number.isInteger(pid) ? pid : null, pidFile },
        },
      );
    }
    // Stale: remove it only if nobody replaced it since we read it.
    try {
      if (fs.readFileSync(pidFile, 'utf8') === content) fs.unlinkSync(pidFile);
    } catch {
      // gone already
    }
  }
  throw new ProviderError('RUNTIME_ALREADY_RUNNING', 'Could not take the local runtime pid file.', {
    hint: `Another runtime is starting; retry, or remove ${pidFile} if no \`runtime-daemon\` process runs.`,
  });
}

/** Removes a file only if it still names this process (a newer daemon may own it by now). */
function removeIfOurs(file: string, matches: (content: string) => boolean): void {
  try {
    if (matches(fs.readFileSync(file, 'utf8'))) fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

function errorBody(error: unknown): { error: SerializedError } {
  return { error: toAirlockError(error).toJSON() };
}

/**
 * How the daemon before this one died, if it did not shut down cleanly: the watchdog says so
 * (`AIRLOCK_RUNTIME_RECOVERED`), else a runtime.json left behind by a dead pid tells (a clean
 * shutdown removes it; the time of death is then unknown).
 */
function previousDeath(runtimeFile: string): RecoveredFrom | null {
  const passed = process.env[RECOVERED_ENV];
  if (passed) {
    try {
      return JSON.parse(passed) as RecoveredFrom;
    } catch {
      // fall through to the file
    }
  }
  try {
    const stale = JSON.parse(fs.readFileSync(runtimeFile, 'utf8')) as RuntimeInfo;
    if (stale.pid === process.pid || isProcessAlive(stale.pid)) return null;
    return {
      pid: stale.pid,
      diedAt: null,
      signal: null,
      exitCode: null,
      startedAt: stale.startedAt ?? null,
    };
  } catch {
    return null;
  }
}

/**
 * Starts the daemon in this process: pid file, LocalRuntime, control API on 127.0.0.1:0,
 * runtime.json, then `runtime.restore()` in the background (deploys that arrive meanwhile are
 * serialized with it per service).
 * @throws ProviderError `RUNTIME_ALREADY_RUNNING`
 */
export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const paths = runtimePaths(options.home);
  // The home must exist: a daemon that starts late must not recreate a deleted project's dir.
  if (!fs.existsSync(paths.home)) {
    throw new ProviderError('PROVIDER_UNAVAILABLE', `${paths.home} does not exist.`, {
      hint: "Run Airlock from the project directory (the runtime lives in the project's Airlock home; `airlock home show` prints where).",
    });
  }
  fs.mkdirSync(paths.localDir, { recursive: true, mode: 0o700 });
  const log = makeLogger(paths.logFile);
  acquirePidFile(paths.pidFile);

  const startedAt = new Date().toISOString();
  // True until the restore at start has brought back what served (or given up on it).
  let restoring = true;
  const token = randomBytes(32).toString('hex');
  const recovered = previousDeath(paths.runtimeFile);
  const onEvent = (event: RuntimeEvent) => {
    try {
      fs.mkdirSync(paths.envDir(event.environment), { recursive: true, mode: 0o700 });
      fs.appendFileSync(paths.eventsFile(event.environment), `${JSON.stringify(event)}\n`, {
        mode: 0o600,
      });
    } catch (error) {
      log(`could not append an event: ${(error as Error).message}`);
    }
    if (event.type === 'process.crashed' || event.type === 'deploy.failed') {
      log(
        `${event.type} ${event.environment}/${event.service} ${event.release} ${JSON.stringify(event.details ?? {})}`,
      );
    }
    try {
      options.onEvent?.(event);
    } catch (error) {
      log(`onEvent hook failed: ${(error as Error).message}`);
    }
  };
  const runtime = new LocalRuntime({ home: paths.home, onEvent });

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let closing: Promise<void> | null = null;

  const app = new Hono();
  app.use(
    '/v1/*',
    bearerAuth({
      token,
      invalidToken: {
        message: {
          error: {
            kind: 'provider',
            code: 'PROVIDER_UNAVAILABLE',
            message: 'Invalid runtime token.',
          },
        },
      },
      noAuthenticationHeader: {
        message: {
          error: {
            kind: 'provider',
            code: 'PROVIDER_UNAVAILABLE',
            message: 'Missing runtime token.',
          },
        },
      },
    }),
  );

  app.get('/v1/status', async (c) =>
    c.req.query('services') === '0'
      ? c.json({ pid: process.pid, startedAt })
      : c.json({
          pid: process.pid,
          startedAt,
          restoring,
          services: await runtime.describeAll(),
        }),
  );

  app.post('/v1/deployments', async (c) => {
    let deployment: ProcessDeployment;
    try {
      deployment = await c.req.json<ProcessDeployment>();
    } catch {
      return c.json(
        errorBody(new UserError('USAGE', 'The request body must be a JSON ProcessDeployment.')),
        400,
      );
    }
    const abort = new AbortController();
    const requestSignal = c.req.raw.signal;
    const encoder = new TextEncoder();
    const label = `${deployment?.environment}/${deployment?.service} ${deployment?.release?.id}`;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        const send = (line: unknown) => {
          if (!open) return;
          try {
            controller.enqueue(encoder.encode(`${JSON.stringify(line)}\n`));
          } catch {
            open = false;
          }
        };
        const onDisconnect = () => {
          if (!abort.signal.aborted) log(`client of deploy ${label} disconnected`);
          abort.abort();
        };
        if (requestSignal.aborted) onDisconnect();
        else requestSignal.addEventListener('abort', onDisconnect, { once: true });
        send({ progress: `runtime ${process.pid} accepted the deployment of ${label}` });
        runtime
          .deploy(deployment, {
            signal: abort.signal,
            onProgress: (progress) => send({ progress }),
          })
          .then(
            (result) => send({ result }),
            (error) => send(errorBody(error)),
          )
          .finally(() => {
            requestSignal.removeEventListener('abort', onDisconnect);
            open = false;
            try {
              controller.close();
            } catch {
              // the client is gone
            }
          });
      },
      cancel() {
        abort.abort();
      },
    });
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'application/x-ndjson; charset=utf-8',
        'cache-control': 'no-store',
      },
    });
  });

  app.get('/v1/environments/:env/services/:service', async (c) => {
    const port = Number(c.req.query('port') ?? 0);
    return c.json(await runtime.describe(c.req.param('env'), c.req.param('service'), port));
  });

  app.post('/v1/environments/:env/services/:service/lease', async (c) => {
    const body = await c.req
      .json<{ release?: unknown; action?: unknown; ms?: unknown }>()
      .catch(() => ({}) as { release?: unknown; action?: unknown; ms?: unknown });
    if (
      typeof body.release !== 'string' ||
      (body.action !== 'renew' && body.action !== 'confirm') ||
      (body.ms !== undefined && typeof body.ms !== 'number')
    ) {
      return c.json(
        errorBody(
          new UserError(
            'USAGE',
            'The body must be { release: string, action: "renew" | "confirm", ms?: number }.',
          ),
        ),
        400,
      );
    }
    return c.json(
      runtime.checksLease(
        c.req.param('env'),
        c.req.param('service'),
        body.release,
        body.action,
        body.ms as number | undefined,
      ),
    );
  });

  app.post('/v1/environments/:env/stop', async (c) => {
    await runtime.stopEnvironment(c.req.param('env'));
    return c.json({ ok: true });
  });

  app.post('/v1/shutdown', (c) => {
    setImmediate(() => void close());
    return c.json({ ok: true, pid: process.pid });
  });

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    log(`request failed: ${error.stack ?? error.message}`);
    return c.json(errorBody(error), 500);
  });
  app.notFound((c) =>
    c.json(
      errorBody(new UserError('USAGE', `No such runtime endpoint: ${c.req.method} ${c.req.path}`)),
      404,
    ),
  );

  let server: ReturnType<typeof serve>;
  let port: number;
  try {
    ({ server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
      (resolve, reject) => {
        const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
          resolve({ server: s, port: info.port }),
        );
        s.once('error', reject);
      },
    ));
  } catch (error) {
    removeIfOurs(paths.pidFile, (content) => Number.parseInt(content, 10) === process.pid);
    throw error;
  }

  const watchdogPid = Number(process.env[WATCHDOG_ENV]);
  const info: RuntimeInfo = {
    pid: process.pid,
    port,
    token,
    startedAt,
    ...(Number.isInteger(watchdogPid) && watchdogPid === process.ppid ? { watchdogPid } : {}),
    version: 1,
  };
  await writeFileAtomic(paths.runtimeFile, `${JSON.stringify(info, null, 2)}\n`);
  log(`local runtime started (pid ${process.pid}, control port ${port}, home ${paths.home})`);

  const close = (): Promise<void> => {
    closing ??= (async () => {
      log('shutting down: stopping app processes');
      try {
        await runtime.shutdown();
      } catch (error) {
        log(`shutdown of the runtime failed: ${(error as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      removeIfOurs(paths.runtimeFile, (content) => {
        try {
          return (JSON.parse(content) as RuntimeInfo).pid === process.pid;
        } catch {
          return false;
        }
      });
      removeIfOurs(paths.pidFile, (content) => Number.parseInt(content, 10) === process.pid);
      log('local runtime stopped');
      resolveClosed();
    })();
    return closing;
  };

  const services = recovered ? (await readStateFile(paths.home)).services : [];
  void runtime
    .restore()
    .then(
      (result) => {
        if (recovered) {
          const back = Date.now();
          const diedAt = recovered.diedAt ? Date.parse(recovered.diedAt) : null;
          log(
            `recovered after runtime ${recovered.pid} died${recovered.signal ? ` (${recovered.signal})` : ''}; adopted ${result.adopted.join(', ') || 'no'} app processes`,
          );
          for (const record of services) {
            const id = `${record.environment}/${record.service}@${record.deployment.release.id}`;
            onEvent({
              at: new Date(back).toISOString(),
              type: 'runtime.recovered',
              environment: record.environment,
              service: record.service,
              release: record.deployment.release.id,
              pid: process.pid,
              details: {
                previousPid: recovered.pid,
                previousStartedAt: recovered.startedAt,
                diedAt: recovered.diedAt,
                signal: recovered.signal,
                servingAgainAt: new Date(back).toISOString(),
                // Until the proxies listened and the service was taken back (null: unknown death time).
                downMs: diedAt === null ? null : back - diedAt,
                servesAgain: result.restored.includes(id),
                adopted: result.adopted.includes(record.pid ?? -1),
              },
            });
          }
        }
        if (result.restored.length || result.failed.length || result.killedStale.length) {
          log(
            `restore: relaunched ${result.restored.join(', ') || 'nothing'}; ` +
              `stopped stale pids ${result.killedStale.join(', ') || 'none'}; ` +
              `failed ${result.failed.map((f) => `${f.environment}/${f.service} (${f.error.code})`).join(', ') || 'none'}`,
          );
        }
      },
      (error) => log(`restore failed: ${(error as Error).message}`),
    )
    .finally(() => {
      restoring = false;
      options.onRestored?.();
    });

  return { pid: process.pid, port, token, startedAt, runtime, close, closed };
}

/**
 * Runs this very entry file as a watchdog (`--watchdog`, see runtime-watchdog.ts) over a daemon
 * started with the same arguments minus `--watchdog`.
 * @returns the exit code for the watchdog process.
 */
export function watchdogOf(argv: string[], home: string): Promise<number> {
  return runWatchdog({
    entry: process.argv[1] as string,
    args: argv.filter((arg) => arg !== '--watchdog'),
    home,
  });
}

/**
 * Runs the daemon as a process entry: parses `--home <dir>`, starts it, logs uncaught errors
 * instead of dying, shuts down gracefully on SIGTERM/SIGINT/SIGHUP or `POST /v1/shutdown`, then
 * exits 0 (also 0 when another daemon already runs for the home; 1 on any other start failure,
 * 2 on bad arguments). A custom entry (say, one whose `onEvent` also writes the audit log) is
 * `await runDaemon(process.argv.slice(2), { onEvent })`, passed to the client as `daemonEntry`.
 */
export async function runDaemon(
  argv: string[] = process.argv.slice(2),
  options: Omit<DaemonOptions, 'home'> = {},
): Promise<never> {
  const { values } = parseArgs({
    args: argv,
    options: { home: { type: 'string' }, watchdog: { type: 'boolean' } },
    strict: true,
  });
  if (!values.home) {
    process.stderr.write('usage: node runtime-daemon.ts [--watchdog] --home <airlock-home>\n');
    process.exit(2);
  }
  const home = path.resolve(values.home);
  if (values.watchdog) {
    process.exit(await watchdogOf(argv, home));
  }
  const log = (message: string) => {
    if (fs.existsSync(runtimePaths(home).localDir)) makeLogger(runtimePaths(home).logFile)(message);
    else process.stderr.write(`${message}\n`);
  };
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({ ...options, home });
  } catch (error) {
    const airlockError = toAirlockError(error);
    log(`not starting: ${airlockError.message}`);
    process.exit(airlockError.code === 'RUNTIME_ALREADY_RUNNING' ? 0 : 1);
  }
  process.on('uncaughtException', (error) => log(`uncaught exception: ${error.stack ?? error}`));
  process.on('unhandledRejection', (reason) => log(`unhandled rejection: ${String(reason)}`));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      log(`received ${signal}`);
      void daemon.close();
    });
  }
  await daemon.closed;
  process.exit(0);
}
