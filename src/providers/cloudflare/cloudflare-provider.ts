/**
 * The cloudflare provider: Workers, and their D1 databases through d1.ts. The user's
 * own wrangler file describes each environment (the usual layout: the top level is staging,
 * `[env.production]` is production); Airlock never asks for it again.
 *
 * A release is built once by the user's build command (`wrangler deploy --dry-run --outdir
 * dist`); `packageRelease` adds the release's wrangler configuration to that output, and every
 * environment deploys those same bytes with `--no-bundle`:
 *
 * - `mode: local` runs them with `wrangler dev` under Airlock's local runtime (local-mode.ts);
 * - `mode: remote` deploys them to Cloudflare with `wrangler deploy` (remote-mode.ts).
 */

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../../config/resolve.ts';
import { UserError } from '../../errors.ts';

import type { LocalProvider } from '../local/local-provider.ts';
import type {
  DeployOptions,
  DeployOutcome,
  PlatformConfig,
  Provider,
  SecretsOutcome,
  ServiceDeployment,
  ServiceState,
  ServiceTarget,
} from '../provider.ts';
import { secretNamesPart } from '../provider.ts';
import { d1DatabaseEngine } from './d1.ts';
import { LocalWorkers } from './local-mode.ts';
import { RemoteWorkers } from './remote-mode.ts';
import {
  buildWorkerManifest,
  manifestConfig,
  WORKER_MANIFEST,
  type WorkerManifest,
} from './worker-release.ts';
import { envLabel, settingsOf, wranglerFileOf } from './worker-target.ts';
import { findWranglerConfig, wranglerEnvironment } from './wrangler-config.ts';
import { wranglerPlatformConfig } from './wrangler-platform-config.ts';

export interface CloudflareProviderOptions {
  /** The project's Airlock home (`config/home.ts`). */
  home: string;
  /** The process environment (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, PATH). */
  env: Readonly<Record<string, string | undefined>>;
  /** The local runtime, which runs `wrangler dev` in local mode. */
  local: LocalProvider;
  /** The resolved configuration (build output folders, health paths, the pipeline). */
  config?: ResolvedConfig;
}

export class CloudflareProvider implements Provider {
  readonly name = 'cloudflare' as const;
  /** D1, opened for the migrator locally (wrangler dev's file) or through the D1 HTTP API. */
  readonly databaseEngine = d1DatabaseEngine;
  readonly #options: CloudflareProviderOptions;
  readonly #local: LocalWorkers;
  readonly #remote: RemoteWorkers;

  constructor(options: CloudflareProviderOptions) {
    this.#options = options;
    this.#local = new LocalWorkers(options.home, options.env, options.local);
    this.#remote = new RemoteWorkers(options.home, options.env, (target) => {
      const service = options.config?.environments[target.environment]?.services[target.service];
      return service?.health.path ?? '/';
    });
  }

  deploy(d: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome> {
    const settings = settingsOf(d);
    return settings.mode === 'local'
      ? this.#local.deploy(d, settings, options)
      : this.#remote.deploy(d, settings, options);
  }

  /** Local: the local runtime's switch (instant while the release is warm). Remote: `wrangler rollback`. */
  rollback(d: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome> {
    const settings = settingsOf(d);
    return settings.mode === 'local'
      ? this.#local.deploy(d, settings, options)
      : this.#remote.rollback(d, settings, options);
  }

  describe(target: ServiceTarget): Promise<ServiceState> {
    return settingsOf(target).mode === 'local'
      ? this.#local.describe(target)
      : this.#remote.describe(target);
  }

  setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options?: DeployOptions,
  ): Promise<SecretsOutcome> {
    return settingsOf(target).mode === 'local'
      ? this.#local.setSecrets(target, secrets)
      : this.#remote.setSecrets(target, secrets, options);
  }

  secretNames(target: ServiceTarget): Promise<string[]> {
    return settingsOf(target).mode === 'local'
      ? this.#local.secretNames(target)
      : this.#remote.secretNames(target);
  }

  /** The wrangler environment as parity sees it (settings, bindings, var names) plus secret names. */
  async platformConfig(target: ServiceTarget): Promise<PlatformConfig> {
    const settings = settingsOf(target);
    const config = wranglerPlatformConfig(wranglerFileOf(target, settings), settings.env);
    return { ...config, ...(await secretNamesPart(() => this.secretNames(target))) };
  }

  /**
   * Adds `airlock-worker.json` to a Worker's build output: the built commit's wrangler
   * configuration and the entry point, so every environment deploys this release as built.
   * Refuses a release that some environment of the pipeline could not deploy (its
   * `[env.<name>]` section missing).
   * @throws UserError `PROVIDER_CONFIG_INVALID`.
   */
  async packageRelease(
    target: ServiceTarget,
    outputDir: string,
    _release: { commit: string; dirty: boolean },
    options: DeployOptions = {},
  ): Promise<void> {
    const settings = settingsOf(target);
    const config = this.#options.config;
    const output =
      config?.environments[target.environment]?.services[target.service]?.build.output ?? '.';
    // The service folder of the checkout the build ran in (output is relative to it).
    const root = path.resolve(outputDir, path.relative(path.resolve('/', output), '/'));
    const file = settings.config
      ? path.join(root, path.relative(target.serviceDir, settings.config))
      : findWranglerConfig(root);
    if (!file) {
      throw new UserError(
        'PROVIDER_CONFIG_INVALID',
        `the built commit has no wrangler.jsonc, wrangler.json or wrangler.toml in ${path.relative(target.projectDir, target.serviceDir) || '.'}.`,
        {
          hint: `Commit the Worker's wrangler file there, or set services.${target.service}.cloudflare.config to it.`,
        },
      );
    }
    const manifest = buildWorkerManifest(root, file, outputDir);
    this.#checkEnvironments(target, manifest);
    writeFileSync(path.join(outputDir, WORKER_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    options.onProgress?.(
      `packaged ${manifest.main} with ${manifest.source} (${WORKER_MANIFEST}); every environment deploys it with --no-bundle`,
    );
  }

  /** Every cloudflare environment of the pipeline finds its wrangler environment in the release. */
  #checkEnvironments(target: ServiceTarget, manifest: WorkerManifest): void {
    const config = this.#options.config;
    if (!config) return;
    const wrangler = manifestConfig(manifest, manifest.source);
    for (const name of config.pipeline) {
      const settings = config.environments[name]?.services[target.service]?.provider;
      if (settings?.provider !== 'cloudflare') continue;
      try {
        wranglerEnvironment(wrangler, settings.env);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        throw new UserError(
          'PROVIDER_CONFIG_INVALID',
          `${error.message} Airlock environment ${name} deploys as ${envLabel(settings)}.`,
          { ...(error.hint ? { hint: error.hint } : {}) },
        );
      }
    }
  }

  /** Stops the `wrangler dev` processes of an environment (local mode); remote Workers stay. */
  stopEnvironment(environment: string): Promise<void> {
    return this.#options.local.stopEnvironment(environment);
  }
}
