/** `airlock migrate status`: an environment's ledger against the migration files. */
import type { EnvironmentDatabase } from './environment-database.ts';
import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import {
  checkAppliedOnPrevious,
  type MigrationProblem,
  type NotOnPrevious,
  planMigrations,
} from './migrator.ts';

/** One line of the status table: a ledger row, or a file the ledger has not run. */
export interface MigrationStatusRow {
  version: number;
  name: string;
  /**
   * `applied`; `edited` (applied, but the file's checksum changed since) or `missing` (applied,
   * file gone); `pending` (not run here yet).
   */
  state: 'applied' | 'edited' | 'missing' | 'pending';
  /** When it ran (ISO 8601, UTC); null when pending. */
  appliedAt: string | null;
  /** The release it ran with; null when pending or run outside a release. */
  release: string | null;
  /** The checksum the ledger recorded (applied) or the file's (pending), sha256 hex. */
  sha256: string;
  /** Pending, and the previous environment has not run it (or ran another version of it). */
  notOnPrevious: NotOnPrevious['reason'] | null;
}

export interface MigrationStatus {
  /** The ledger, in version order. */
  applied: LedgerEntry[];
  /** The files `apply` would run, in order. */
  pending: MigrationFile[];
  /** Ledger rows whose file changed or is gone. */
  problems: MigrationProblem[];
  /** Pending files the previous environment has not run the same way (apply refuses them). */
  notOnPrevious: NotOnPrevious[];
  /** `applied` then `pending`, as the status table shows them. */
  rows: MigrationStatusRow[];
}

/**
 * Reads `database`'s ledger (and `previous`'s, the environment before it in the pipeline) and
 * compares it with `files`.
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE`.
 */
export async function migrationStatus(
  files: MigrationFile[],
  database: EnvironmentDatabase,
  previous: EnvironmentDatabase | null,
): Promise<MigrationStatus> {
  const plan = planMigrations(files, await database.readLedger());
  const previousLedger = previous ? await previous.readLedger() : null;
  const notOnPrevious = previousLedger ? checkAppliedOnPrevious(plan.pending, previousLedger) : [];
  const rows: MigrationStatusRow[] = [];
  for (const entry of plan.applied) {
    const problem = plan.problems.find((p) => p.version === entry.version);
    rows.push({
      version: entry.version,
      name: entry.name,
      state: problem
        ? problem.code === 'MIGRATION_CHECKSUM_MISMATCH'
          ? 'edited'
          : 'missing'
        : 'applied',
      appliedAt: entry.appliedAt,
      release: entry.release,
      sha256: entry.sha256,
      notOnPrevious: null,
    });
  }
  for (const file of plan.pending) {
    rows.push({
      version: file.version,
      name: file.name,
      state: 'pending',
      appliedAt: null,
      release: null,
      sha256: file.sha256,
      notOnPrevious: notOnPrevious.find((n) => n.file.version === file.version)?.reason ?? null,
    });
  }
  return {
    applied: plan.applied,
    pending: plan.pending,
    problems: plan.problems,
    notOnPrevious,
    rows,
  };
}
