/**
 * FAKE platform CLIs (flyctl, the Railway CLI) for tests, shared parts. These are not the real
 * tools: they stand in for CLIs that cannot run here (no network, no accounts). Each fake is a
 * small executable put on PATH that:
 *
 * - records every invocation to a JSONL transcript ($FAKE_CLI_TRANSCRIPT): the exact argv, the
 *   working directory, the environment (names; values only for non-secret AIRLOCK_*, FLY_APP-like
 *   variables; a token is recorded as "present", never its value), and stdin as a byte count and
 *   sha256 digests (for `secrets import` / `variable set --stdin`, a digest per value), so a test
 *   can prove a secret value travelled on stdin while no file the fake writes ever holds it
 *   outside the platform state;
 * - replays outputs shaped like the real tool's (taken from flyctl's and the Railway CLI's
 *   source and from real transcripts), keeping just enough state in a JSON file ($FAKE_*_STATE)
 *   that later commands reflect earlier ones;
 * - fails on demand (faults in the state file: an expired token, a failing deploy).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const sha256 = (text: string | Buffer): string =>
  createHash('sha256').update(text).digest('hex');

export interface ParsedArgs {
  positionals: string[];
  /** Value flags, in order (a repeated flag keeps every value). */
  values: Map<string, string[]>;
  booleans: Set<string>;
}

/**
 * Parses argv the way cobra/clap do for the flags the fakes know: `--flag value`, `--flag=value`,
 * `-f value`, boolean flags. `aliases` maps short names to long ones.
 */
export function parseArgs(
  argv: string[],
  booleanFlags: readonly string[],
  aliases: Record<string, string> = {},
): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], values: new Map(), booleans: new Set() };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      parsed.positionals.push(arg);
      continue;
    }
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = aliases[name] ?? name;
    if (booleanFlags.includes(name)) {
      parsed.booleans.add(name);
      continue;
    }
    if (value === undefined) {
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined) throw new Error(`flag needs an argument: --${name}`);
    parsed.values.set(name, [...(parsed.values.get(name) ?? []), value]);
  }
  return parsed;
}

export const flag = (args: ParsedArgs, name: string): string | undefined =>
  args.values.get(name)?.at(-1);

export function loadState<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function saveState(file: string, state: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Everything on stdin (the fakes are always given a pipe; an empty one reads as ''). */
export function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

/** The environment as the transcript records it: names, non-secret values, tokens as "present". */
export function recordedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name.startsWith('FAKE_')) continue;
    if (!/^(FLY_|AIRLOCK_|RAILWAY_)/.test(name)) continue;
    out[name] = /TOKEN|SECRET|PASSWORD|KEY/.test(name) ? 'present' : value;
  }
  return out;
}

export interface Invocation {
  cli: string;
  at: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: { bytes: number; sha256: string | null; values?: Record<string, string> };
  exitCode: number;
  /** What the fake understood (e.g. the token's scope), never a secret. */
  note?: string;
}

/** Appends one invocation to the transcript. */
export function record(invocation: Invocation): void {
  const file = process.env.FAKE_CLI_TRANSCRIPT;
  if (file) appendFileSync(file, `${JSON.stringify(invocation)}\n`);
}

/** The invocations in a transcript file. */
export function readTranscript(file: string): Invocation[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Invocation);
}

/** sha256 over the files of a folder (sorted paths and contents), skipping .git and node_modules. */
export function treeDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    const entries = readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      if (entry.name === '.git' || entry.name === 'node_modules') continue;
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) {
        hash.update(`${child}\0`);
        hash.update(readFileSync(path.join(dir, child)));
        hash.update('\0');
      }
    }
  };
  walk('');
  return hash.digest('hex');
}

/** A Fly/Railway-looking id from a counter: stable across runs of a test. */
export function fakeId(prefix: string, n: number, length = 14): string {
  return `${prefix}${sha256(`${prefix}${n}`).slice(0, length)}`;
}

/** Thrown to end a fake with an exit code (after its output). */
export class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

export const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
export const err = (line = ''): void => {
  process.stderr.write(`${line}\n`);
};

/** What a fake's command reported: secret values it received (for the transcript's digests), a note. */
export interface FakeOutcome {
  values?: Record<string, string> | undefined;
  note?: string | undefined;
}

/**
 * The main of every FAKE CLI: reads stdin and its state file ($`stateVariable`), runs `handle`,
 * saves the state even when the command failed, prints an unexpected error as
 * `errorPrefix + message` (exit 1), records the invocation in the transcript, sets the exit code.
 */
export function runFakeCli<S>(
  cli: {
    name: string;
    stateVariable: string;
    booleans: readonly string[];
    aliases: Record<string, string>;
    errorPrefix: string;
  },
  handle: (state: S, args: ParsedArgs, stdin: string) => FakeOutcome | undefined,
): void {
  const argv = process.argv.slice(2);
  const stdin = readStdin();
  const stateFile = process.env[cli.stateVariable];
  let exitCode = 0;
  let outcome: FakeOutcome | undefined;
  try {
    if (!stateFile) {
      err(`${cli.errorPrefix}FAKE ${cli.name}: ${cli.stateVariable} is not set`);
      throw new Exit(1);
    }
    const state = loadState<S>(stateFile);
    try {
      outcome = handle(state, parseArgs(argv, cli.booleans, cli.aliases), stdin);
    } finally {
      saveState(stateFile, state);
    }
  } catch (error) {
    if (error instanceof Exit) exitCode = error.code;
    else {
      err(`${cli.errorPrefix}${(error as Error).message}`);
      exitCode = 1;
    }
  }
  const values = outcome?.values;
  record({
    cli: cli.name,
    at: new Date().toISOString(),
    argv,
    cwd: process.cwd(),
    env: recordedEnv(process.env),
    stdin: {
      bytes: Buffer.byteLength(stdin),
      sha256: stdin ? sha256(stdin) : null,
      ...(values && Object.keys(values).length ? { values } : {}),
    },
    exitCode,
    ...(outcome?.note ? { note: outcome.note } : {}),
  });
  process.exitCode = exitCode;
}
