/**
 * Secrets of a Worker in local mode: one `.dev.vars` file per environment and service,
 * `<home>/envs/<env>/cloudflare/<service>/.dev.vars`, mode 0600 in a 0700 folder. It sits
 * beside the wrangler file Airlock generates for each release, which is where `wrangler dev`
 * looks for it (`<config dir>/.dev.vars`), so values never pass through argv, the runtime's
 * state or a log. staging and production each have their own (distinct keys per environment).
 *
 * wrangler parses the file with dotenv's `parse` (no `$VAR` expansion). A value is written
 * between single quotes (taken literally, newlines included), or between backticks when it
 * holds a single quote.
 *
 * wrangler dev reads the file when it starts, so secrets take effect at the next deployment. Each
 * write records a new random generation in the file's header; the process Airlock starts carries
 * it (`AIRLOCK_SECRETS_GENERATION`), so a process kept warm with older secrets is not reused.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../errors.ts';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The quoted form of one value, as dotenv reads it back unchanged. */
function quote(name: string, value: string): string {
  if (value.includes('\r'))
    throw new UserError(
      'USAGE',
      `the value of ${name} holds a carriage return, which .dev.vars cannot carry.`,
      {
        hint: 'Use \\n line endings (or base64-encode the value) for local mode.',
      },
    );
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('`')) return `\`${value}\``;
  throw new UserError(
    'USAGE',
    `the value of ${name} holds both ' and \`, which wrangler dev's .dev.vars cannot carry.`,
    { hint: 'Use a value without one of them (e.g. base64-encode it) for local mode.' },
  );
}

/** Reads the file Airlock wrote ({} when there is none). */
export function readDevVars(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  const entry = /^([A-Za-z_][A-Za-z0-9_]*)=(?:'([^']*)'|`([^`]*)`)$/gm;
  for (const match of text.matchAll(entry)) {
    out[match[1] as string] = match[2] ?? match[3] ?? '';
  }
  return out;
}

/**
 * Sets (creates or replaces) secrets in `file`, atomically, owner-only.
 * @throws UserError `USAGE` for a name wrangler cannot bind or a value the format cannot hold.
 */
export function writeDevVars(file: string, secrets: Record<string, string>): void {
  for (const name of Object.keys(secrets)) {
    if (!NAME.test(name))
      throw new UserError('USAGE', `${name} is not a valid secret name for a Worker binding.`, {
        hint: 'Use letters, digits and underscores, not starting with a digit.',
      });
  }
  const merged = { ...readDevVars(file), ...secrets };
  const text = Object.entries(merged)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${quote(name, value)}\n`)
    .join('');
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(
    temporary,
    `# Secrets of this environment for wrangler dev, written by Airlock (airlock secret set). Mode 0600.\n# generation ${randomUUID()}\n${text}`,
    { mode: 0o600 },
  );
  renameSync(temporary, file);
}

/** The generation of the secrets in `file` (see the module comment), or `none`. */
export function devVarsGeneration(file: string): string {
  try {
    return /^# generation (\S+)$/m.exec(readFileSync(file, 'utf8'))?.[1] ?? 'none';
  } catch {
    return 'none';
  }
}
