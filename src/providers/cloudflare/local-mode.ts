/**
 * `cloudflare.mode: local`: each environment runs the release's Worker with the project's own
 * `wrangler dev` (workerd) under Airlock's local runtime, which gives it a stable port, the
 * health check, the zero-downtime switch and warm rollback (see local/local-runtime.ts).
 *
 * One environment = one `--persist-to` folder (`<home>/envs/<env>/wrangler`), so staging's and
 * production's D1 databases are separate SQLite files, the very files Airlock's migrator
 * applies migrations to (d1.ts). The bundle runs as built (`--no-bundle`); the release's vars
 * are `--var` flags; secrets are the environment's `.dev.vars`, never a flag.
 */
import path from 'node:path';
import type { LocalProvider } from '../local/local-provider.ts';
import type {
  DeployOptions,
  DeployOutcome,
  ProcessDeployment,
  SecretsOutcome,
  ServiceDeployment,
  ServiceState,
  ServiceTarget,
} from '../provider.ts';
import { devVarsGeneration, readDevVars, writeDevVars } from './dev-vars.ts';
import {
  type CloudflareSettings,
  deployConfigFor,
  envFlag,
  persistDir,
  releaseVars,
  varFlags,
  workDir,
} from './worker-target.ts';
import { findWrangler, wranglerBaseEnv } from './wrangler-cli.ts';

/** Single-quotes an argument for `/bin/sh`. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The `.dev.vars` of one service in one environment. */
export function devVarsFile(home: string, environment: string, service: string): string {
  return path.join(workDir(home, environment, service), '.dev.vars');
}

export class LocalWorkers {
  readonly #home: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #local: LocalProvider;

  constructor(
    home: string,
    env: Readonly<Record<string, string | undefined>>,
    local: LocalProvider,
  ) {
    this.#home = home;
    this.#env = env;
    this.#local = local;
  }

  /**
   * The process the local runtime starts for a deployment:
   * `wrangler dev --no-bundle --config <generated> --env=<e> --ip 127.0.0.1 --port $PORT
   *  --inspector-port 0 --persist-to <env folder> --show-interactive-dev-session=false --var …`.
   */
  processFor(
    d: ServiceDeployment,
    settings: CloudflareSettings,
    onProgress?: (message: string) => void,
  ): ProcessDeployment {
    const wrangler = findWrangler(d.serviceDir, this.#env);
    const { file } = deployConfigFor(this.#home, d, settings, onProgress);
    const args = [
      'dev',
      '--no-bundle',
      '--config',
      file,
      envFlag(settings),
      '--ip',
      '127.0.0.1',
      '--port',
      '$PORT',
      '--inspector-port',
      '0',
      '--persist-to',
      persistDir(this.#home, d.environment),
      '--show-interactive-dev-session=false',
      ...varFlags(releaseVars(d.env)),
    ];
    const run = [wrangler.command, ...wrangler.prefix, ...args]
      .map((arg) => (arg === '$PORT' ? '"$PORT"' : shellQuote(arg)))
      .join(' ');
    const logs = path.join(this.#home, 'envs', d.environment, 'logs');
    return {
      environment: d.environment,
      service: d.service,
      port: d.port,
      release: d.release,
      artifactDir: d.artifactDir,
      run,
      env: {
        ...wranglerBaseEnv(),
        // wrangler's own debug logs, and its dev registry (service bindings between the Workers
        // of one environment, never across environments), kept with the environment.
        WRANGLER_LOG_PATH: path.join(logs, 'wrangler-debug'),
        WRANGLER_REGISTRY_PATH: path.join(this.#home, 'envs', d.environment, 'wrangler-registry'),
        // Which secrets the process starts with (not their values): a warm process started
        // with older secrets is not reused for a rollback.
        AIRLOCK_SECRETS_GENERATION: devVarsGeneration(
          devVarsFile(this.#home, d.environment, d.service),
        ),
      },
      health: d.health,
      drainTimeoutMs: d.drainTimeoutMs,
      keepWarmMs: d.keepWarmMs,
      stopTimeoutMs: d.stopTimeoutMs,
      ...(d.fence !== undefined ? { fence: d.fence } : {}),
    };
  }

  async deploy(
    d: ServiceDeployment,
    settings: CloudflareSettings,
    options?: DeployOptions,
  ): Promise<DeployOutcome> {
    const process = this.processFor(d, settings, options?.onProgress);
    await this.#local.client.ensureStarted();
    return this.#local.client.deploy(process, options);
  }

  describe(target: ServiceTarget): Promise<ServiceState> {
    return this.#local.describe(target);
  }

  /** Writes the environment's `.dev.vars`; they take effect at the next deployment. */
  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
  ): Promise<SecretsOutcome> {
    writeDevVars(devVarsFile(this.#home, target.environment, target.service), secrets);
    return { set: Object.keys(secrets).sort() };
  }

  async secretNames(target: ServiceTarget): Promise<string[]> {
    return Object.keys(
      readDevVars(devVarsFile(this.#home, target.environment, target.service)),
    ).sort();
  }
}
