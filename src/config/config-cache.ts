/**
 * A cache of validated airlock.yaml files, so that a command which opens a session (status,
 * history, rollback, …) neither parses the YAML nor loads and runs the schema (yaml and zod: a
 * third of such a command's start) while the file is unchanged.
 *
 * What is kept, per configuration file: the schema-validated shape of its text and the rules'
 * warnings (already placed at file:line:col), under a key that hashes the text, the file's path
 * and display name, Airlock's version and the identity of the bundle that validated it. Never
 * anything resolved: `${NAME}` references are still references, and every command resolves
 * them (and the environment-dependent parts) afresh from its own environment.
 *
 * A hit still re-checks what depends on more than the text (the paths it names, through
 * `checkPaths`; everything `resolveConfig` derives from the environment): any finding there,
 * an unreadable or foreign entry, a shape that does not survive JSON unchanged, or running from
 * the TypeScript sources (whose schema can change under the same version) means no cache, and
 * the full path (`load.ts`) runs and reports every problem with its file, line and field.
 *
 * Where: `$AIRLOCK_HOME/cache/config/` when AIRLOCK_HOME is set (resolved against the project
 * folder when relative), else `$XDG_CACHE_HOME/airlock/config/`, else `~/.cache/airlock/config/`:
 * folders created 0700, files 0600, one file per configuration file and copy of Airlock (a
 * changed text replaces its entry; two installed copies used in turn do not evict each other). An entry this user does not own, or that others may write, is ignored.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type ConfigDiagnostic, ConfigError } from '../errors.ts';
import { BUNDLED, PACKAGE_VERSION, packagePath } from '../package-paths.ts';
import { checkPaths } from './path-rules.ts';
import { type ResolvedConfig, resolveConfig } from './resolve.ts';
import type { Config } from './schema.ts';

export const CONFIG_FILE_NAMES = ['airlock.yaml', 'airlock.yml'] as const;

/** Bumped when an entry's shape changes. */
const FORMAT = 1;

/** Finds airlock.yaml in `cwd` or the nearest parent folder. */
export function findConfigFile(cwd: string): string | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    for (const name of CONFIG_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export interface LocatedConfig {
  /** Absolute path of airlock.yaml. */
  file: string;
  /** The name messages use: relative to the working directory when inside it. */
  displayFile: string;
}

/**
 * Which airlock.yaml a command reads: `file` (`-c`, relative to `cwd`) or the nearest one.
 * @throws ConfigError `CONFIG_NOT_FOUND`.
 */
export function locateConfig(options: { cwd: string; file?: string }): LocatedConfig {
  const file = options.file ? path.resolve(options.cwd, options.file) : findConfigFile(options.cwd);
  if (!file || !existsSync(file)) {
    // No diagnostic: a file that does not exist has no line to point at.
    throw new ConfigError('CONFIG_NOT_FOUND', [], {
      message: options.file
        ? `${options.file} does not exist${file === options.file ? '' : ` (${file})`}.`
        : `no airlock.yaml in ${options.cwd} or any parent folder.`,
      hint: options.file
        ? "Check the path passed to -c, or run `airlock init` in your project's folder to write an airlock.yaml for it."
        : "Run `airlock init` in your project's folder to write one for it, or pass -c <file>. To see the whole flow on an example first, run `airlock demo`.",
      details: { file: file ?? null },
    });
  }
  const relative = path.relative(options.cwd, file);
  return { file, displayFile: relative && !relative.startsWith('..') ? relative : file };
}

/** The cache folder for `env` (see the top of this file); `project` resolves a relative AIRLOCK_HOME. */
export function configCacheDir(
  project: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  if (env.AIRLOCK_HOME) return path.resolve(project, env.AIRLOCK_HOME, 'cache', 'config');
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME))
    return path.join(env.XDG_CACHE_HOME, 'airlock', 'config');
  return path.join(env.HOME || os.homedir(), '.cache', 'airlock', 'config');
}

/** What identifies the code that validated an entry; null (no cache) when run from sources. */
function codeIdentity(): string | null {
  if (!BUNDLED) return null;
  const bundle = statSync(packagePath('dist', 'airlock.mjs'), { throwIfNoEntry: false });
  return bundle ? `${PACKAGE_VERSION}:${bundle.mtimeMs}:${bundle.size}:${bundle.ino}` : null;
}

interface Entry {
  key: string;
  data: Config;
  warnings: ConfigDiagnostic[];
}

/** A cache slot: the entry's file and the key its contents must carry. Null: no cache. */
export interface CacheSlot {
  file: string;
  key: string;
}

/**
 * The slot of one text of a configuration file, or null when this copy keeps no cache.
 * `identity` names the code that validates (default: this bundle's version and file identity;
 * null when running from the sources).
 */
export function cacheSlot(
  located: LocatedConfig,
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  identity: string | null = codeIdentity(),
): CacheSlot | null {
  if (identity === null) return null;
  const sha = (value: string) => createHash('sha256').update(value).digest('hex');
  return {
    file: path.join(
      configCacheDir(path.dirname(located.file), env),
      `${sha(JSON.stringify([located.file, identity])).slice(0, 32)}.json`,
    ),
    key: sha(JSON.stringify([FORMAT, identity, located.file, located.displayFile, text])),
  };
}

/** Private: owned by this user, writable by nobody else (a foreign entry could change a config). */
function isPrivate(file: string): boolean {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return false;
  const uid = process.getuid?.();
  return (uid === undefined || stat.uid === uid) && (stat.mode & 0o022) === 0;
}

/**
 * The configuration from the cached validation of the text `slot` was made for, resolved
 * against `env`; undefined on a miss or any doubt (the caller then validates in full).
 */
export function resolveCachedConfig(
  located: LocatedConfig,
  slot: CacheSlot | null,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedConfig | undefined {
  if (!slot) return undefined;
  let entry: Entry;
  try {
    if (!isPrivate(path.dirname(slot.file)) || !isPrivate(slot.file)) return undefined;
    entry = JSON.parse(readFileSync(slot.file, 'utf8')) as Entry;
  } catch {
    return undefined;
  }
  if (
    entry?.key !== slot.key ||
    typeof entry.data !== 'object' ||
    entry.data === null ||
    !Array.isArray(entry.warnings)
  )
    return undefined;
  // What depends on more than the text: any finding means the full path, which places it.
  if (checkPaths(entry.data, path.dirname(located.file)).length > 0) return undefined;
  const { resolved, findings } = resolveConfig(entry.data, {
    file: located.file,
    displayFile: located.displayFile,
    warnings: entry.warnings,
    env,
  });
  return findings.length > 0 ? undefined : resolved;
}

/**
 * Keeps what the full path validated, if it survives JSON unchanged (call it before anything
 * can change `data`). Best effort: a cache that cannot be written is only slower.
 */
export function storeValidatedConfig(
  slot: CacheSlot | null,
  data: Config,
  warnings: readonly ConfigDiagnostic[],
): void {
  if (!slot) return;
  try {
    const entry: Entry = { key: slot.key, data, warnings: [...warnings] };
    const text = JSON.stringify(entry);
    if (!isDeepStrictEqual(JSON.parse(text), entry)) return;
    mkdirSync(path.dirname(slot.file), { recursive: true, mode: 0o700 });
    const temporary = `${slot.file}.${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600 });
    renameSync(temporary, slot.file);
    collectOldEntries(path.dirname(slot.file), slot.file);
  } catch {
    // Read-only home, full disk: the next command validates in full again.
  }
}

/** An entry not written for this long (ms) is removed: another Airlock version's, a gone project's. */
export const CONFIG_CACHE_MAX_AGE_MS = 90 * 24 * 3600 * 1000;
/** A temporary file of a write that was killed, removed after this long (ms). */
const TEMPORARY_MAX_AGE_MS = 3600 * 1000;

/**
 * Removes the folder's entries last written more than {@link CONFIG_CACHE_MAX_AGE_MS} ago and
 * temporary files older than an hour, except `keep`. Runs only after a miss wrote an entry (a
 * full validation happened anyway), so hits pay nothing; an entry removed while still in use
 * only costs its project one full validation, which writes it again.
 */
function collectOldEntries(dir: string, keep: string, now = Date.now()): void {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const temporary = name.endsWith('.tmp');
    if (file === keep || !(temporary || name.endsWith('.json'))) continue;
    const stat = statSync(file, { throwIfNoEntry: false });
    const maxAgeMs = temporary ? TEMPORARY_MAX_AGE_MS : CONFIG_CACHE_MAX_AGE_MS;
    if (stat?.isFile() && now - stat.mtimeMs > maxAgeMs) unlinkSync(file);
  }
}

/**
 * The CLI's first try: airlock.yaml from the cache, without loading the YAML parser or the
 * schema; undefined when the full path must run (`loadConfig` with `cache: true`).
 * @throws ConfigError `CONFIG_NOT_FOUND`.
 */
export function loadCachedConfig(options: {
  cwd: string;
  file?: string;
  env: Readonly<Record<string, string | undefined>>;
}): ResolvedConfig | undefined {
  const located = locateConfig(options);
  let text: string;
  try {
    text = readFileSync(located.file, 'utf8');
  } catch {
    return undefined;
  }
  return resolveCachedConfig(located, cacheSlot(located, text, options.env), options.env);
}
