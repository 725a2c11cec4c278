/**
 * Runs a platform's own CLI (flyctl, the Railway CLI, wrangler) for its provider, through
 * `runTool` (src/process/run-tool.ts): argv as an array (never a shell), secret values only on
 * stdin, every output line passed on with known secret values and tokens masked, the whole
 * process group stopped on abort or timeout.
 *
 * The providers build their argv as data (Kamal's command builders), so tests assert the exact
 * commands; this module only runs them.
 */
import { ProviderError } from '../errors.ts';
import { runTool } from '../process/run-tool.ts';

export interface CliInvocation {
  /** Executable names to try in order (the first one found on PATH runs), e.g. `['fly', 'flyctl']`. */
  bins: string[];
  args: string[];
  cwd: string;
  /** Complete environment of the child. */
  env: Readonly<Record<string, string | undefined>>;
  /** Written to the child's stdin, then closed (secret values travel here, never in argv). */
  stdin?: string;
  signal?: AbortSignal;
  /** Kill the process group after this long (ms). Default: no limit. */
  timeoutMs?: number;
  /** Each output line (stdout and stderr), masked, without its newline. */
  onLine?: (line: string) => void;
  /** Values to mask in every line passed on and in `stderr`/`tail` (tokens, secret values). */
  redact?: string[];
}

export interface CliResult {
  /** The executable that ran (one of `bins`), or null when none was found. */
  bin: string | null;
  /** Why it could not start, other than not being found (EACCES, …); null when it ran. */
  spawnError: string | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** All of stdout, unmasked (JSON for the provider to parse; never log it whole). */
  stdout: string;
  /** All of stderr, masked. */
  stderr: string;
  /** The last output lines (stdout and stderr), masked. */
  tail: string[];
  aborted: boolean;
  timedOut: boolean;
  durationMs: number;
}

const TAIL = 30;
/** stdout kept for parsing at most (characters); a CLI printing more is cut at this point. */
const MAX_STDOUT = 8 * 1024 * 1024;

/** Runs `bin` once through `runTool` (its own process group, masked output). */
async function runOnce(bin: string, run: CliInvocation): Promise<CliResult | 'not-found'> {
  const result = await runTool({
    command: bin,
    args: run.args,
    cwd: run.cwd,
    env: run.env,
    stdin: run.stdin ?? '',
    ownGroup: true,
    ...(run.timeoutMs !== undefined ? { timeoutMs: run.timeoutMs } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    ...(run.onLine ? { onLine: run.onLine } : {}),
    tailLines: TAIL,
    redact: run.redact ?? [],
    maxStdout: MAX_STDOUT,
  });
  if (result.spawnError?.code === 'ENOENT') return 'not-found';
  return {
    bin,
    spawnError: result.spawnError?.message ?? null,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    tail: result.tail,
    aborted: result.aborted,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
  };
}

/** Runs the first of `run.bins` that exists. Never throws; `bin` is null when none was found. */
export async function runCli(run: CliInvocation): Promise<CliResult> {
  for (const bin of run.bins) {
    const result = await runOnce(bin, run);
    if (result !== 'not-found') return result;
  }
  return {
    bin: null,
    spawnError: null,
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    tail: [],
    aborted: false,
    timedOut: false,
    durationMs: 0,
  };
}

/**
 * The environment a platform CLI runs with for one Airlock environment: the parent's, with the
 * per-environment token chosen (`<NAME>_<ENV>` over `<NAME>`) and every other environment's
 * variant removed, so a staging command never carries production's credential (credentials are never shared between environments).
 * @returns the child's environment and the token values to mask.
 */
export function scopedTokenEnv(
  parent: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
  environment: string,
): { env: Record<string, string | undefined>; tokens: string[] } {
  const suffix = `_${envSuffix(environment)}`;
  const env: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (names.some((name) => key.startsWith(`${name}_`))) continue;
    env[key] = value;
  }
  const tokens: string[] = [];
  for (const name of names) {
    // An empty value counts as unset (GitHub Actions gives '' for a secret that is not set).
    const value = parent[`${name}${suffix}`] || parent[name];
    if (value) {
      env[name] = value;
      tokens.push(value);
    } else delete env[name];
  }
  return { env, tokens };
}

/** `production` → `PRODUCTION`, `eu-west` → `EU_WEST`: the suffix of per-environment variables. */
export function envSuffix(environment: string): string {
  return environment.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Whether any of the token variables is set for the environment (`<NAME>_<ENV>` or `<NAME>`). */
export function tokenNameFor(
  parent: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
  environment: string,
): string | null {
  const suffix = `_${envSuffix(environment)}`;
  for (const name of names) {
    if (parent[`${name}${suffix}`]) return `${name}${suffix}`;
    if (parent[name]) return name;
  }
  return null;
}

/** The last non-empty line of a CLI's output that reads like an error, for messages. */
export function lastErrorLine(result: CliResult): string {
  const lines = result.tail.map((l) => l.trim()).filter(Boolean);
  const error = [...lines].reverse().find((l) => /^error\b|error:|failed|unauthorized/i.test(l));
  return error ?? lines.at(-1) ?? `exit code ${result.exitCode ?? result.signal}`;
}

/** A duration as Go's time.ParseDuration reads it (flyctl's --wait-timeout): `30s`, `2m0s`. */
export function goDuration(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return `${seconds}s`;
}

/** One call of a platform CLI by a provider (flyctl, railway). */
export interface PlatformCliCall {
  cwd: string;
  /** Written to stdin (secret values), masked in every line. */
  stdin?: string;
  /** More values to mask (secret values). */
  redact?: string[];
  /** ms; default: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
  /** What runs, for messages: `fly deploy for blue-banded-bee`. */
  what: string;
}

/** How a provider runs its platform's CLI. */
export interface PlatformCli {
  /** Executables to try in order, e.g. `['fly', 'flyctl']`. */
  bins: string[];
  /** Airlock's process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** Credential variables, scoped per environment (`scopedTokenEnv`). */
  credentials: readonly string[];
  /** The `PROVIDER_UNAVAILABLE` message and hint when no executable is on PATH. */
  missing: { message: string; hint: string };
}

/**
 * Runs a platform CLI for one Airlock environment with only that environment's credentials,
 * masked (with `call.redact`) in every line.
 * @returns the result of a CLI that ran, whatever its exit code: the provider classifies
 *   failures (authentication, unknown app, …).
 * @throws ProviderError `PROVIDER_UNAVAILABLE` (`cli.missing`) when no executable is on PATH;
 *   `DEPLOY_ABORTED` when `call.signal` stopped it.
 */
export async function runPlatformCli(
  cli: PlatformCli,
  environment: string,
  args: string[],
  call: PlatformCliCall,
): Promise<CliResult> {
  const { env, tokens } = scopedTokenEnv(cli.env, cli.credentials, environment);
  const result = await runCli({
    bins: cli.bins,
    args,
    cwd: call.cwd,
    env,
    ...(call.timeoutMs !== undefined ? { timeoutMs: call.timeoutMs } : {}),
    redact: [...tokens, ...(call.redact ?? [])],
    ...(call.stdin !== undefined ? { stdin: call.stdin } : {}),
    ...(call.signal ? { signal: call.signal } : {}),
    ...(call.onLine ? { onLine: call.onLine } : {}),
  });
  if (result.bin === null) {
    throw new ProviderError('PROVIDER_UNAVAILABLE', cli.missing.message, {
      hint: cli.missing.hint,
    });
  }
  if (result.aborted) {
    throw new ProviderError('DEPLOY_ABORTED', `${call.what} was interrupted.`, {
      hint: 'What served before keeps serving; run the command again when ready.',
    });
  }
  return result;
}
