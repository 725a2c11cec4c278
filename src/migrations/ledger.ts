/**
 * The ledger: one row per migration that ran on an environment's database, with the checksum
 * of the file as it ran (Flyway's schema history table, Atlas's revisions table). The ledger
 * lives in the environment's own database, so it can never disagree with the schema it
 * describes: a migration and its ledger row commit in one transaction.
 */

/** One applied migration, as recorded in an environment's database. */
export interface LedgerEntry {
  /** Migration number, e.g. 1 for `0001_create_notes.sql`. */
  version: number;
  /** Name part of the file, e.g. `create_notes`. */
  name: string;
  /** sha256 (lowercase hex) of the file's raw bytes when it ran. */
  sha256: string;
  /** When it was committed, ISO-8601. */
  appliedAt: string;
  /** Who ran it (user or CI identity, e.g. `alice@laptop`, `github-actions`). */
  appliedBy: string;
  /** How long the file took to run (ms). */
  durationMs: number;
  /** Release id it ran as part of (e.g. `r3`), or null when run by hand (`airlock migrate apply`). */
  release: string | null;
}

/** Name of the ledger table the SQLite driver keeps in the migrated database. */
export const LEDGER_TABLE = 'airlock_migrations';
/** SQLite: the seed ledger of `airlock data seed` (`airlock.seeds` on Postgres), never schema. */
export const SQLITE_SEED_TABLE = 'airlock_seeds';

/**
 * The Postgres driver's ledger: table `migrations` in its own schema `airlock`, so it stays out
 * of the application's `public` schema (and out of Supabase's generated types and APIs).
 */
export const POSTGRES_LEDGER_SCHEMA = 'airlock';
export const POSTGRES_LEDGER_TABLE = `${POSTGRES_LEDGER_SCHEMA}.migrations`;
