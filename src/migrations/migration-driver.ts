/**
 * The interface a database engine implements so the Migrator can run migrations on it.
 * Implementations: `SqliteMigrationDriver` (local environments); a Postgres driver and a D1
 * driver (via wrangler / the D1 HTTP API) implement the same contract.
 */

import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';

/** Who ran a migration and as part of which release; stored in its ledger row. */
export interface ApplyMeta {
  appliedBy: string;
  release: string | null;
}

export interface MigrationDriver {
  readonly engine: 'sqlite' | 'postgres' | 'd1';
  /**
   * Every ledger row, sorted by version. A database that has never been migrated (no ledger
   * table yet) gives `[]`; reading never creates anything.
   */
  readLedger(): Promise<LedgerEntry[]>;
  /**
   * Runs one file **and** inserts its ledger row in a single transaction: either both commit
   * or neither leaves a trace. Creates the ledger table on first use.
   *
   * @throws UserError `MIGRATION_FAILED` naming the file and the database's message, after
   *   rolling back; also when another process recorded the same version first.
   */
  applyFile(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
}
