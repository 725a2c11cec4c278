/**
 * `airlock migrate apply --dry-run`: what apply would do on an environment, found on a
 * throwaway copy of its database (`dryRunMigrations`), plus whether apply would refuse files
 * the previous environment has not run first.
 */
import type { UserError } from '../errors.ts';
import { type DryRunResult, dryRunMigrations } from './dry-run.ts';
import type { EnvironmentDatabase } from './environment-database.ts';
import type { MigrationFile } from './migration-files.ts';
import {
  checkAppliedOnPrevious,
  type NotOnPrevious,
  notOnPreviousError,
  planMigrations,
} from './migrator.ts';

export interface PendingDryRun extends DryRunResult {
  /** Pending files the previous environment has not run the same way. */
  notOnPrevious: NotOnPrevious[];
  /** The error apply would throw for `notOnPrevious` (`MIGRATION_NOT_ON_PREVIOUS`), or null. */
  refusal: UserError | null;
}

/**
 * Replays `database`'s pending `files` on a throwaway copy of it; `database` is never changed.
 * `previous` (the environment before it in the pipeline) is read only when files are pending.
 * @throws what `dryRunMigrations` throws (`MIGRATION_SCRATCH_FAILED`,
 *   `MIGRATION_DATABASE_UNREACHABLE`).
 */
export async function dryRunPending(
  files: MigrationFile[],
  database: EnvironmentDatabase,
  previous: EnvironmentDatabase | null,
  options: { appliedBy: string; release: string | null },
): Promise<PendingDryRun> {
  const pending = planMigrations(files, await database.readLedger()).pending;
  const notOnPrevious =
    previous && pending.length > 0
      ? checkAppliedOnPrevious(pending, await previous.readLedger())
      : [];
  const result = await dryRunMigrations(await database.location(), files, options);
  const refusal =
    previous && notOnPrevious.length > 0
      ? notOnPreviousError(notOnPrevious, {
          environment: database.environment,
          previous: previous.environment,
        })
      : null;
  return { ...result, notOnPrevious, refusal };
}
