import os from 'node:os';
import path from 'node:path';
import {
  type ResolvedConfig,
  type ResolvedDatabase,
  type ResolvedEnvironment,
  usableDatabase,
} from '../config/resolve.ts';
import { InternalError } from '../errors.ts';
import type { CiFact } from '../gates/gate.ts';
import type { MigrationFolderLayout } from '../migrations/migration-layouts.ts';
import type { Provider, ServiceTarget } from '../providers/provider.ts';
import type { ArtifactStore } from '../releases/artifact-store.ts';
import type { SecretMask } from '../secrets/known-secrets.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Databases } from './databases.ts';
import type { DeploymentObserver } from './deployment-events.ts';
import type { ProgressSink } from './events.ts';

export interface AirlockContext {
  config: ResolvedConfig;
  store: StateStore;
  artifacts: ArtifactStore;
  /** The project's Airlock home, outside the project (`config/home.ts`). */
  home: string;
  /** Who is acting (`--as`, `AIRLOCK_ACTOR`, git `user.email`). */
  actor: string;
  now: () => Date;
  providerFor(environment: ResolvedEnvironment): Provider;
  /** The environments' databases (SQLite, Postgres, and engines providers host such as D1). */
  databases: Databases;
  sink: ProgressSink;
  host: string;
  pid: number;
  /** Environment lock lease (ms); renewed every third of it while a run is active. */
  lockTtlMs: number;
  /** Fault injection for tests: awaited at every step boundary (`before:<step>`, `after:<step>`). */
  pause?: (boundary: string) => Promise<void>;
  /**
   * Told what happened after it is recorded (notifications, GitHub Deployments); never awaited
   * by the pipeline and never able to fail it (see deployment-events.ts).
   */
  observe?: DeploymentObserver;
  /** The command's secret mask: values read during the command (a secret store's) are added to it. */
  mask?: SecretMask;
  /** Reads CI at a commit from GitHub (set when `ci: { github }` is configured and GITHUB_TOKEN is present). */
  githubCi?: (commit: string, required: string[] | null) => Promise<CiFact>;
}

export const DEFAULT_LOCK_TTL_MS = 30_000;

/** Defaults for the machine-derived fields. */
export function processIdentity(): { host: string; pid: number } {
  return { host: os.hostname(), pid: process.pid };
}

/**
 * The service's target in every environment of the pipeline that has it, in pipeline order: what
 * the fly and railway providers compare to refuse two environments that resolve to one app.
 */
export function serviceTargets(config: ResolvedConfig, service: string): ServiceTarget[] {
  return config.pipeline.flatMap((name) => {
    const env = config.environments[name];
    return env?.services[service] ? [serviceTarget(config, env, service)] : [];
  });
}

/** Which service of which environment, as a provider needs to find it. */
export function serviceTarget(
  config: ResolvedConfig,
  env: ResolvedEnvironment,
  service: string,
): ServiceTarget {
  const settings = env.services[service];
  return {
    environment: env.name,
    service,
    port: settings?.port ?? 0,
    projectDir: config.dir,
    serviceDir: path.resolve(config.dir, settings?.root ?? '.'),
    settings: settings?.provider ?? { provider: 'local' },
  };
}

/** The database of `service` in `environment`. @throws InternalError when it has none. */
/**
 * How `service`'s migrations folder is laid out (the same in every environment: `database`
 * is global-only); Airlock's own layout when no environment has the service's database.
 */
export function migrationLayoutOf(config: ResolvedConfig, service: string): MigrationFolderLayout {
  return anyDatabaseOf(config, service)?.layout ?? { layout: 'airlock' };
}

/**
 * `service`'s database as some environment has it, for what is the same in all (its
 * migrations folder and layout: `database` is global-only); undefined when none has one.
 */
export function anyDatabaseOf(
  config: ResolvedConfig,
  service: string,
): ResolvedDatabase | undefined {
  for (const environment of Object.values(config.environments)) {
    const database = environment.services[service]?.database;
    if (database) return database;
  }
  return undefined;
}

export function databaseOf(
  config: ResolvedConfig,
  environment: string,
  service: string,
): ResolvedDatabase {
  const database = config.environments[environment]?.services[service]?.database;
  if (!database)
    throw new InternalError('INTERNAL', `${service} has no database in ${environment}`);
  return usableDatabase(database);
}
