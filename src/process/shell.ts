/**
 * Runs a user's shell command (a build, an E2E suite) in its own process group, streaming its
 * output by line, keeping a tail, optionally appending everything to a log file, and killing the
 * whole group on timeout or abort so nothing is left running. A small guard ends the group too
 * when Airlock itself dies without a chance to (`kill -9`, a second Ctrl-C, a crash).
 *
 * The other ways Airlock starts a process: a known program run with argv (`run-tool.ts`) and a
 * long-lived child writing to a log file (`background.ts`).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { redactForms, secretForms } from '../secrets/redact.ts';
import { guardGroup } from './group-guard.ts';

export interface ShellOptions {
  cwd: string;
  /** Complete environment of the command. */
  env: NodeJS.ProcessEnv;
  /** Kill the command after this long (ms). Default: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Each output line (stdout and stderr interleaved), without its newline. */
  onLine?: (line: string) => void;
  /** Append all output to this file. */
  logFile?: string;
  /** Lines kept in `tail`. Default 20. */
  tailLines?: number;
  /**
   * Also keep the raw output as written (stdout and stderr interleaved), up to its last this
   * many characters, in `output`. Default 0: `output` is empty.
   */
  keepOutput?: number;
  /** After SIGTERM, SIGKILL the group this long later (ms). Default 2000. */
  killGraceMs?: number;
  /**
   * Written to standard input, which is then closed (a secret's value: never argv, never the
   * environment). Default: no standard input.
   */
  input?: string;
  /**
   * Secrets masked (`redact` of src/secrets/redact.ts) wherever output is kept or passed on (lines,
   * tail, log file, output, stdout, errors).
   */
  scrub?: readonly string[];
  /** Also keep standard output alone (what a caller parses), up to its last this many characters. Default 0. */
  keepStdout?: number;
}

export interface ShellResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** Set when the shell could not start at all. */
  spawnError: string | null;
  /** Last `tailLines` lines of output. */
  tail: string[];
  /** The last `keepOutput` characters of output, as written. */
  output: string;
  /** The last `keepStdout` characters of standard output. */
  stdout: string;
  durationMs: number;
}

/** A line longer than this is passed on in pieces, so output without newlines cannot grow memory. */
const MAX_LINE_CHARS = 64 * 1024;

/** Runs `/bin/sh -c <command>`. Never throws; inspect the result. */
export function runShell(command: string, options: ShellOptions): Promise<ShellResult> {
  const started = performance.now();
  const keep = options.tailLines ?? 20;
  const tail: string[] = [];
  const keepOutput = options.keepOutput ?? 0;
  const keepStdout = options.keepStdout ?? 0;
  const scrub = secretForms(options.scrub ?? []);
  const clean = (text: string) => (scrub.length ? redactForms(text, scrub) : text);
  let output = '';
  let stdout = '';
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const partial = { out: '', err: '' };
  const push = (line: string) => {
    const cleaned = clean(line);
    tail.push(cleaned);
    if (tail.length > keep) tail.shift();
    options.onLine?.(cleaned);
  };
  // Each stream is split into lines on its own, so interleaved writes never mix inside a line.
  const onData = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const decoded = chunk.toString('utf8');
    log?.write(scrub.length ? clean(decoded) : chunk);
    if (keepOutput > 0) {
      output += decoded;
      if (output.length > keepOutput) output = output.slice(-keepOutput);
    }
    if (stream === 'out' && keepStdout > 0) {
      stdout += decoded;
      if (stdout.length > keepStdout) stdout = stdout.slice(-keepStdout);
    }
    const lines = (partial[stream] + decoded).split(/\r?\n/);
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) push(line);
    while (partial[stream].length > MAX_LINE_CHARS) {
      push(partial[stream].slice(0, MAX_LINE_CHARS));
      partial[stream] = partial[stream].slice(MAX_LINE_CHARS);
    }
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
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const unguard = child.pid === undefined ? () => {} : guardGroup(child.pid);
    child.stdout?.on('data', onData('out'));
    child.stderr?.on('data', onData('err'));
    if (child.stdin) {
      // A command that does not read its input must not fail on a closed pipe.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input ?? '');
    }
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
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (
      exitCode: number | null,
      sig: NodeJS.Signals | null,
      spawnError: string | null,
    ) => {
      if (settled) return;
      settled = true;
      unguard();
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (partial.out) push(partial.out);
      if (partial.err) push(partial.err);
      log?.end();
      resolve({
        exitCode,
        signal: sig,
        timedOut,
        aborted,
        spawnError: spawnError === null ? null : clean(spawnError),
        tail,
        output: clean(output),
        stdout: clean(stdout),
        durationMs: Math.round(performance.now() - started),
      });
    };
    child.on('error', (error) => finish(null, null, error.message));
    child.on('exit', (code, sig) => {
      // Leftovers (something started with `&`) would hold the pipes open: end them.
      killGroup('SIGKILL');
      const drained = setTimeout(() => finish(code, sig, null), 500);
      child.once('close', () => {
        clearTimeout(drained);
        finish(code, sig, null);
      });
    });
  });
}
