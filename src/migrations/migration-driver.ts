/**
 * The interface a database engine implements so the Migrator can run migrations on it.
 * Implementations: `SqliteMigrationDriver` (local environments) and `PostgresMigrationDriver`
 * (team mode, e.g. Supabase); both pass `test/migrations/migrator-contract.test.ts`. A D1
 * driver (via wrangler / the D1 HTTP API) would implement the same contract.
 */

import type { DatabaseClaim } from './database-claim.ts';
import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';

/**
 * Where an environment's database is: a SQLite file (`file:` URL or path) or a Postgres
 * connection string. A `ResolvedDatabase` from the config fits.
 */
export interface DatabaseLocation {
  engine: 'sqlite' | 'postgres';
  url: string;
}

/** Who ran a migration and as part of which release; stored in its ledger row. */
export interface ApplyMeta {
  appliedBy: string;
  release: string | null;
}

/**
 * How a run may be stopped. `signal` is the command's (aborted by the first Ctrl-C, SIGTERM or
 * SIGHUP): a driver that can stop a file midway cancels it and rolls it back, and reports that
 * (`MIGRATION_FAILED` with `details.cancelled`); a file it cannot stop runs to its end and is
 * recorded as usual, and `Migrator.apply` stops before the next file. What each engine can do:
 *
 * - Postgres: the running statement is cancelled (`pg_cancel_backend` from a second session,
 *   as psql's Ctrl-C does); a transactional file rolls back with its ledger row. A
 *   `-- airlock:no-transaction` file stops at the statement it was running: those before it
 *   stay applied, and it gets no ledger row (as when it fails there).
 * - SQLite (and local D1, which is SQLite on wrangler dev's file): none. `node:sqlite` runs a
 *   file synchronously on the only thread, so the signal is seen only once the file has
 *   committed (or failed).
 * - Remote D1: none. A file is one HTTP request; dropping it would not stop D1 and would leave
 *   unknown whether it committed.
 */
export interface ApplyOptions {
  signal?: AbortSignal;
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
   *   rolling back; also when another process recorded the same version first, and (with
   *   `details.cancelled`) when `options.signal` stopped it (see `ApplyOptions`).
   */
  applyFile(file: MigrationFile, meta: ApplyMeta, options?: ApplyOptions): Promise<LedgerEntry>;
  /**
   * Optional: inserts `file`'s ledger row (and the co-existing tool's, as `applyFile` does)
   * **without running its SQL**, in one transaction, for `airlock migrate resolve --applied`:
   * the change was made by hand. The row's `durationMs` is 0. A driver without it cannot
   * resolve.
   *
   * @throws UserError `MIGRATION_FAILED` when the version is already in the ledger.
   */
  recordFile?(file: MigrationFile, meta: ApplyMeta): Promise<LedgerEntry>;
  /**
   * Optional: takes a lock that keeps every other Airlock process out of this database's
   * migrations until the returned function releases it. `Migrator.apply` holds it for the whole
   * apply and reads the ledger only once it has it, so two processes migrating one database
   * serialise (the second finds nothing pending) instead of racing for the same files.
   * A driver whose `applyFile` already serialises on its own (SQLite's `BEGIN IMMEDIATE` plus
   * the ledger check inside it) may leave it out.
   *
   * @throws UserError `MIGRATION_LOCKED` when another process keeps the lock too long;
   *   `MIGRATION_FAILED` with `details.cancelled` when `options.signal` aborts the wait.
   */
  lock?(options?: ApplyOptions): Promise<() => Promise<void>>;
  /**
   * Optional: checks that this database belongs to `claim`'s environment, writing the claim on
   * first contact when `create` (see `database-claim.ts`).
   * @throws UserError `DATABASE_CLAIMED` when another environment claimed it.
   */
  claim?(claim: DatabaseClaim, options: { create: boolean }): Promise<void>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * How an aborted `signal` stopped a run, to follow "was cancelled" / "stopped": `by Ctrl-C`
 * for the CLI's `interrupted by Ctrl-C`, else its reason in parentheses.
 */
export function stoppedBy(signal: AbortSignal): string {
  const reason = signal.reason instanceof Error ? signal.reason.message : '';
  const by = /^interrupted (by .+)$/.exec(reason);
  return by?.[1] ?? `(${reason || 'interrupted'})`;
}
