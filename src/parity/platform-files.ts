/**
 * The platform configuration of one environment, read from the user's own files, as parity
 * compares it (issue 6; seed 003: staging is "a 100% production mirror"): every setting
 * flattened to a dotted key, bindings by name and kind, vars by name. Secrets are added by the
 * provider, by name. Pure readers: no network, no CLI.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { UserError } from '../errors.ts';
import {
  readWranglerConfig,
  type WranglerConfig,
  wranglerEnvironment,
} from '../providers/cloudflare/wrangler-config.ts';
import type { PlatformConfig } from '../providers/provider.ts';

/**
 * Flattens `value` into `out` as dotted keys: objects by key, arrays by index (`vm.0.memory`),
 * scalars as strings. Arrays of scalars become one comma-separated value.
 */
export function flatten(value: unknown, prefix: string, out: Record<string, string>): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      out[prefix] = value.map(String).join(',');
      return;
    }
    value.forEach((v, i) => {
      flatten(v, `${prefix}.${i}`, out);
    });
    return;
  }
  if (value instanceof Date) {
    out[prefix] = value.toISOString();
    return;
  }
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(v, prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out[prefix] = String(value);
}

/** Binding kinds of a wrangler environment, by wrangler's key. */
const WRANGLER_BINDINGS: Array<[key: string, kind: string, name: string]> = [
  ['d1_databases', 'd1', 'binding'],
  ['kv_namespaces', 'kv', 'binding'],
  ['r2_buckets', 'r2', 'binding'],
  ['services', 'service', 'binding'],
  ['queues.producers', 'queue', 'binding'],
  ['queues.consumers', 'queue-consumer', 'queue'],
  ['durable_objects.bindings', 'durable_object', 'name'],
  ['vectorize', 'vectorize', 'binding'],
  ['hyperdrive', 'hyperdrive', 'binding'],
  ['analytics_engine_datasets', 'analytics_engine', 'binding'],
  ['workflows', 'workflow', 'binding'],
  ['dispatch_namespaces', 'dispatch_namespace', 'binding'],
  ['mtls_certificates', 'mtls_certificate', 'binding'],
  ['send_email', 'send_email', 'name'],
];

/** Keys whose content is bindings or vars, not settings. */
const WRANGLER_NOT_SETTINGS = new Set([
  'vars',
  'define',
  'd1_databases',
  'kv_namespaces',
  'r2_buckets',
  'services',
  'queues',
  'durable_objects',
  'vectorize',
  'hyperdrive',
  'analytics_engine_datasets',
  'workflows',
  'dispatch_namespaces',
  'mtls_certificates',
  'send_email',
  'ai',
  'browser',
  'version_metadata',
  'unsafe',
  'env',
  '$schema',
]);

function at(value: unknown, dotted: string): unknown {
  let current = value;
  for (const key of dotted.split('.')) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * A wrangler environment (null: the top level) as parity sees it: settings (name, main,
 * compatibility date and flags, routes, limits, placement, triggers, …), bindings by kind,
 * var names. Secrets are the provider's to add.
 * @throws UserError `PROVIDER_CONFIG_INVALID` for a missing file or section.
 */
export function wranglerPlatformConfig(
  config: WranglerConfig | string,
  env: string | null,
): PlatformConfig {
  const wrangler = typeof config === 'string' ? readWranglerConfig(config) : config;
  const effective = wranglerEnvironment(wrangler, env);
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(effective)) {
    if (!WRANGLER_NOT_SETTINGS.has(key)) flatten(value, key, settings);
  }
  const bindings: Record<string, string> = {};
  for (const [key, kind, nameKey] of WRANGLER_BINDINGS) {
    const list = at(effective, key);
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const name = (entry as Record<string, unknown>)?.[nameKey];
      if (typeof name === 'string') bindings[name] = kind;
    }
  }
  for (const key of ['ai', 'browser', 'version_metadata'] as const) {
    const binding = (effective[key] as { binding?: unknown } | undefined)?.binding;
    if (typeof binding === 'string') bindings[binding] = key;
  }
  return {
    settings,
    bindings,
    vars: Object.keys((effective.vars as Record<string, unknown> | undefined) ?? {}).sort(),
    secrets: [],
    sources: [wrangler.file],
  };
}

/**
 * A fly.toml as parity sees it: every setting flattened (`primary_region`, `vm.0.memory`,
 * `http_service.internal_port`, `deploy.strategy`, …), mounts as bindings (`volume`), `[env]`
 * names as vars. Secrets are the provider's to add.
 * @throws UserError `PROVIDER_CONFIG_INVALID` naming the file.
 */
export function flyPlatformConfig(file: string): PlatformConfig {
  let data: Record<string, unknown>;
  try {
    data = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the TOML (flyctl reads the same file), or set fly.config in airlock.yaml.' },
    );
  }
  const { env, mounts, ...rest } = data as {
    env?: Record<string, unknown>;
    mounts?: unknown;
  };
  const settings: Record<string, string> = {};
  flatten(rest, '', settings);
  const bindings: Record<string, string> = {};
  for (const mount of Array.isArray(mounts) ? mounts : mounts ? [mounts] : []) {
    const m = mount as { source?: unknown; destination?: unknown };
    if (typeof m.destination === 'string') {
      bindings[m.destination] = 'volume';
      if (typeof m.source === 'string') settings[`mounts.${m.destination}.source`] = m.source;
    }
  }
  return {
    settings,
    bindings,
    vars: Object.keys(env ?? {}).sort(),
    secrets: [],
    sources: [file],
  };
}
