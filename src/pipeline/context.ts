/**
 * The dependencies of every pipeline operation, passed in (never module singletons or
 * `process.env` mutation: DESIGN.md principle 3, Hono's `createApp`, Kysely's providers).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ResolvedConfig,
  type ResolvedDatabase,
  type ResolvedEnvironment,
  usableDatabase,
} from '../config/resolve.ts';
import { InternalError } from '../errors.ts';
import type { CiFact } from '../gates/gate.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import type { MigrationDriver } from '../migrations/migration-driver.ts';
import { SqliteMigrationDriver } from '../migrations/sqlite-migration-driver.ts';
import type { Provider, ServiceTarget } from '../providers/provider.ts';
import type { ArtifactStore } from '../releases/artifact-store.ts';
import type { StateStore } from '../state/state-store.ts';
import type { DeploymentObserver } from './deployment-events.ts';
import type { ProgressSink } from './events.ts';

export interface AirlockContext {
  config: ResolvedConfig;
  store: StateStore;
  artifacts: ArtifactStore;
  /** The project's `.airlock` folder. */
  home: string;
  /** Who is acting (`--as`, `AIRLOCK_ACTOR`, git `user.email`). */
  actor: string;
  now: () => Date;
  providerFor(environment: ResolvedEnvironment): Provider;
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
  /** Reads CI at a commit from GitHub (set when `ci: { github }` is configured and GITHUB_TOKEN is present). */
  githubCi?: (commit: string, required: string[] | null) => Promise<CiFact>;
}

export const DEFAULT_LOCK_TTL_MS = 30_000;

/** Defaults for the machine-derived fields. */
export function processIdentity(): { host: string; pid: number } {
  return { host: os.hostname(), pid: process.pid };
}

/**
 * Opens the migration driver of one environment's database (SQLite file or Postgres URL).
 * The Postgres driver (and `pg`) load only when needed.
 */
export async function openMigrationDriver(database: ResolvedDatabase): Promise<MigrationDriver> {
  usableDatabase(database);
  if (database.engine === 'd1') {
    const { openD1MigrationDriver } = await import('../providers/cloudflare/d1.ts');
    return openD1MigrationDriver(database);
  }
  if (database.engine === 'postgres') {
    const { PostgresMigrationDriver } = await import('../migrations/postgres-migration-driver.ts');
    return new PostgresMigrationDriver(database.url, {
      lockTimeoutMs: database.lockTimeoutMs,
      statementTimeoutMs: database.statementTimeoutMs,
    });
  }
  return new SqliteMigrationDriver(database.url);
}

/** Reads an environment's ledger without creating anything (no SQLite file, no Postgres table). */
export async function readLedger(database: ResolvedDatabase): Promise<LedgerEntry[]> {
  usableDatabase(database);
  const location =
    database.engine === 'd1' && database.d1?.mode === 'local'
      ? await databaseLocation(database)
      : database;
  if (location.engine === 'sqlite' && !existsSync(fileURLToPath(location.url))) return [];
  const driver = await openMigrationDriver(database);
  try {
    return await driver.readLedger();
  } finally {
    await driver.close();
  }
}

/**
 * Where a database's rows are, for tools that open it directly (dry run, drift, describe): a
 * local D1 database is the SQLite file wrangler dev keeps; a remote one, a schema-only snapshot
 * taken now through the D1 HTTP API (`d1DatabaseLocation`).
 * @throws UserError `DATABASE_URL_UNSET` (see `usableDatabase`); what the D1 HTTP API throws.
 */
export async function databaseLocation(
  database: ResolvedDatabase,
): Promise<{ engine: 'sqlite' | 'postgres'; url: string }> {
  usableDatabase(database);
  if (database.engine === 'd1') {
    const { d1DatabaseLocation } = await import('../providers/cloudflare/d1.ts');
    return d1DatabaseLocation(database);
  }
  return { engine: database.engine, url: database.url };
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
