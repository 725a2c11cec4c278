/**
 * Which fly.toml and which Fly app one Airlock environment uses (staging as a production mirror: fly.staging.toml
 * beside fly.toml, two apps), read from the user's own files. Pure apart from reading them.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { InternalError, UserError } from '../../errors.ts';
import type { ServiceTarget } from '../provider.ts';

export interface FlyTarget {
  environment: string;
  service: string;
  /** Absolute path of this environment's fly.toml. */
  config: string;
  app: string;
  /** `[deploy] strategy` in the fly.toml, when the user chose one. */
  strategy: string | null;
  /** `fly.url` from airlock.yaml (a custom domain), or null. */
  url: string | null;
}

/** This environment's fly.toml: `fly.config`, else fly.<env>.toml when it exists, else fly.toml. */
export function flyConfigPath(target: ServiceTarget): string {
  const settings = target.settings;
  if (settings.provider !== 'fly')
    throw new InternalError('INTERNAL', `the fly provider got ${settings.provider} settings`);
  if (settings.config) return settings.config;
  const perEnvironment = path.join(target.serviceDir, `fly.${target.environment}.toml`);
  return existsSync(perEnvironment) ? perEnvironment : path.join(target.serviceDir, 'fly.toml');
}

/** Reads a fly.toml. @throws UserError `PROVIDER_CONFIG_INVALID` naming the file. */
export function readFlyToml(file: string): Record<string, unknown> {
  if (!existsSync(file)) {
    throw new UserError('PROVIDER_CONFIG_INVALID', `${file} does not exist.`, {
      hint: 'Create it (`fly launch --no-deploy`, or copy fly.toml to fly.<environment>.toml), or set fly.config for this environment in airlock.yaml.',
    });
  }
  try {
    return parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${file}: ${(error as Error).message.split('\n')[0]}`,
      { hint: 'Fix the TOML (flyctl reads the same file), or set fly.config in airlock.yaml.' },
    );
  }
}

/**
 * The fly.toml and app of one environment's service.
 * @throws UserError `PROVIDER_CONFIG_INVALID` when the file is missing or names no app.
 */
export function resolveFlyTarget(target: ServiceTarget): FlyTarget {
  const config = flyConfigPath(target);
  const toml = readFlyToml(config);
  const settings = target.settings as Extract<ServiceTarget['settings'], { provider: 'fly' }>;
  const app = settings.app ?? (typeof toml.app === 'string' ? toml.app : null);
  if (!app) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `${config} names no app, and airlock.yaml sets no fly.app for ${target.service} in ${target.environment}.`,
      { hint: `Add \`app = "<name>"\` to ${path.basename(config)}, or set fly: { app: <name> }.` },
    );
  }
  const deploy = toml.deploy as { strategy?: unknown } | undefined;
  return {
    environment: target.environment,
    service: target.service,
    config,
    app,
    strategy: typeof deploy?.strategy === 'string' ? deploy.strategy : null,
    url: settings.url ?? null,
  };
}
