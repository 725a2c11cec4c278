/**
 * Recording a migration as applied without running it (`airlock migrate resolve <env> <file>
 * --applied`; Prisma's `migrate resolve --applied`, Flyway's manual repair): the way out when a
 * file that ran on the previous environment fails on this one and someone made the equivalent
 * change here by hand. The file cannot be edited instead, since the previous environment's
 * ledger holds its checksum. Pure: the command reads the ledgers, takes the lock, writes the
 * row and audits it.
 */
import { UserError } from '../errors.ts';
import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import { formatMigrationVersion } from './migration-name.ts';
import { checkAppliedOnPrevious, notOnPreviousError, planMigrations } from './migrator.ts';

/** What `migrate resolve` is asked to record, and what it knows. */
export interface ResolveRequest {
  /** The migration as the user named it: `0005`, `5`, `0005_unique_titles.sql`, a path ending so. */
  migration: string;
  /** The migration files (the working tree's, checked against airlock.sum). */
  files: MigrationFile[];
  environment: string;
  /** The environment's ledger. */
  ledger: LedgerEntry[];
  /** The previous environment and its ledger; null for the first environment. */
  previous: { environment: string; ledger: LedgerEntry[] } | null;
}

/**
 * The file `request.migration` names, once it is safe to record it as applied on
 * `request.environment`: it is not applied there yet, the ledger there agrees with the files,
 * and the previous environment ran the same bytes (the staging-first rule holds for a resolved
 * file as for an applied one).
 * @throws UserError `MIGRATION_MISSING_FILE` (no such file), `MIGRATION_CHECKSUM_MISMATCH` /
 *   `MIGRATION_MISSING_FILE` (the ledger disagrees with the files), `MIGRATION_NOT_ON_PREVIOUS`,
 *   `MIGRATION_ALREADY_APPLIED`.
 */
export function fileToResolve(request: ResolveRequest): MigrationFile {
  const { environment } = request;
  const file = findFile(request.files, request.migration);
  const plan = planMigrations(request.files, request.ledger);
  const problem = plan.problems[0];
  if (problem) {
    throw new UserError(problem.code, problem.message, {
      hint: `${problem.hint} Resolve records a file that has not run; it does not repair a ledger.`,
    });
  }
  const applied = plan.applied.find((e) => e.version === file.version);
  if (applied) {
    throw new UserError(
      'MIGRATION_ALREADY_APPLIED',
      `${file.filename} is already in ${environment}'s ledger (applied ${applied.appliedAt} by ${applied.appliedBy}).`,
      { hint: `Nothing to resolve: \`airlock migrate status ${environment}\` shows the ledger.` },
    );
  }
  if (request.previous) {
    const missing = checkAppliedOnPrevious([file], request.previous.ledger);
    if (missing.length > 0) {
      throw notOnPreviousError(missing, {
        environment,
        previous: request.previous.environment,
      });
    }
  }
  return file;
}

/**
 * The file `migration` names: its version (`5`, `0005`), its file name, or a path ending in it.
 * @throws UserError `MIGRATION_MISSING_FILE`, listing the files there are.
 */
function findFile(files: MigrationFile[], migration: string): MigrationFile {
  const given = migration.replaceAll('\\', '/');
  const version = /^\d+$/.test(given) ? Number(given) : null;
  const found = files.find((f) =>
    version !== null
      ? f.version === version
      : f.filename === given || given.endsWith(`/${f.filename}`),
  );
  if (found) return found;
  const known = files.map((f) => f.filename);
  throw new UserError('MIGRATION_MISSING_FILE', `there is no migration ${migration}.`, {
    hint: `Name a file of the migrations folder, or its number (e.g. ${known.length > 0 ? `${formatMigrationVersion(files.at(-1)?.version ?? 1)} for ${known.at(-1)}` : '0001'}).`,
    details: { files: known },
  });
}
