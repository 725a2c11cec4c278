/**
 * The interface every provider implements (local, and later cloudflare, fly, railway, command).
 * A provider puts one service of one release into one environment and reports what runs there.
 * The core never imports a provider's folder; it receives a `Provider` (DESIGN.md principle 3).
 *
 * Rolling back is deploying an earlier release: a provider that still has that release warm
 * (Argo Rollouts' "fast rollback while the old instance is still up") switches to it at once.
 */

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

/** Everything a provider needs to deploy one service of one release into one environment. */
export interface ServiceDeployment {
  environment: string;
  service: string;
  release: ReleaseRef;
  /** Absolute path of a verified copy of the service's build output; the app's working directory. */
  artifactDir: string;
  /** Shell command that starts the app, run in `artifactDir` (e.g. `node server.js`). */
  run: string;
  /**
   * Environment variables for the app. The provider adds `PORT`. The caller sets
   * `DATABASE_URL`, `AIRLOCK_ENV`, `AIRLOCK_RELEASE`, `AIRLOCK_COMMIT` and the configured vars.
   */
  env: Record<string, string>;
  /** The environment's stable public port for this service (local provider's proxy port). */
  port: number;
  health: HealthProbe;
  /** After the switch, wait at most this long (ms) for the old process's in-flight requests. */
  drainTimeoutMs: number;
  /** Keep the old process running this long (ms) after draining, for instant rollback. 0 = stop it. */
  keepWarmMs: number;
  /** Grace period (ms) between SIGTERM and SIGKILL when stopping a process. */
  stopTimeoutMs: number;
  /**
   * The environment lock's fencing token (grows with every acquisition). A provider refuses a
   * deployment whose fence is lower than one it has seen for the environment (`LOCK_LOST`),
   * and abandons an unfinished one when a higher fence arrives.
   */
  fence?: number;
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
  /** True when an already-running warm process of this release was switched to (no boot). */
  reusedWarm: boolean;
  /** Time from spawning the process until its health path answered 200 (0 when warm). */
  bootMs: number;
  /** Time to switch traffic once the candidate was healthy. */
  switchMs: number;
  /** Release id that served before, or null for the first deployment. */
  previousRelease: string | null;
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
}

export interface Provider {
  /** `local`, `cloudflare`, `fly`, `railway`, `command`. */
  readonly name: string;
  /**
   * Deploys a service. Resolves once traffic is switched to the new release.
   * @throws ProviderError `HEALTH_TIMEOUT`, `APP_EXITED`, `PORT_IN_USE`, `DEPLOY_ABORTED`,
   *   `PROVIDER_UNAVAILABLE`. In every case the previous release keeps serving.
   */
  deploy(deployment: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome>;
  /** Reports what serves one service in one environment. Never throws for "nothing deployed". */
  describe(environment: string, service: string, port: number): Promise<ServiceState>;
  /** Stops everything the provider runs for an environment (used by `airlock demo` cleanup). */
  stopEnvironment(environment: string): Promise<void>;
}
