/**
 * The user's wrangler configuration (wrangler.toml, wrangler.jsonc or wrangler.json), read the
 * way wrangler reads it: the top level is one environment, and each `[env.<name>]` section is
 * another. Bindings and vars are not inherited into an environment, while `name`,
 * `compatibility_date` and the other top-level keys are (Cloudflare's "inheritable vs
 * non-inheritable keys"). Airlock never asks the user to describe the Worker again.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { UserError } from '../../errors.ts';

/** Cloudflare credentials that may be set per environment (`<NAME>_<ENV>` over `<NAME>`). */
export const CLOUDFLARE_CREDENTIALS = ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID'] as const;

/** File names wrangler looks for, in its order of preference. */
export const WRANGLER_FILES = ['wrangler.jsonc', 'wrangler.json', 'wrangler.toml'] as const;

/** One `[[d1_databases]]` entry. */
export interface D1Binding {
  binding: string;
  database_name?: string;
  database_id?: string;
  preview_database_id?: string;
  migrations_dir?: string;
  /** wrangler's own migrations ledger table (default `d1_migrations`). */
  migrations_table?: string;
}

/** The keys Airlock reads, as wrangler spells them; anything else is kept in `raw`. */
export interface WranglerEnvironment {
  name?: string;
  main?: string;
  compatibility_date?: string;
  compatibility_flags?: string[];
  account_id?: string;
  vars?: Record<string, unknown>;
  d1_databases?: D1Binding[];
  [key: string]: unknown;
}

export interface WranglerConfig {
  /** Absolute path of the file. */
  file: string;
  /** The top level, without `env`. */
  top: WranglerEnvironment;
  /** `[env.<name>]` sections. */
  env: Record<string, WranglerEnvironment>;
}

/** Keys an environment does not inherit from the top level (bindings and vars). */
const NON_INHERITABLE = new Set([
  'vars',
  'define',
  'durable_objects',
  'kv_namespaces',
  'r2_buckets',
  'd1_databases',
  'services',
  'queues',
  'vectorize',
  'hyperdrive',
  'analytics_engine_datasets',
  'ai',
  'browser',
  'version_metadata',
  'send_email',
  'mtls_certificates',
  'tail_consumers',
  'dispatch_namespaces',
  'workflows',
  'unsafe',
]);

/** The wrangler file in `dir` (its first of WRANGLER_FILES), or null. */
export function findWranglerConfig(dir: string): string | null {
  for (const name of WRANGLER_FILES) {
    const file = path.join(dir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/**
 * Reads a wrangler file.
 * @throws UserError `PROVIDER_CONFIG_INVALID` naming the file (and line for TOML/JSONC errors).
 */
export function readWranglerConfig(file: string): WranglerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError('PROVIDER_CONFIG_INVALID', `${file} cannot be read.`, {
      hint: 'Set cloudflare.config in airlock.yaml to the Worker’s wrangler file (relative to the service folder).',
    });
  }
  let data: Record<string, unknown>;
  if (file.endsWith('.toml')) {
    try {
      data = parseToml(text) as Record<string, unknown>;
    } catch (error) {
      throw new UserError(
        'PROVIDER_CONFIG_INVALID',
        `${file}: ${(error as Error).message.split('\n')[0]}`,
        { hint: 'Fix the TOML (wrangler reads the same file).' },
      );
    }
  } else {
    const errors: ParseError[] = [];
    data = (parseJsonc(text, errors, { allowTrailingComma: true }) ?? {}) as Record<
      string,
      unknown
    >;
    const first = errors[0];
    if (first) {
      const line = text.slice(0, first.offset).split('\n').length;
      throw new UserError(
        'PROVIDER_CONFIG_INVALID',
        `${file}:${line}: ${printParseErrorCode(first.error)}.`,
        { hint: 'Fix the JSON (wrangler reads the same file).' },
      );
    }
  }
  const { env, ...top } = data as { env?: Record<string, WranglerEnvironment> };
  return { file, top: top as WranglerEnvironment, env: env ?? {} };
}

/**
 * The effective configuration of one wrangler environment (null: the top level): the top
 * level's inheritable keys, then the section's own keys; bindings and vars only from the
 * section. An environment's Worker is named `<name>-<env>` unless the section sets `name`.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when the section does not exist.
 */
export function wranglerEnvironment(
  config: WranglerConfig,
  env: string | null,
): WranglerEnvironment {
  if (env === null) return config.top;
  const section = config.env[env];
  if (!section) {
    throw new UserError('PROVIDER_CONFIG_INVALID', `${config.file} has no [env.${env}] section.`, {
      hint: `Add [env.${env}] to ${path.basename(config.file)} (with its own d1_databases and vars), or set cloudflare.env in airlock.yaml (known: ${Object.keys(config.env).join(', ') || 'none'}).`,
    });
  }
  const inherited = Object.fromEntries(
    Object.entries(config.top).filter(([key]) => !NON_INHERITABLE.has(key)),
  );
  return {
    ...inherited,
    ...(config.top.name ? { name: `${config.top.name}-${env}` } : {}),
    ...section,
  };
}

/**
 * The D1 binding `binding` (null: the only one) of a wrangler environment.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when it is missing or ambiguous.
 */
export function d1Binding(
  config: WranglerConfig,
  env: string | null,
  binding: string | null,
): D1Binding {
  const where = env ? `[env.${env}]` : 'the top level';
  const all = wranglerEnvironment(config, env).d1_databases ?? [];
  const found = binding
    ? all.find((d) => d.binding === binding)
    : all.length === 1
      ? all[0]
      : undefined;
  if (!found) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      binding
        ? `${config.file}: ${where} has no D1 binding "${binding}" (it has ${all.map((d) => d.binding).join(', ') || 'none'}).`
        : `${config.file}: ${where} has ${all.length} D1 databases; say which with database.binding in airlock.yaml.`,
      {
        hint: `Add a [[${env ? `env.${env}.` : ''}d1_databases]] entry with binding, database_name and database_id (bindings are not inherited by wrangler environments).`,
      },
    );
  }
  return found;
}
