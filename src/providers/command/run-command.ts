/**
 * Runs one of the user's provider commands (`sh -c`) in its own process group: optional input on
 * standard input (a secret's value: never argv, never the environment), stdout kept apart for
 * what Airlock parses (a URL line, describe's JSON), a scrubbed tail of all output for errors, a
 * timeout and an abort signal that stop the whole group. When the command exits, whatever it
 * left running in its process group is stopped too (as for builds and checks), so a command
 * that starts a long-running process must detach it into its own session (`setsid`).
 */
import { spawn } from 'node:child_process';

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
  /** Values replaced by `***` wherever output is kept or passed on. */
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

/** `text` with every value of `secrets` (non-empty) replaced by `***`. */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/** Runs `/bin/sh -c <command>`. Never throws; inspect the result. */
export function runCommand(command: string, options: CommandRunOptions): Promise<CommandRunResult> {
  const started = performance.now();
  // A multi-line value is also scrubbed line by line, since output is handled by line.
  const scrub = [
    ...new Set(
      (options.scrub ?? []).flatMap((s) => [
        s,
        ...(s.includes('\n') ? s.split(/\r?\n/).filter((l) => l.trim().length >= 6) : []),
      ]),
    ),
  ]
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length);
  const clean = (text: string) => (scrub.length ? scrubText(text, scrub) : text);
  const tail: string[] = [];
  let stdout = '';
  const partial = { out: '', err: '' };
  const push = (line: string) => {
    const cleaned = clean(line);
    tail.push(cleaned);
    if (tail.length > TAIL_LINES) tail.shift();
    options.onLine?.(cleaned);
  };
  const onData = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    if (stream === 'out') {
      stdout += text;
      if (stdout.length > MAX_STDOUT) stdout = stdout.slice(-MAX_STDOUT);
    }
    const lines = (partial[stream] + text).split(/\r?\n/);
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) push(line);
  };

  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    // A command that does not read its input must not fail on a closed pipe.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? 2000);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (code: number | null, sig: NodeJS.Signals | null, spawnError: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (partial.out) push(partial.out);
      if (partial.err) push(partial.err);
      resolve({
        exitCode: code,
        signal: sig,
        timedOut,
        aborted,
        spawnError: spawnError === null ? null : clean(spawnError),
        stdout: clean(stdout),
        tail,
        durationMs: Math.round(performance.now() - started),
      });
    };
    child.on('error', (error) => finish(null, null, error.message));
    child.on('exit', (code, sig) => {
      // Leftovers in the group would hold the pipes open: stop them.
      killGroup('SIGKILL');
      const drained = setTimeout(() => finish(code, sig, null), 500);
      child.once('close', () => {
        clearTimeout(drained);
        finish(code, sig, null);
      });
    });
  });
}
