/**
 * The local runtime's watchdog: the process `LocalRuntimeClient.ensureStarted()` starts. It runs
 * the daemon as its child and, when the daemon dies after it was up (`kill -9`, an out-of-memory
 * kill, a crash of Node itself), starts a new one at once, telling it when and how the old one
 * died (`AIRLOCK_RUNTIME_RECOVERED`). The app processes survive the daemon (each is the leader of
 * its own process group and writes to its own log file), and the new daemon adopts the healthy
 * ones instead of restarting them (`runtime-restore.ts`), so environments serve again as soon as
 * its proxies listen — without a boot — and it records the outage (`runtime.recovered`).
 *
 * Why a watchdog rather than proxies that outlive the daemon: the proxies, the crash supervisor
 * and the leases share one process's memory (which process serves, what is pending), so moving
 * the proxies out would need a second protocol between them; a parent that restarts the daemon
 * keeps one owner of that state, and adoption keeps the gap to the daemon's start (well under 2 s).
 *
 * The daemon exiting 0 (a clean shutdown, or another daemon already runs for the home) ends the
 * watchdog with it; a daemon that fails before it was ever up ends it with the daemon's code (the
 * client reports the log). SIGTERM, SIGINT and SIGHUP are passed on to the daemon, which shuts
 * down gracefully. A daemon that dies within 2 s of coming up, more than 5 times within 60 s, is
 * a crash loop: the next start waits 5 s (no busy loop).
 */
import fs from 'node:fs';
import { type BackgroundExit, startBackground } from '../../process/background.ts';
import type { RuntimeInfo } from './runtime-files.ts';
import { runtimePaths } from './runtime-files.ts';

/** How the previous daemon died, as the watchdog passes it to the next one (JSON in the env). */
export interface RecoveredFrom {
  pid: number;
  /** ISO-8601 time the watchdog saw it die (null: unknown, found by a stale runtime.json). */
  diedAt: string | null;
  signal: string | null;
  exitCode: number | null;
  /** ISO-8601 time it had started. */
  startedAt: string | null;
}

/** The environment variable carrying a {@link RecoveredFrom} to a restarted daemon. */
export const RECOVERED_ENV = 'AIRLOCK_RUNTIME_RECOVERED';
/** The environment variable carrying the watchdog's pid to the daemon (for runtime.json). */
export const WATCHDOG_ENV = 'AIRLOCK_RUNTIME_WATCHDOG';

const LOOP_WINDOW_MS = 60_000;
/** A daemon that was up for less than this (ms) before it died counts toward a crash loop. */
const LOOP_EARLY_DEATH_MS = 2_000;
const LOOP_MAX_DEATHS = 5;
const LOOP_PAUSE_MS = 5_000;

/** Options of {@link runWatchdog}. */
export interface WatchdogOptions {
  /** The daemon entry file (run with `process.execPath`). */
  entry: string;
  /** Its arguments (`--home <home>`, …), without `--watchdog`. */
  args: string[];
  /** The Airlock home (to read runtime.json and log). */
  home: string;
}

function log(home: string, message: string): void {
  try {
    fs.appendFileSync(
      runtimePaths(home).logFile,
      `${new Date().toISOString()} [${process.pid} watchdog] ${message}\n`,
      { mode: 0o600 },
    );
  } catch {
    // never die of logging
  }
}

/** The runtime.json of daemon `pid`, if it got that far. */
function infoOf(home: string, pid: number): RuntimeInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(runtimePaths(home).runtimeFile, 'utf8')) as RuntimeInfo;
    return info.pid === pid ? info : null;
  } catch {
    return null;
  }
}

/**
 * Runs the watchdog in this process until the daemon ends for good; see the module comment.
 * Resolves with the exit code the watchdog process should exit with.
 */
export async function runWatchdog(options: WatchdogOptions): Promise<number> {
  const { home } = options;
  let child: number | null = null;
  let stopping = false;
  const deaths: number[] = [];
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      stopping = true;
      if (child !== null) process.kill(child, 'SIGTERM');
    });
  }
  let recovered: RecoveredFrom | null = null;
  for (;;) {
    const env: Record<string, string | undefined> = {
      ...process.env,
      [WATCHDOG_ENV]: String(process.pid),
    };
    if (recovered) env[RECOVERED_ENV] = JSON.stringify(recovered);
    else delete env[RECOVERED_ENV];
    let pid = -1;
    let exit: BackgroundExit;
    try {
      // Its output goes where the watchdog's goes (runtime.log, opened by the client).
      const started = await startBackground({
        command: process.execPath,
        args: [options.entry, ...options.args],
        cwd: process.cwd(),
        env,
        outputFd: 1,
      });
      pid = started.pid;
      child = pid;
      if (stopping) process.kill(pid, 'SIGTERM');
      exit = await started.exited;
    } catch (error) {
      log(home, `could not start the runtime: ${(error as Error).message}`);
      return 1;
    }
    child = null;
    const info = infoOf(home, pid);
    if (stopping || exit.exitCode === 0) return exit.exitCode ?? 0;
    if (!info) {
      // Never came up: the client reports why (its log); restarting would only repeat it.
      log(
        home,
        `the runtime (pid ${pid}) exited before it was up (code ${exit.exitCode}, signal ${exit.signal})`,
      );
      return exit.exitCode ?? 1;
    }
    const now = Date.now();
    log(
      home,
      `the runtime (pid ${pid}) died (code ${exit.exitCode}, signal ${exit.signal}); starting a new one`,
    );
    recovered = {
      pid,
      diedAt: new Date(now).toISOString(),
      signal: exit.signal,
      exitCode: exit.exitCode,
      startedAt: info.startedAt,
    };
    const upMs = now - Date.parse(info.startedAt);
    if (!(upMs >= LOOP_EARLY_DEATH_MS)) deaths.push(now);
    while (deaths.length && (deaths[0] as number) < now - LOOP_WINDOW_MS) deaths.shift();
    if (deaths.length > LOOP_MAX_DEATHS) {
      log(home, `${deaths.length} deaths within a minute: waiting ${LOOP_PAUSE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, LOOP_PAUSE_MS));
      if (stopping) return 0;
    }
  }
}
