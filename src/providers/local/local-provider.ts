/**
 * The local provider: Airlock's embedded default target. Each environment's services run as
 * processes on this machine behind a stable proxy port per service, supervised by the local
 * runtime daemon (`runtime-daemon.ts`), which outlives the CLI. Deploys follow kamal-proxy
 * (start new, health-check, switch, drain old); rollback to a release still kept warm switches
 * at once (Argo Rollouts).
 */
import net from 'node:net';
import { ProviderError } from '../../errors.ts';
import { checkNodeArtifact } from '../../releases/node-artifact.ts';
import type {
  ChecksLeaseState,
  DeployOptions,
  DeployOutcome,
  PlatformConfig,
  ProcessDeployment,
  Provider,
  SecretsOutcome,
  ServiceDeployment,
  ServiceState,
  ServiceTarget,
} from '../provider.ts';
import { localSecretsFile, readLocalSecrets, writeLocalSecrets } from './local-secrets.ts';
import { LocalRuntimeClient } from './runtime-client.ts';
import { emptyServiceState, readStateFile, urlFor } from './runtime-files.ts';

/** Options of {@link LocalProvider}. */
/** Whether 127.0.0.1:`port` can be listened on now (listen, then close at once). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface LocalProviderOptions {
  /** The project's Airlock home (`config/home.ts`). */
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
  readonly name = 'local' as const;
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
    return this.client.deploy(this.processOf(deployment), options);
  }

  /** The process-level part the runtime needs; secrets come from the file at spawn. */
  processOf(d: ServiceDeployment): ProcessDeployment {
    return {
      environment: d.environment,
      service: d.service,
      port: d.port,
      release: d.release,
      artifactDir: d.artifactDir,
      run: d.run,
      env: d.env,
      secretsFile: localSecretsFile(this.client.home, d.environment, d.service),
      health: d.health,
      drainTimeoutMs: d.drainTimeoutMs,
      keepWarmMs: d.keepWarmMs,
      ...(d.keepWarmReleases !== undefined ? { keepWarmReleases: d.keepWarmReleases } : {}),
      stopTimeoutMs: d.stopTimeoutMs,
      ...(d.fence !== undefined ? { fence: d.fence } : {}),
      ...(d.checksLeaseMs ? { checksLeaseMs: d.checksLeaseMs } : {}),
      ...(d.copyUnverified ? { copyUnverified: true } : {}),
    };
  }

  /**
   * The app runs from a copy of the artifact, so a Node artifact must carry its dependencies:
   * every `dependencies` entry of its package.json in its own node_modules (see
   * node-artifact.ts). Checked before migrations and the switch.
   * @throws ProviderError `ARTIFACT_INCOMPLETE` naming the modules and the fix.
   */
  async verifyArtifact(target: ServiceTarget, artifactDir: string): Promise<void> {
    const check = checkNodeArtifact(artifactDir);
    const outside = Object.keys(check.outside);
    if (check.missing.length === 0 && outside.length === 0) return;
    const names = [...check.missing, ...outside];
    const list =
      names.slice(0, 8).join(', ') + (names.length > 8 ? ` and ${names.length - 8} more` : '');
    const what =
      check.missing.length > 0
        ? `lacks ${names.length === 1 ? 'a dependency' : `${names.length} dependencies`} its package.json lists: ${list}`
        : `reaches ${list} through a link that leaves the artifact (${check.outside[outside[0] as string]})`;
    throw new ProviderError(
      'ARTIFACT_INCOMPLETE',
      `The artifact of ${target.service} ${what}. It would not start where it runs (node_modules/${names[0]} is not inside it); nothing was changed in ${target.environment}.`,
      {
        hint: `Make services.${target.service}.build install the production dependencies into the output folder (npm: copy package.json and package-lock.json there and run \`npm ci --omit=dev\` in it; pnpm: \`pnpm deploy --prod <folder>\`): docs/node-apps.md has the recipe per package manager, and \`airlock init --print\` writes one for this project. Then build and deploy again.`,
        details: {
          environment: target.environment,
          service: target.service,
          missing: check.missing,
          outside: check.outside,
        },
      },
    );
  }

  /**
   * The stable port must be free, or already served by this runtime for this very
   * environment and service (a redeploy): a port another process holds is found here, before
   * migrations run, not at the switch.
   * @throws ProviderError `PORT_IN_USE` naming the port and the fix.
   */
  async preflight(target: ServiceTarget, state?: ServiceState | null): Promise<void> {
    if (!target.port) return;
    // A redeploy (what this runtime serves there, or its proxy still holds after a crashed
    // release it would not restart) first: no probe of a port known to be ours.
    const known =
      state !== undefined && state !== null
        ? state
        : (await this.client.isRunning())
          ? await this.describe(target)
          : null;
    if (known && (known.release !== null || (known.listening && known.url === urlFor(target.port))))
      return;
    if (await canListen(target.port)) return;
    throw new ProviderError(
      'PORT_IN_USE',
      `Port ${target.port} (environment ${target.environment}, service ${target.service}) is already in use by another process; nothing was changed in ${target.environment}.`,
      {
        hint: `Stop whatever listens on 127.0.0.1:${target.port} (\`ss -ltnp 'sport = :${target.port}'\` shows it), or change \`port\` of ${target.service} for environment ${target.environment} in airlock.yaml to a free port.`,
        details: { port: target.port, environment: target.environment, service: target.service },
      },
    );
  }

  /** A rollback is a deployment of the earlier release: instant when it is still warm. */
  rollback(deployment: ServiceDeployment, options?: DeployOptions): Promise<DeployOutcome> {
    return this.deploy(deployment, options);
  }

  /** What serves; when the runtime is not running, nothing does (it is not started for this). */
  async describe(target: ServiceTarget): Promise<ServiceState> {
    const { environment, service, port } = target;
    if (!(await this.client.isRunning())) return emptyServiceState(environment, service, port);
    return this.client.describe(environment, service, port);
  }

  /** Renews or confirms a switch's checks lease in the runtime (see `LocalRuntime.checksLease`). */
  checksLease(
    target: ServiceTarget,
    release: string,
    action: 'renew' | 'confirm',
    ms?: number,
  ): Promise<ChecksLeaseState> {
    return this.client.checksLease(target.environment, target.service, release, action, ms);
  }

  /** Writes the secrets file the app reads at its next start (see local-secrets.ts). */
  async setSecrets(
    target: ServiceTarget,
    secrets: Record<string, string>,
  ): Promise<SecretsOutcome> {
    writeLocalSecrets(
      localSecretsFile(this.client.home, target.environment, target.service),
      secrets,
    );
    return { set: Object.keys(secrets).sort() };
  }

  /** The service's vars as configured (the local target has no other resources), and secret names. */
  async platformConfig(target: ServiceTarget): Promise<PlatformConfig> {
    return {
      settings: {},
      bindings: {},
      vars: [],
      secrets: await this.secretNames(target),
      sources: [localSecretsFile(this.client.home, target.environment, target.service)],
    };
  }

  async secretNames(target: ServiceTarget): Promise<string[]> {
    return Object.keys(
      readLocalSecrets(localSecretsFile(this.client.home, target.environment, target.service)),
    ).sort();
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
