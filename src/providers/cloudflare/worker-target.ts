/**
 * What both modes of the cloudflare provider share: the provider settings of a target, the
 * user's wrangler file, the per-environment folder Airlock keeps for a Worker, and the wrangler
 * file a deployment runs from (written from the release's manifest).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ProviderSettings } from '../../config/resolve.ts';
import { InternalError, UserError } from '../../errors.ts';
import type { ServiceDeployment, ServiceTarget } from '../provider.ts';
import {
  buildWorkerManifest,
  readWorkerManifest,
  type WorkerManifest,
  writeDeployConfig,
} from './worker-release.ts';
import { findWranglerConfig } from './wrangler-config.ts';

export type CloudflareSettings = Extract<ProviderSettings, { provider: 'cloudflare' }>;

/** @throws InternalError when the target is not a cloudflare one (a wiring bug). */
export function settingsOf(target: ServiceTarget): CloudflareSettings {
  if (target.settings.provider !== 'cloudflare') {
    throw new InternalError(
      'INTERNAL',
      `${target.service} in ${target.environment} is not a cloudflare target (${target.settings.provider}).`,
    );
  }
  return target.settings;
}

/** How wrangler names the environment on its command line: `--env=` selects the top level. */
export function envFlag(settings: CloudflareSettings): string {
  return `--env=${settings.env ?? ''}`;
}

/** `the top level` or `[env.production]`, for messages. */
export function envLabel(settings: CloudflareSettings): string {
  return settings.env === null ? 'the top level' : `[env.${settings.env}]`;
}

/**
 * The user's wrangler file for a target (`cloudflare.config`, else the first of
 * wrangler.jsonc/.json/.toml in the service folder).
 * @throws UserError `PROVIDER_CONFIG_INVALID` when there is none.
 */
export function wranglerFileOf(target: ServiceTarget, settings = settingsOf(target)): string {
  const file = settings.config ?? findWranglerConfig(target.serviceDir);
  if (!file) {
    throw new UserError(
      'PROVIDER_CONFIG_INVALID',
      `no wrangler.jsonc, wrangler.json or wrangler.toml in ${target.serviceDir} (service ${target.service}).`,
      {
        hint: `Add the Worker's wrangler file there, or set services.${target.service}.cloudflare.config to it (relative to the service folder).`,
      },
    );
  }
  return file;
}

/** `<home>/envs/<env>/cloudflare/<service>/`: generated wrangler files, `.dev.vars`, records (0700). */
export function workDir(home: string, environment: string, service: string): string {
  const dir = path.join(home, 'envs', environment, 'cloudflare', service);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** `<home>/envs/<env>/wrangler`: wrangler dev's `--persist-to` (D1, KV, R2, Durable Objects). */
export function persistDir(home: string, environment: string): string {
  return path.join(home, 'envs', environment, 'wrangler');
}

/** `<home>/envs/<env>/logs/wrangler-<service>.log`: every wrangler command's output, masked. */
export function wranglerLog(home: string, environment: string, service: string): string {
  return path.join(home, 'envs', environment, 'logs', `wrangler-${service}.log`);
}

/**
 * The release's manifest; for a release built without one (its first environment was not a
 * cloudflare one), a manifest made from the working tree's wrangler file, said so.
 */
export function manifestOf(
  d: ServiceDeployment,
  settings: CloudflareSettings,
  onProgress?: (message: string) => void,
): WorkerManifest {
  const manifest = readWorkerManifest(d.artifactDir);
  if (manifest) return manifest;
  const file = wranglerFileOf(d, settings);
  onProgress?.(
    `release ${d.release.id} carries no wrangler configuration; using ${path.relative(d.serviceDir, file)} from the working tree`,
  );
  return buildWorkerManifest(path.dirname(file), file, d.artifactDir);
}

/**
 * Writes the wrangler file this deployment runs from and returns its path
 * (`wrangler.<release>.jsonc` in the environment's work folder).
 * @throws UserError `PROVIDER_CONFIG_INVALID` (no such wrangler environment, no entry point).
 */
export function deployConfigFor(
  home: string,
  d: ServiceDeployment,
  settings: CloudflareSettings,
  onProgress?: (message: string) => void,
): { file: string; manifest: WorkerManifest } {
  const manifest = manifestOf(d, settings, onProgress);
  const file = path.join(workDir(home, d.environment, d.service), `wrangler.${d.release.id}.jsonc`);
  writeDeployConfig(manifest, d.artifactDir, file, settings.env);
  return { file, manifest };
}

/**
 * The plain variables a deployment binds (`--var NAME:value`): the service's vars and the
 * release's AIRLOCK_* facts. `DATABASE_URL` of a D1 database (`d1:…`) means nothing to a Worker,
 * which reaches D1 through its binding, and is left out.
 */
export function releaseVars(env: Record<string, string>): [string, string][] {
  return Object.entries(env)
    .filter(([name, value]) => !(name === 'DATABASE_URL' && value.startsWith('d1:')))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `--var NAME:value` for each variable. */
export function varFlags(vars: [string, string][]): string[] {
  return vars.flatMap(([name, value]) => ['--var', `${name}:${value}`]);
}
