/**
 * The project's own wrangler, run as a child process: found the way `npx` finds it (the nearest
 * `node_modules/.bin/wrangler` above the service folder, then PATH), started with argv as an
 * array (never a shell), secret values only on stdin, its output masked (the API token and any
 * secret value) before a line reaches a log, a progress message or an error.
 *
 * wrangler's machine-readable output is read from `WRANGLER_OUTPUT_FILE_PATH` (ND-JSON entries
 * such as `{"type":"deploy","version_id":…,"targets":[…]}` and `{"type":"command-failed",…}`),
 * the interface Cloudflare's own CI integrations use, rather than from its human output.
 */
import { realpathSync, statSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ProviderError } from '../../errors.ts';
import { redact } from '../../secrets/redact.ts';
import { runCli } from '../platform-cli.ts';

/** How to start wrangler: `command` with `prefix` before wrangler's own arguments. */
export interface WranglerBin {
  command: string;
  prefix: string[];
  /** Where it was found (for messages). */
  found: string;
}

/** One entry of wrangler's output file (see `writeOutput` in wrangler's source). */
export interface WranglerOutputEntry {
  type: string;
  [key: string]: unknown;
}

export interface WranglerRun {
  args: string[];
  cwd: string;
  /** Complete environment of the child (the provider's environment plus overrides). */
  env: Readonly<Record<string, string | undefined>>;
  /** Written to stdin, then closed. Secret values travel only here. */
  stdin?: string;
  signal?: AbortSignal;
  /** Stop the process group after this long (ms). */
  timeoutMs?: number;
  /** Each output line, masked. */
  onLine?: (line: string) => void;
  /** Values masked wherever output goes (the API token is always masked). */
  redact?: string[];
  /** Append the masked output here, after a header naming the command. */
  logFile?: string;
}

export interface WranglerResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout as written (for JSON); never log it whole without `mask`. */
  stdout: string;
  /** The last lines of stdout and stderr, masked. */
  tail: string[];
  /** Entries wrangler wrote to its output file. */
  output: WranglerOutputEntry[];
  timedOut: boolean;
  aborted: boolean;
  spawnError: string | null;
  durationMs: number;
}

function executable(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the project's wrangler: the nearest `node_modules/.bin/wrangler` from `fromDir` up to
 * the filesystem root, then `wrangler` on PATH. A JavaScript entry point runs with this Node.
 * @throws ProviderError `PROVIDER_UNAVAILABLE` when there is none.
 */
export function findWrangler(
  fromDir: string,
  env: Readonly<Record<string, string | undefined>>,
): WranglerBin {
  const candidates: string[] = [];
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    candidates.push(path.join(dir, 'node_modules', '.bin', 'wrangler'));
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean))
    candidates.push(path.join(dir, 'wrangler'));
  for (const file of candidates) {
    if (!executable(file)) continue;
    const real = realpathSync(file);
    if (/\.[cm]?js$/.test(real)) return { command: process.execPath, prefix: [real], found: file };
    return { command: file, prefix: [], found: file };
  }
  throw new ProviderError('PROVIDER_UNAVAILABLE', `wrangler is not installed for ${fromDir}.`, {
    hint: 'Install it in the project (`npm install --save-dev wrangler`): Airlock runs the project’s own wrangler, as `npx wrangler` would.',
  });
}

/** The variables every wrangler run gets: no colours, no telemetry prompt, no update banner noise. */
export function wranglerBaseEnv(): Record<string, string> {
  return { FORCE_COLOR: '0', NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false' };
}

/**
 * Runs wrangler once, through the platform CLI runner (`runCli`: its own process group, masked
 * lines, timeout and abort), reading the entries wrangler writes to its output file. Never
 * throws for a failed command; see `wranglerFailure`.
 */
export async function runWrangler(bin: WranglerBin, run: WranglerRun): Promise<WranglerResult> {
  const secrets = [run.env.CLOUDFLARE_API_TOKEN ?? '', ...(run.redact ?? [])].filter(Boolean);
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'airlock-wrangler-'));
  const outputFile = path.join(outDir, 'output.json');
  const logLines: string[] = [];
  const ran = await runCli({
    bins: [bin.command],
    args: [...bin.prefix, ...run.args],
    cwd: run.cwd,
    env: { ...run.env, ...wranglerBaseEnv(), WRANGLER_OUTPUT_FILE_PATH: outputFile },
    redact: secrets,
    onLine: (line) => {
      logLines.push(line);
      run.onLine?.(line);
    },
    ...(run.stdin !== undefined ? { stdin: run.stdin } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.timeoutMs !== undefined ? { timeoutMs: run.timeoutMs } : {}),
  });
  const result = {
    exitCode: ran.exitCode,
    signal: ran.signal,
    timedOut: ran.timedOut,
    aborted: ran.aborted,
    spawnError: ran.bin === null ? `${bin.command} was not found` : ran.spawnError,
    durationMs: ran.durationMs,
  };

  const output: WranglerOutputEntry[] = [];
  const text = await readFile(outputFile, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as WranglerOutputEntry;
      if (entry && typeof entry.type === 'string') output.push(entry);
    } catch {
      // not an entry
    }
  }
  await rm(outDir, { recursive: true, force: true });
  if (run.logFile) {
    await mkdir(path.dirname(run.logFile), { recursive: true, mode: 0o700 });
    const header = `--- airlock: wrangler ${redact(run.args.join(' '), secrets)} (in ${run.cwd}) at ${new Date().toISOString()}, exit ${result.exitCode ?? result.signal ?? result.spawnError}`;
    await appendFile(run.logFile, `${header}\n${logLines.join('\n')}\n`, { mode: 0o600 });
  }
  return { ...result, stdout: ran.stdout, tail: ran.tail, output };
}

/**
 * What wrangler said went wrong, in one line: its `✘ [ERROR]` line with the notes under it
 * (`A request to the Cloudflare API (…) failed. Uncaught SyntaxError: … [code: 10021]`), else
 * the `command-failed` entry of its output file, else its last line.
 */
export function failureReason(result: WranglerResult, secrets: readonly string[] = []): string {
  const at = result.tail.findIndex((line) => /\[ERROR\]/.test(line));
  let reason = '';
  if (at >= 0) {
    const parts = [(result.tail[at] as string).replace(/^.*\[ERROR\]\s*/, '').trim()];
    for (const line of result.tail.slice(at + 1)) {
      const text = line.trim();
      if (!text) {
        if (parts.length > 1) break;
        continue;
      }
      if (text.startsWith('🪵') || parts.length >= 4) break;
      parts.push(text);
    }
    reason = parts.join(' ');
  } else {
    const failed = result.output.find((entry) => entry.type === 'command-failed');
    reason =
      (typeof failed?.message === 'string' ? failed.message.split('\n')[0] : undefined) ??
      [...result.tail].reverse().find((l) => l.trim() && !l.startsWith('🪵')) ??
      '';
  }
  return redact(reason.trim(), secrets);
}

/** True when wrangler refused the credentials (or had none): Cloudflare's code 10000 and friends. */
function isAuthFailure(result: WranglerResult): boolean {
  const text = [
    ...result.tail,
    ...result.output
      .filter((e) => e.type === 'command-failed')
      .map((e) => `${String(e.message)} ${e.code ?? ''}`),
  ].join('\n');
  return /CLOUDFLARE_API_TOKEN|Authentication error|\[code: 10000\]|\[code: 9109\]|Invalid access token|not logged in/i.test(
    text,
  );
}

/**
 * The error for a wrangler command that did not succeed: `PROVIDER_AUTH` when Cloudflare
 * refused the credentials, `DEPLOY_ABORTED` when aborted, else `PROVIDER_COMMAND_FAILED`, with
 * the exit code and the tail of its output (masked) in the details.
 */
export function wranglerFailure(
  what: string,
  result: WranglerResult,
  options: { redact?: readonly string[]; logFile?: string; hint?: string } = {},
): ProviderError {
  const secrets = options.redact ?? [];
  const tail = result.tail.map((line) => redact(line, secrets));
  const details = {
    exitCode: result.exitCode,
    signal: result.signal,
    tail,
    ...(options.logFile ? { log: options.logFile } : {}),
  };
  if (result.aborted)
    return new ProviderError('DEPLOY_ABORTED', `${what} was aborted.`, { details });
  if (result.spawnError)
    return new ProviderError('PROVIDER_UNAVAILABLE', `${what}: ${result.spawnError}.`, {
      hint: 'Install wrangler in the project (`npm install --save-dev wrangler`).',
      details,
    });
  const how = result.timedOut
    ? 'timed out'
    : result.exitCode === null
      ? `was killed by ${result.signal}`
      : `exited ${result.exitCode}`;
  const reason = failureReason(result, secrets);
  const message = `${what} ${how}${reason ? `: ${reason}` : '.'}`;
  const readLog = options.logFile ? ` Its full output is in ${options.logFile}.` : '';
  if (isAuthFailure(result)) {
    return new ProviderError('PROVIDER_AUTH', message, {
      hint: `Export CLOUDFLARE_API_TOKEN (a token with Workers Scripts: Edit, and D1: Edit for migrations) and CLOUDFLARE_ACCOUNT_ID, then run the command again.${readLog}`,
      details,
    });
  }
  return new ProviderError('PROVIDER_COMMAND_FAILED', message, {
    hint: `${options.hint ?? 'Read the last lines of wrangler’s output (details.tail).'}${readLog}`,
    details,
  });
}
