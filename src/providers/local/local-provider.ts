/**
 * The local provider: Airlock's embedded default target. Each environment's services run as
 * processes on this machine behind a stable proxy port per service, supervised by the local
 * runtime daemon (`runtime-daemon.ts`), which outlives the CLI. Deploys follow kamal-proxy
 * (start new, health-check, switch, drain old); rollback to a release still kept warm switches
 * at once (Argo Rollouts).
 */
import type {
  DeployOptions,
  DeployOutcome,
  Provider,
  ServiceDeployment,
  ServiceState,
} from '../provider.ts';
import { LocalRuntimeClient } from './runtime-client.ts';
import { emptyServiceState, readStateFile } from './runtime-files.ts';

/** Options of {@link LocalProvider}. */
export interface LocalProviderOptions {
  /** The project's `.airlock` directory. */
  home: string;
  /** Custom daemon entry file (see `LocalRuntimeClientOptions.daemonEntry`). */
  daemonEntry?: string;
  /** Extra arguments for that entry (see `LocalRuntimeClientOptions.daemonArgs`). */
  daemonArgs?: string[];
  /** Extra environment for that entry (see `LocalRuntimeClientOptions.daemonEnv`). */
  daemonEnv?: Record<string, string>;
}

/** `Provider` for the local runtime; a thin layer over {@link LocalRuntimeClient}. */
export class LocalProvider implements Provider {
  readonly name = 'local';
  readonly client: LocalRuntimeClient;

  constructor(options: LocalProviderOptions) {
    this.client = new LocalRuntimeClient(options);
  }

  /**
   * Starts the local runtime if needed, then deploys through it (see `LocalRuntime.deploy`).
   * @throws ProviderError `HEALTH_TIMEOUT`, `APP_EXITED`, `PORT_IN_USE`, `DEPLOY_ABORTED`,
   *   `PROVIDER_UNAVAILABLE`; the previous release keeps serving in every case.
   */
  async deploy(deployment: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome> {
    await this.client.ensureStarted();
    return this.client.deploy(deployment, options);
  }

  /** What serves; when the runtime is not running, nothing does (it is not started for this). */
  async describe(environment: string, service: string, port: number): Promise<ServiceState> {
    if (!(await this.client.isRunning())) return emptyServiceState(environment, service, port);
    return this.client.describe(environment, service, port);
  }

  /**
   * Stops everything of an environment. When the runtime is not running but state.json still
   * lists the environment (it would come back at the next start), the runtime is started so it
   * can forget it and stop any leftover processes.
   */
  async stopEnvironment(environment: string): Promise<void> {
    if (!(await this.client.isRunning())) {
      const state = await readStateFile(this.client.home);
      const listed =
        state.services.some((record) => record.environment === environment) ||
        state.processes.some((record) => record.environment === environment);
      if (!listed) return;
      await this.client.ensureStarted();
    }
    await this.client.stopEnvironment(environment);
  }
}
