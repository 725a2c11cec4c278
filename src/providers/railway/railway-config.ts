/**
 * Which Railway project, environment and service one Airlock environment uses, and the
 * service's config-as-code file (railway.json or railway.toml, with its `environments.<name>`
 * overrides) as parity sees it. Pure apart from reading the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { InternalError, UserError } from '../../errors.ts';
import { flatten } from '../../parity/flatten.ts';
import type { PlatformConfig, ServiceTarget } from '../provider.ts';

export interface RailwayTarget {
  /** The Airlock environment (its token is RAILWAY_TOKEN_<ENV>). */
  environment: string;
  /** The Airlock service. */
  service: string;
  /** The Railway project id; null: the token's project (or the linked one). */
  project: string | null;
  /** The Railway environment (`--environment`). */
  railwayEnvironment: string;
  /** The Railway service (`--service`). */
  railwayService: string;
}

export function resolveRailwayTarget(
  target: ServiceTarget,
  env: Readonly<Record<string, string | undefined>>,
): RailwayTarget {
  const settings = target.settings;
  if (settings.provider !== 'railway')
    throw new InternalError('INTERNAL', `the railway provider got ${settings.provider} settings`);
  return {
    environment: target.environment,
    service: target.service,
    project: settings.project ?? env.RAILWAY_PROJECT_ID ?? null,
    railwayEnvironment: settings.environment,
    railwayService: settings.service,
  };
}

const FILES = ['railway.json', 'railway.toml'] as const;

/** The service's railway.json / railway.toml, or null when it has none. */
export function railwayConfigFile(serviceDir: string): string | null {
  for (const name of FILES) {
    const file = path.join(serviceDir, name);
    if (existsSync(file)) return file;
  }
  return null;
}

/**
 * The settings of the config-as-code file for one Railway environment: the top level with
 * `environments.<name>` merged over it, flattened (`deploy.healthcheckPath`, `build.builder`, …).
 * Variables are not in this file; the provider adds their names.
 * @throws UserError `PROVIDER_CONFIG_INVALID` naming the file.
 */
export function railwayPlatformConfig(
  serviceDir: string,
  railwayEnvironment: string,
): Pick<PlatformConfig, 'settings' | 'bindings' | 'sources'> {
  const file = railwayConfigFile(serviceDir);
  if (!file) return { settings: {}, bindings: {}, sources: [] };
  let data: Record<string, unknown>;
  try {
    const text = readFileSync(file, 'utf8');
    data = (file.endsWith('.json') ? JSON.parse(text) : parseToml(text)) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the file (Railway reads the same one at deploy), or remove it.' },
    );
  }
  const {
    environments,
    $schema: _schema,
    ...base
  } = data as {
    environments?: Record<string, unknown>;
    $schema?: unknown;
  };
  const override = (environments?.[railwayEnvironment] ?? {}) as Record<string, unknown>;
  const merged = mergeDeep(base, override);
  const settings: Record<string, string> = {};
  flatten(merged, '', settings);
  return { settings, bindings: {}, sources: [file] };
}

function mergeDeep(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      current &&
      typeof current === 'object' &&
      !Array.isArray(current)
        ? mergeDeep(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}
