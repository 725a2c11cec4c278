/**
 * A wrangler environment as parity compares it (staging as a mirror of production): settings
 * flattened to dotted keys, bindings by name and kind, var names. Secrets are added by the
 * provider, by name. A pure reader: no network, no CLI.
 */
import { flatten } from '../../parity/flatten.ts';
import type { PlatformConfig } from '../provider.ts';
import { readWranglerConfig, type WranglerConfig, wranglerEnvironment } from './wrangler-config.ts';

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
