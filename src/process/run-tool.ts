/**
 * Runs a known program (git, a platform CLI such as flyctl or wrangler, squawk, pg_dump and
 * psql, a package manager's `--version`) with its arguments as an array, never through a shell:
 * standard output kept for the caller to parse, standard error and every line passed on masked
 * with `redact` (src/secrets/redact.ts), secret values on standard input only, and a timeout or
 * an abort that stops it (its whole process group when it runs in one). Never throws: the
 * result says how it ended, and the caller turns that into its own error.
 *
 * The other ways Airlock starts a process: a user's shell command (`shell.ts`) and a long-lived
 * child writing to a log file (`background.ts`). Nothing outside `src/process/` imports
 * `node:child_process` (biome.json).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { redact, redactForms, secretForms } from '../secrets/redact.ts';
import { guardGroup } from './group-guard.ts';

/** One run of a program. Times in ms, sizes in characters. */
export interface ToolRun {
  /** The program: a name looked up on PATH, or a path. */
  command: string;
  args: readonly string[];
  /** Default: Airlock's working directory. */
  cwd?: string;
  /** Complete environment of the child. Default: Airlock's own (`process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Written to standard input, which is then closed (secret values travel here, never in argv).
   * Default: no standard input (`/dev/null`).
   */
  stdin?: string;
  /**
   * Start it as the leader of its own process group, so a timeout or an abort stops whatever it
   * started too (flyctl, wrangler and the Railway CLI start helpers). Default false: only the
   * program itself is signalled.
   */
  ownGroup?: boolean;
  /** Stop it after this long (SIGTERM, then SIGKILL after `killGraceMs`). Default: no limit. */
  timeoutMs?: number;
  /** Stop it when aborted (as a timeout does); the result says `aborted`. */
  signal?: AbortSignal;
  /** After SIGTERM, SIGKILL this long later. Default 2000. */
  killGraceMs?: number;
  /** Each output line (stdout and stderr, ANSI colours removed), masked, without its newline. */
  onLine?: (line: string) => void;
  /** Last lines (stdout and stderr, masked) kept in `tail`. Default 0. */
  tailLines?: number;
  /** Secret values masked in `stderr`, `tail`, every line passed on and `spawnError`. */
  redact?: readonly string[];
  /** Standard output kept at most; more is dropped and `stdoutTruncated` set. Default 64 MiB. */
  maxStdout?: number;
  /** Standard error kept at most; more is dropped. Default 64 MiB. */
  maxStderr?: number;
}

/** How a program ran. */
export interface ToolResult {
  /** Set when it could not start: Node's code (`ENOENT`: not found, `EACCES`, …) and message (masked). */
  spawnError: { code: string | null; message: string } | null;
  /** Exit code, or null when it did not start or was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Standard output as written, NOT masked (what the caller parses): never log it whole. */
  stdout: string;
  /** True when standard output went past `maxStdout` and its end was dropped. */
  stdoutTruncated: boolean;
  /** Standard error, masked (a failed start's message appended). */
  stderr: string;
  /** The last `tailLines` output lines, masked. */
  tail: string[];
  aborted: boolean;
  timedOut: boolean;
  durationMs: number;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;
/** ANSI colour codes, which some CLIs (wrangler) write even without a terminal. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

interface Wiring {
  /** Pipe standard output into this child's standard input instead of keeping it. */
  stdoutTo?: ChildProcess;
  /** Take standard input from a pipe (`stdoutTo` of another run). */
  stdinPiped?: boolean;
}

function launch(run: ToolRun, wiring: Wiring = {}): Promise<ToolResult> & { child: ChildProcess } {
  const started = performance.now();
  const forms = secretForms(run.redact ?? []);
  const mask = (text: string) => (forms.length ? redactForms(text, forms) : text);
  const keepTail = run.tailLines ?? 0;
  const splitLines = keepTail > 0 || run.onLine !== undefined;
  const maxStdout = run.maxStdout ?? DEFAULT_MAX_OUTPUT;
  const maxStderr = run.maxStderr ?? DEFAULT_MAX_OUTPUT;
  const tail: string[] = [];
  let stdout = '';
  let stdoutTruncated = false;
  let stderr = '';
  const partial = { out: '', err: '' };
  const push = (line: string) => {
    const shown = mask(line.replace(ANSI, ''));
    if (keepTail > 0) {
      tail.push(shown);
      if (tail.length > keepTail) tail.shift();
    }
    run.onLine?.(shown);
  };
  const decoders = { out: new StringDecoder('utf8'), err: new StringDecoder('utf8') };
  const take = (which: 'out' | 'err', text: string) => {
    if (which === 'out') {
      if (stdout.length < maxStdout) stdout += text;
      else stdoutTruncated = true;
    } else if (stderr.length < maxStderr) stderr += text;
    if (!splitLines) return;
    const lines = (partial[which] + text).split(/\r?\n/);
    partial[which] = lines.pop() ?? '';
    for (const line of lines) push(line);
  };

  const stdinMode = wiring.stdinPiped ? 'pipe' : run.stdin === undefined ? 'ignore' : 'pipe';
  const child = spawn(run.command, [...run.args], {
    ...(run.cwd !== undefined ? { cwd: run.cwd } : {}),
    env: (run.env ?? process.env) as NodeJS.ProcessEnv,
    stdio: [stdinMode, 'pipe', 'pipe'],
    detached: run.ownGroup ?? false,
  });
  // A platform CLI in a group of its own would outlive a killed Airlock: guarded.
  const unguard = run.ownGroup && child.pid !== undefined ? guardGroup(child.pid) : () => {};
  if (wiring.stdoutTo?.stdin) {
    child.stdout?.pipe(wiring.stdoutTo.stdin);
    // The reader stopping early closes its stdin under this one: not the error to report.
    wiring.stdoutTo.stdin.on('error', () => {});
  } else {
    child.stdout?.on('data', (chunk: Buffer) => take('out', decoders.out.write(chunk)));
  }
  child.stderr?.on('data', (chunk: Buffer) => take('err', decoders.err.write(chunk)));
  if (child.stdin && !wiring.stdinPiped) {
    // A program may exit before reading its input; its exit code tells what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(run.stdin ?? '');
  }

  const result = new Promise<ToolResult>((resolve) => {
    let settled = false;
    let aborted = false;
    let timedOut = false;
    let spawnError: ToolResult['spawnError'] = null;
    const kill = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        if (run.ownGroup) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), run.killGraceMs ?? 2_000).unref();
    };
    const onAbort = () => {
      aborted = true;
      stop();
    };
    run.signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      run.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, run.timeoutMs)
        : undefined;
    timer?.unref();
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      unguard();
      if (timer) clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      take('out', decoders.out.end());
      take('err', decoders.err.end());
      if (splitLines) {
        for (const which of ['out', 'err'] as const) {
          if (partial[which]) push(partial[which]);
          partial[which] = '';
        }
      }
      resolve({
        spawnError,
        exitCode,
        signal,
        stdout,
        stdoutTruncated,
        stderr: mask(stderr),
        tail,
        aborted: aborted || Boolean(run.signal?.aborted),
        timedOut,
        durationMs: performance.now() - started,
      });
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = { code: error.code ?? null, message: mask(error.message) };
      if (error.code !== 'ENOENT') {
        stderr += `${error.message}\n`;
        if (splitLines) push(error.message);
      }
      if (child.pid === undefined) {
        // The reader of a pipe whose writer never started gets an empty input, not a wait.
        wiring.stdoutTo?.stdin?.end();
        // Failing to start emits no 'close' of the streams that never opened.
        finish(null, null);
      }
    });
    child.on('close', (code, signal) => finish(code, signal));
    if (run.signal?.aborted) onAbort();
  });
  return Object.assign(result, { child });
}

/** Runs `run.command` once. Never throws; read the result. */
export function runTool(run: ToolRun): Promise<ToolResult> {
  return launch(run);
}

/**
 * Runs two programs as `first | second` (pg_dump's dump into psql): `first`'s standard output is
 * the standard input of `second` (so `first.stdin` and `second.stdin` are not used and
 * `first`'s `stdout` is empty). Never throws.
 * @returns both results, in that order.
 */
export async function runToolPipe(
  first: ToolRun,
  second: ToolRun,
): Promise<[ToolResult, ToolResult]> {
  const reader = launch(second, { stdinPiped: true });
  const writer = launch(first, { stdoutTo: reader.child });
  return Promise.all([writer, reader]);
}

/** How a program run with {@link runToolSync} ended. */
export interface ToolSyncResult {
  /** Set when it could not start (`ENOENT`: not found) or was stopped by `timeoutMs` (`ETIMEDOUT`). */
  spawnError: { code: string | null; message: string } | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Standard output as written. */
  stdout: string;
  /** Standard error, masked with `redact`. */
  stderr: string;
}

/**
 * Runs a short program and waits for it, blocking Airlock (for `airlock init`'s `<pm> --version`
 * and the demo's git commits, which run before anything else happens). Argv as an array, no
 * standard input; SIGTERM to the program (not a group) after `timeoutMs`. Never throws.
 */
export function runToolSync(
  run: Pick<ToolRun, 'command' | 'args' | 'cwd' | 'env' | 'timeoutMs' | 'redact'>,
): ToolSyncResult {
  const result = spawnSync(run.command, [...run.args], {
    ...(run.cwd !== undefined ? { cwd: run.cwd } : {}),
    env: (run.env ?? process.env) as NodeJS.ProcessEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: DEFAULT_MAX_OUTPUT,
    ...(run.timeoutMs !== undefined ? { timeout: run.timeoutMs } : {}),
  });
  const error = result.error as NodeJS.ErrnoException | undefined;
  return {
    spawnError: error
      ? { code: error.code ?? null, message: redact(error.message, run.redact ?? []) }
      : null,
    exitCode: result.status,
    signal: result.signal,
    stdout: result.stdout ?? '',
    stderr: redact(result.stderr ?? '', run.redact ?? []),
  };
}
