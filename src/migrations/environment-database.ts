/**
 * One environment's database as the migration operations (`migration-status.ts`,
 * `dry-run-pending.ts`, `hash-migrations.ts`, `lint-pending.ts`, `environment-drift.ts`) reach
 * it. The caller resolves it from the configuration (the CLI, from airlock.yaml), so this
 * folder never reads the configuration itself.
 */

import type { LedgerEntry } from './ledger.ts';
import type { DatabaseLocation } from './migration-driver.ts';

export interface EnvironmentDatabase {
  /** The environment's name, e.g. `staging`: for messages and results. */
  environment: string;
  /**
   * The ledger: what ran there, in version order (empty when the database does not exist yet).
   * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the database cannot be reached.
   */
  readLedger(): Promise<LedgerEntry[]>;
  /**
   * Where to open it directly (a remote D1 database: a schema-only snapshot taken at the call).
   * @throws UserError when the database's URL is unset or a snapshot cannot be taken.
   */
  location(): Promise<DatabaseLocation>;
}
