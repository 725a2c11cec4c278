/**
 * The dependencies of every pipeline operation, passed in (never module singletons or
 * `process.env` mutation: DESIGN.md principle 3, Hono's `createApp`, Kysely's providers).
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import type { MigrationDriver } from '../migrations/migration-driver.ts';
import { SqliteMigrationDriver } from '../migrations/sqlite-migration-driver.ts';
import type { Provider } from '../providers/provider.ts';
import type { ArtifactStore } from '../releases/artifact-store.ts';
import type { StateStore } from '../state/state-store.ts';
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
}

export const DEFAULT_LOCK_TTL_MS = 30_000;

/** Defaults for the machine-derived fields. */
export function processIdentity(): { host: string; pid: number } {
  return { host: os.hostname(), pid: process.pid };
}

/** Absolute path of a service's SQLite database in an environment (local target). */
export function appDatabasePath(home: string, environment: string, service: string): string {
  return path.join(home, 'envs', environment, 'data', `${service}.db`);
}

/** `DATABASE_URL` handed to the app: a `file:` URL of its environment's own database. */
export function appDatabaseUrl(home: string, environment: string, service: string): string {
  return pathToFileURL(appDatabasePath(home, environment, service)).href;
}

/** Opens the migration driver of a service's database in an environment. */
export function openMigrationDriver(
  home: string,
  environment: string,
  service: string,
): MigrationDriver {
  return new SqliteMigrationDriver(appDatabaseUrl(home, environment, service));
}

/** Reads an environment's ledger without creating its database when it does not exist yet. */
export async function readLedger(
  home: string,
  environment: string,
  service: string,
): Promise<LedgerEntry[]> {
  if (!existsSync(appDatabasePath(home, environment, service))) return [];
  const driver = openMigrationDriver(home, environment, service);
  try {
    return await driver.readLedger();
  } finally {
    await driver.close();
  }
}
