/**
 * Runs one of the user's provider commands (`sh -c`) in its own process group: optional input on
 * standard input (a secret's value: never argv, never the environment), stdout kept apart for
 * what Airlock parses (a URL line, describe's JSON), a scrubbed tail of all output for errors, a
 * timeout and an abort signal that stop the whole group. When the command exits, whatever it
 * left running in its process group is stopped too (as for builds and checks), so a command
 * that starts a long-running process must detach it into its own session (`setsid`).
 */
import { runShell } from '../../process/shell.ts';

export interface CommandRunOptions {
  cwd: string;
  /** The complete environment of the command. */
  env: NodeJS.ProcessEnv;
  /** Written to standard input, which is then closed. Default: an empty, closed stdin. */
  input?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Each output line (stdout and stderr), scrubbed, without its newline. */
  onLine?: (line: string) => void;
  /** Secrets masked (src/secrets/redact.ts) wherever output is kept or passed on. */
  scrub?: string[];
  /** After SIGTERM, SIGKILL the group this long later (ms). Default 2000. */
  killGraceMs?: number;
}

export interface CommandRunResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the shell could not start. */
  spawnError: string | null;
  /** Standard output (scrubbed), up to its last 1 MiB. */
  stdout: string;
  /** The last 20 lines of stdout and stderr interleaved (scrubbed). */
  tail: string[];
  durationMs: number;
}

const MAX_STDOUT = 1024 * 1024;
const TAIL_LINES = 20;

/** Runs `/bin/sh -c <command>` (see `runShell`). Never throws; inspect the result. */
export async function runCommand(
  command: string,
  options: CommandRunOptions,
): Promise<CommandRunResult> {
  const result = await runShell(command, {
    ...options,
    input: options.input ?? '',
    tailLines: TAIL_LINES,
    keepStdout: MAX_STDOUT,
  });
  const { output: _output, ...rest } = result;
  return rest;
}
