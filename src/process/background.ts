/**
 * Starts a long-lived child that outlives the call that started it: the local runtime's app
 * processes (supervised by the runtime through their pid: health probes, SIGTERM then SIGKILL
 * to the group) and the runtime daemon itself (detached from the command that started it). The
 * child leads its own process group, has no standard input, and writes stdout and stderr to a
 * file the caller opened (its log), so nothing of it passes through Airlock's memory.
 *
 * The other ways Airlock starts a process: a known program run to completion (`run-tool.ts`)
 * and a user's shell command (`shell.ts`).
 */
import { spawn } from 'node:child_process';

/** How a background process ended. */
export interface BackgroundExit {
  /** Exit code, or null when killed by a signal or when it never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

/** What to start. */
export interface BackgroundStart {
  /** The program: a name looked up on PATH, or a path (`/bin/sh`, `process.execPath`). */
  command: string;
  args: readonly string[];
  cwd: string;
  /** Complete environment of the child. */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * An open file descriptor (opened for appending) that receives stdout and stderr. The child
   * gets its own copy at once: the caller may close this one as soon as the call returns.
   */
  outputFd: number;
  /**
   * Let Airlock exit while the child runs (a daemon that outlives the command). Default false:
   * Airlock's event loop waits for it.
   */
  unref?: boolean;
}

/** A started background process. */
export interface BackgroundProcess {
  pid: number;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<BackgroundExit>;
}

/**
 * Spawns `start.command` as the leader of a new process group (a new session, `setsid`), with
 * stdout and stderr on `start.outputFd`. Signal the whole group with `process.kill(-pid, …)`.
 * The spawn itself happens before this returns, so `outputFd` may be closed right after.
 * @throws the spawn error (e.g. ENOENT, EACCES) when the process could not be started.
 */
export function startBackground(start: BackgroundStart): Promise<BackgroundProcess> {
  const child = spawn(start.command, [...start.args], {
    cwd: start.cwd,
    env: start.env as NodeJS.ProcessEnv,
    stdio: ['ignore', start.outputFd, start.outputFd],
    detached: true,
  });
  if (start.unref) child.unref();
  const exited = new Promise<BackgroundExit>((resolve) => {
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
    child.once('error', () => {
      if (child.pid === undefined) resolve({ exitCode: null, signal: null });
    });
  });
  const pid = child.pid;
  if (pid === undefined) return new Promise((_, reject) => child.once('error', reject));
  return Promise.resolve({ pid, exited });
}
