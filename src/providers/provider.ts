/**
 * The interface every provider implements: local, cloudflare, fly, railway and command.
 * A provider puts one service of one release into one environment and reports what runs
 * there. It also rolls back, sets secrets, and (for platform-owned databases such as D1)
 * opens the migration driver. The core never imports a provider's folder. It receives a
 * `Provider` from `providers/registry.ts` (dependencies are passed in, as Hono's `createApp`).
 *
 * One contract suite (test/providers/contract.ts) runs against every provider, and the fakes
 * of platforms that cannot be reached from here run it too.
 *
 * Rolling back means serving an earlier release again. A provider that still has that release
 * (a warm process, a platform version or image) switches to it at once (Argo Rollouts). Any
 * other provider deploys it again from its artifact.
 */
import type { ProviderSettings, ResolvedDatabase } from '../config/resolve.ts';
import type { DatabaseLocation, MigrationDriver } from '../migrations/migration-driver.ts';
import type { DeploymentKind } from '../state/state-store.ts';

export type ProviderName = 'local' | 'cloudflare' | 'fly' | 'railway' | 'command';

/** Which service of which environment, with the settings a provider needs to find it. */
export interface ServiceTarget {
  environment: string;
  service: string;
  /** The environment's stable local port for this service (local provider); 0 when none. */
  port: number;
  /** Absolute path of the project root (where airlock.yaml is). */
  projectDir: string;
  /** Absolute path of the service's folder (where wrangler.toml / fly.toml usually are). */
  serviceDir: string;
  /** The provider's own settings for this environment and service, resolved from airlock.yaml. */
  settings: ProviderSettings;
}

/** Identifies a release to a provider. */
export interface ReleaseRef {
  /** Human id, e.g. `r3`. */
  id: string;
  /** sha256 of the release manifest, lowercase hex (64 chars). */
  digest: string;
  /** Git commit SHA (40 hex chars). */
  commit: string;
}

/** Health probe of a candidate process before traffic switches to it. */
export interface HealthProbe {
  /** Path requested with GET; 200 means healthy. */
  path: string;
  /** Give up after this long (ms); the deployment fails and the old release keeps serving. */
  timeoutMs: number;
  /** Pause between probes (ms). */
  intervalMs: number;
}

/**
 * What a process-running target (the local runtime, and wrangler dev behind it) needs to run
 * one service of one release: the process-level part of a deployment.
 */
export interface ProcessDeployment {
  environment: string;
  service: string;
  /** The environment's stable public port for this service (local provider's proxy port). */
  port: number;
  release: ReleaseRef;
  /** Absolute path of a verified copy of the service's build output; the app's working directory. */
  artifactDir: string;
  /**
   * Set when the pipeline did not verify `artifactDir` because a warm process of this release
   * already runs from it (see `ServiceState.warmCopies`): a provider that has to start a new
   * process from it instead (the warm one was gone or unhealthy) verifies the copy first.
   */
  copyUnverified?: boolean;
  /** Shell command that starts the app, run in `artifactDir` (e.g. `node server.js`). */
  run: string;
  /**
   * Environment variables for the app. The provider adds `PORT`. The caller sets
   * `DATABASE_URL`, `AIRLOCK_ENV`, `AIRLOCK_RELEASE`, `AIRLOCK_COMMIT` and the configured vars.
   */
  env: Record<string, string>;
  /**
   * A JSON file of secrets (`{NAME: value}`, mode 0600) merged into the app's environment when
   * its process starts, so values never travel in the deployment or the runtime's state.
   */
  secretsFile?: string;
  health: HealthProbe;
  /** After the switch, wait at most this long (ms) for the old process's in-flight requests. */
  drainTimeoutMs: number;
  /** Keep the old process running this long (ms) after draining, for instant rollback. 0 = stop it. */
  keepWarmMs: number;
  /**
   * At most this many earlier releases kept warm at once (default 1); the oldest warm process
   * beyond it is stopped.
   */
  keepWarmReleases?: number;
  /** Grace period (ms) between SIGTERM and SIGKILL when stopping a process. */
  stopTimeoutMs: number;
  /**
   * The environment lock's fencing token (grows with every acquisition). A provider refuses a
   * deployment whose fence is lower than one it has seen for the environment (`LOCK_LOST`),
   * and abandons an unfinished one when a higher fence arrives.
   */
  fence?: number;
  /**
   * Marks the switch as "checks pending" for this long (ms): unless the pipeline renews or
   * confirms it (see {@link Provider.checksLease}) before then, the platform switches back by
   * itself to the release that served before (local runtime). Absent or 0: no lease (a rollback,
   * a restart).
   */
  checksLeaseMs?: number;
}

/** What a {@link Provider.checksLease} call found. */
export interface ChecksLeaseState {
  /** True while the release's switch still waits for its checks (after a renewal: renewed). */
  pending: boolean;
  /** Release serving now (null: nothing); another one than asked means it was switched back. */
  serving: string | null;
  /** ISO-8601 end of the lease, when pending. */
  expiresAt: string | null;
}

/** Everything a provider needs to deploy one service of one release into one environment. */
export interface ServiceDeployment extends ProcessDeployment, ServiceTarget {
  /** What the pipeline is doing: a platform may use its own rollback for `rollback`. */
  kind: DeploymentKind;
}

export interface DeployOptions {
  /** Aborting before the switch stops the candidate; the old release keeps serving. */
  signal?: AbortSignal;
  /** Progress lines for the live view ("waiting for /health (1.2 s)"). */
  onProgress?: (message: string) => void;
}

/** What a successful deployment reports. Times in ms. */
export interface DeployOutcome {
  /** Public URL of the service in this environment, e.g. `http://127.0.0.1:4100`. */
  url: string;
  /** True when the release was still there (a warm process, a platform version or image): no boot or upload. */
  reusedWarm: boolean;
  /** Time from spawning the process until its health path answered 200 (0 when warm). */
  bootMs: number;
  /** Time to switch traffic once the candidate was healthy. */
  switchMs: number;
  /** Release id that served before, or null for the first deployment. */
  previousRelease: string | null;
  /**
   * Set when the switch waits for its checks under a lease of this many ms (see
   * `ProcessDeployment.checksLeaseMs`): renew or confirm it with {@link Provider.checksLease}.
   */
  checksLeaseMs?: number;
}

/** A process crash seen by the provider. */
export interface CrashRecord {
  /** ISO-8601 time. */
  at: string;
  release: string;
  exitCode: number | null;
  signal: string | null;
}

/** What runs for one service in one environment right now. */
export interface ServiceState {
  environment: string;
  service: string;
  url: string;
  /** Release serving traffic, or null when nothing serves. */
  release: string | null;
  pid: number | null;
  /** ISO-8601 time the serving release started serving. */
  since: string | null;
  /** True when the serving process answers its health path. */
  healthy: boolean;
  /** Times the serving release's process was restarted after a crash. */
  restarts: number;
  lastCrash: CrashRecord | null;
  /** Releases kept warm for instant rollback. */
  warm: string[];
  /**
   * True when the provider's own listener holds the port in `url` for this service, even while
   * nothing serves (the local runtime's proxy after a crashed release it would not restart): a
   * redeploy there is not a port conflict.
   */
  listening?: boolean;
  /**
   * Where each warm process runs from (providers that run copies on this machine: the local
   * runtime). Its copy was verified when the process started and its code is loaded: switching
   * back to it needs no second look at the files (a restart does, see `copyUnverified`).
   */
  warmCopies?: Array<{ release: string; digest: string; artifactDir: string; pid: number }>;
}

/**
 * An environment's platform configuration as parity compares it (staging
 * is "a 100% production mirror": identical configuration and resources, only names, databases
 * and secrets differ). Values of secrets never appear; vars by name only.
 */
export interface PlatformConfig {
  /** Resources and settings, flattened to dotted keys: `vm.memory` → `512mb`, `compatibility_date` → `2026-01-01`. */
  settings: Record<string, string>;
  /** Bindings (D1, KV, R2, services, volumes, …): name → kind. */
  bindings: Record<string, string>;
  /** Names of plain variables. */
  vars: string[];
  /** Names of secrets. */
  secrets: string[];
  /** Files the configuration was read from (for messages). */
  sources: string[];
  /**
   * Parts that could not be read, each with its reason (`secret names: flyctl is not
   * installed …`): `airlock diff` shows the rest and says what it did not compare; the parity
   * gate fails on them (it cannot tell a mirror from what it could not read).
   */
  unread?: string[];
}

/**
 * The `secrets` and `unread` part of a {@link PlatformConfig}: the names `read` returns, or none
 * and the reason it failed (a missing CLI, a refused token). Never throws.
 */
export async function secretNamesPart(
  read: () => Promise<string[]>,
): Promise<Pick<PlatformConfig, 'secrets' | 'unread'>> {
  try {
    return { secrets: await read() };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { secrets: [], unread: [`secret names: ${reason}`] };
  }
}

/** What `setSecrets` reports: names only, never values. */
export interface SecretsOutcome {
  /** Names set (created or replaced). */
  set: string[];
}

export interface Provider {
  readonly name: ProviderName;
  /**
   * Deploys a service. Resolves once traffic is switched to the new release.
   * @throws ProviderError `HEALTH_TIMEOUT`, `APP_EXITED`, `PORT_IN_USE`, `DEPLOY_ABORTED`,
   *   `PROVIDER_UNAVAILABLE`, `PROVIDER_COMMAND_FAILED`. In every case the previous release
   *   keeps serving.
   */
  deploy(deployment: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome>;
  /**
   * Serves an earlier release again (`deployment.release`, `kind: 'rollback'`): through the
   * platform's own rollback when it still has that release, else by deploying it.
   * @throws as `deploy`.
   */
  rollback(deployment: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome>;
  /** Reports what serves one service in one environment. Never throws for "nothing deployed". */
  describe(target: ServiceTarget): Promise<ServiceState>;
  /**
   * Optional (platforms that outlive the CLI and can switch back by themselves: the local
   * runtime): `renew` extends the "checks pending" lease of `release`'s switch by `ms`;
   * `confirm` ends it (the checks completed; the release stays). Either is a no-op when
   * `release` is not pending; the answer says what serves.
   * @throws ProviderError `PROVIDER_UNAVAILABLE`.
   */
  checksLease?(
    target: ServiceTarget,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): Promise<ChecksLeaseState>;
  /**
   * Sets secrets of one service in one environment (`wrangler secret put --env`, `fly secrets
   * set`, Railway variables …). Values never reach logs, errors, state or argv.
   * @throws ProviderError `PROVIDER_COMMAND_FAILED`, `PROVIDER_UNAVAILABLE`.
   */
  setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
    options?: DeployOptions,
  ): Promise<SecretsOutcome>;
  /** Names of the secrets set for one service in one environment (for parity; never values). */
  secretNames(target: ServiceTarget): Promise<string[]>;
  /**
   * The environment's configuration from the user's own files (wrangler.toml env section,
   * fly.<env>.toml, railway.json …) plus secret names, for `airlock diff` and the parity gate.
   * @throws UserError `PROVIDER_CONFIG_INVALID` naming the file.
   */
  platformConfig(target: ServiceTarget): Promise<PlatformConfig>;
  /**
   * Optional: turns a service's build output into what this platform deploys, once per
   * release, before the artifact is stored (e.g. push one image and record its digest in
   * `outputDir`, so every environment gets those bytes). Called once per provider the pipeline
   * uses, with the settings of the first environment that uses it.
   */
  packageRelease?(
    target: ServiceTarget,
    outputDir: string,
    release: {
      commit: string;
      dirty: boolean;
      /** The service's folder in the checkout the release was built in (the working tree when dirty). */
      sourceDir: string;
    },
    options?: DeployOptions,
  ): Promise<void>;
  /**
   * Optional: refuses, before anything changes, an artifact this platform could not run as it
   * is (the verify step calls it with the stored artifact of every service, before migrations
   * and the switch). The local provider checks that a Node artifact carries its dependencies.
   * @throws ProviderError `ARTIFACT_INCOMPLETE` naming what is missing and the fix.
   */
  verifyArtifact?(target: ServiceTarget, artifactDir: string): Promise<void>;
  /**
   * Optional: what this platform needs before anything changes (the verify step calls it for
   * every service before migrations run): the local provider's stable port is free or already
   * its own; a remote platform's credentials are set. Reads only. `state`: what
   * {@link describe} answered for the target moments ago (null: it could not be asked), so a
   * provider that needs it does not ask again.
   * @throws ProviderError `PORT_IN_USE`, `PROVIDER_AUTH` naming what is wrong and the fix.
   */
  preflight?(target: ServiceTarget, state?: ServiceState | null): Promise<void>;
  /** Stops everything the provider runs for an environment (used by `airlock demo` cleanup). */
  stopEnvironment(environment: string): Promise<void>;
  /**
   * Optional: a database engine this platform hosts (Cloudflare: D1), opened for the migrator
   * and the tools that read schemas. The core reaches it only through here.
   */
  readonly databaseEngine?: DatabaseEngine;
}

/** A database engine a platform hosts; the core opens SQLite and Postgres itself. */
export interface DatabaseEngine {
  readonly engine: 'd1';
  /**
   * Opens the migration driver of one of its databases.
   * @throws UserError when the database cannot be reached (e.g. no API token).
   */
  open(database: ResolvedDatabase): Promise<MigrationDriver>;
  /**
   * Where its rows are for tools that open them directly (dry run, drift, describe): a SQLite
   * file (for a remote database, a schema-only snapshot taken at the call).
   */
  location(database: ResolvedDatabase): Promise<DatabaseLocation>;
  /** True when reading the ledger would have to create the database (nothing ran there yet). */
  missing(database: ResolvedDatabase): Promise<boolean>;
}
