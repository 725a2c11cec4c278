/**
 * `airlock migrate lint`: lints the migrations an environment (the pipeline's first) has not
 * run yet, or every migration. Earlier files still give the schema the linted ones build on.
 */
import { hasCode, UserError } from '../errors.ts';
import type { EnvironmentDatabase } from './environment-database.ts';
import { type LintEngine, type LintReport, lintMigrations } from './lint/lint-migrations.ts';
import type { MigrationFile } from './migration-files.ts';

export interface PendingLint {
  /** The versions reported on; null when every file is. */
  only: number[] | null;
  /** Null when there is nothing to lint: the environment has run every file. */
  report: LintReport | null;
}

/**
 * Lints `files` for `engine`: those `pendingOn` has not run (its ledger is read), or every file
 * when `pendingOn` is null.
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` (with a hint to lint `--all` instead);
 *   what `lintMigrations` throws.
 */
export async function lintPendingMigrations(
  files: MigrationFile[],
  engine: LintEngine,
  pendingOn: EnvironmentDatabase | null,
): Promise<PendingLint> {
  if (!pendingOn) return { only: null, report: await lintMigrations(files, { engine }) };
  const name = pendingOn.environment;
  const ledger = await pendingOn.readLedger().catch((error: unknown) => {
    if (!hasCode(error, 'MIGRATION_DATABASE_UNREACHABLE')) throw error;
    const e = error as UserError;
    throw new UserError(e.code, e.message, {
      hint: `Lint reports on the migrations ${name} has not run, so it reads ${name}'s ledger. ${e.hint ?? ''} Or lint every file without reading it: \`airlock migrate lint --all\`.`,
      details: e.details,
      cause: e,
    });
  });
  const applied = new Set(ledger.map((e) => e.version));
  const only = files.filter((f) => !applied.has(f.version)).map((f) => f.version);
  if (only.length === 0) return { only, report: null };
  return { only, report: await lintMigrations(files, { engine, only }) };
}
