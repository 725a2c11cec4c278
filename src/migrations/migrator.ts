/**
 * Plan, then apply (Flyway's validate, Atlas's plan) for migrations. `planMigrations` compares the files
 * on disk with an environment's ledger and is pure; `Migrator.apply` is the only side effect.
 *
 * Rules:
 * - Files are append-only: an applied file whose checksum changed, or a ledger row whose file
 *   is gone, is a problem and blocks every apply until fixed (Flyway `validate`, Atlas
 *   `atlas.sum`).
 * - Staging gets migrations first: production refuses a migration that has not succeeded on
 *   the previous environment with the same checksum (staging gets migrations first).
 */

import { type AirlockError, type ErrorCode, toAirlockError, UserError } from '../errors.ts';
import type { LedgerEntry } from './ledger.ts';
import { type MigrationDriver, stoppedBy } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { projectPath } from './migration-layouts.ts';
import { migrationFilename, newMigrationAdvice, restoreAppliedAdvice } from './migration-name.ts';

/** Something that makes applying unsafe. Plain data (JSON-serialisable for `--json`). */
export interface MigrationProblem {
  code: Extract<ErrorCode, 'MIGRATION_CHECKSUM_MISMATCH' | 'MIGRATION_MISSING_FILE'>;
  version: number;
  /** The file (absolute path) for a checksum mismatch; the ledger's name for a missing file. */
  file: string;
  /** sha256 recorded in the ledger. */
  ledgerSha256: string;
  /** sha256 of the file now on disk; null when the file is gone. */
  fileSha256: string | null;
  message: string;
  hint: string;
}

/** Result of comparing files with a ledger. */
export interface MigrationPlan {
  /** Ledger rows, sorted by version. */
  applied: LedgerEntry[];
  /** Files not in the ledger, sorted by version: what `apply` would run. */
  pending: MigrationFile[];
  /** Problems that block `apply`; empty when the ledger and the files agree. */
  problems: MigrationProblem[];
}

/**
 * Compares migration files (as read by `readMigrationDir`) with an environment's ledger. Pure.
 *
 * A problem is reported for each applied file whose sha256 differs from the ledger's
 * (`MIGRATION_CHECKSUM_MISMATCH`, naming the file and both checksums) and each ledger version
 * without a file (`MIGRATION_MISSING_FILE`). Their hints name the files as `projectPath` shows
 * them, and the way to add a migration in the files' layout (`newMigrationAdvice`).
 */
export function planMigrations(files: MigrationFile[], ledger: LedgerEntry[]): MigrationPlan {
  const folder = shownFolder(files);
  const applied = [...ledger].sort((a, b) => a.version - b.version);
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const appliedVersions = new Set(applied.map((e) => e.version));
  const problems: MigrationProblem[] = [];
  for (const entry of applied) {
    const file = byVersion.get(entry.version);
    if (!file) {
      const filename = migrationFilename(entry.version, entry.name);
      problems.push({
        code: 'MIGRATION_MISSING_FILE',
        version: entry.version,
        file: filename,
        ledgerSha256: entry.sha256,
        fileSha256: null,
        message: `Migration ${filename} was applied (at ${entry.appliedAt} by ${entry.appliedBy}) but its file is gone from the migrations directory.`,
        hint: `Migrations are append-only: restore ${filename} from git (e.g. \`git checkout <commit> -- ${folder ?? '<migrations folder>'}/${filename}\`), then run \`airlock migrate status\`.`,
      });
    } else if (file.sha256 !== entry.sha256) {
      problems.push({
        code: 'MIGRATION_CHECKSUM_MISMATCH',
        version: entry.version,
        file: file.path,
        ledgerSha256: entry.sha256,
        fileSha256: file.sha256,
        message: `Migration ${file.path} was edited after it was applied: the ledger has sha256 ${entry.sha256}, the file now has ${file.sha256}.`,
        hint: editedMigrationHint(file),
      });
    }
  }
  const pending = files
    .filter((f) => !appliedVersions.has(f.version))
    .sort((a, b) => a.version - b.version);
  return { applied, pending, problems };
}

/**
 * The hint for an applied migration whose file changed: restore it as it ran (from the commit of
 * the release that ran it, `ranWith`, when the caller knows it), re-hash, and put the change in a
 * new migration in the folder's layout.
 */
export function editedMigrationHint(
  file: MigrationFile,
  ranWith?: { release: string; commit: string } | null,
): string {
  return `Never edit an applied migration: the ledger keeps the checksum it ran with. Restore ${file.filename} ${restoreAppliedAdvice(projectPath(file.path), ranWith)}, run \`airlock migrate hash\`, and ${newMigrationAdvice(file.layout ?? 'airlock')}.`;
}

/** The migrations folder of `files` as messages show it (see `projectPath`); null without files. */
function shownFolder(files: MigrationFile[]): string | null {
  const file = files[0];
  if (!file) return null;
  const shown = projectPath(file.path);
  return shown.endsWith(`/${file.filename}`) ? shown.slice(0, -file.filename.length - 1) : null;
}

/** The error a problem stands for (thrown by `Migrator.apply`). */
export function migrationProblemError(problem: MigrationProblem): UserError {
  return new UserError(problem.code, problem.message, {
    hint: problem.hint,
    details: {
      file: problem.file,
      version: problem.version,
      ledgerSha256: problem.ledgerSha256,
      fileSha256: problem.fileSha256,
    },
  });
}

/** A file the previous environment has not run the same way. */
export interface NotOnPrevious {
  file: MigrationFile;
  reason: 'not-applied' | 'checksum-differs';
}

/**
 * Which of `files` have not succeeded on the previous environment (e.g. staging, when
 * migrating production) with the same checksum. Pure. Pass the files about to run (usually the
 * plan's `pending`); an empty result means they may run. "Staging gets migrations
 * first. If a migration breaks staging, it must be fixed before production can receive
 * subsequent migrations."
 */
export function checkAppliedOnPrevious(
  files: MigrationFile[],
  previousLedger: LedgerEntry[],
): NotOnPrevious[] {
  const previous = new Map(previousLedger.map((e) => [e.version, e]));
  const out: NotOnPrevious[] = [];
  for (const file of files) {
    const entry = previous.get(file.version);
    if (!entry) out.push({ file, reason: 'not-applied' });
    else if (entry.sha256 !== file.sha256) out.push({ file, reason: 'checksum-differs' });
  }
  return out;
}

/**
 * The `MIGRATION_NOT_ON_PREVIOUS` error for a non-empty `checkAppliedOnPrevious` result, naming
 * every file and both environments.
 */
export function notOnPreviousError(
  missing: NotOnPrevious[],
  environments: { environment: string; previous: string },
): UserError {
  const { environment, previous } = environments;
  const lines = missing.map(
    (m) =>
      `${m.file.filename} (${m.reason === 'not-applied' ? `not applied on ${previous}` : `applied on ${previous} with a different checksum`})`,
  );
  return new UserError(
    'MIGRATION_NOT_ON_PREVIOUS',
    `${environment} refuses ${missing.length === 1 ? 'a migration' : 'migrations'} that have not succeeded on ${previous} first: ${lines.join(', ')}.`,
    {
      hint: `Deploy this release to ${previous} and run its migrations there first (\`airlock deploy ${previous}\`), then promote again.`,
      details: {
        environment,
        previous,
        files: missing.map((m) => ({ file: m.file.path, reason: m.reason })),
      },
    },
  );
}

export interface MigrateOptions {
  appliedBy: string;
  release: string | null;
  /** Called before (`start`) and after (`done`, with the ledger row) each file. */
  onProgress?: (file: MigrationFile, phase: 'start' | 'done', entry?: LedgerEntry) => void;
  /**
   * Stops the run (the command's Ctrl-C): the file running is cancelled and rolled back when
   * the driver can, else it finishes and is recorded; no file starts after it, nor the wait
   * for the migration lock (see `ApplyOptions`).
   */
  signal?: AbortSignal;
}

export interface MigrateResult {
  /** Ledger rows written by this run, in order. */
  applied: LedgerEntry[];
  /** Wall time of the whole run (ms). */
  durationMs: number;
}

/** Runs an environment's pending migrations through a driver, one transaction per file. */
export class Migrator {
  readonly #driver: MigrationDriver;
  readonly #files: MigrationFile[];

  constructor(driver: MigrationDriver, files: MigrationFile[]) {
    this.#driver = driver;
    this.#files = [...files].sort((a, b) => a.version - b.version);
  }

  /** Reads the ledger and plans (see `planMigrations`). Changes nothing. */
  async status(): Promise<MigrationPlan> {
    return planMigrations(this.#files, await this.#driver.readLedger());
  }

  /**
   * Applies pending files in version order, each with its ledger row in one transaction (or
   * as the driver runs a file marked otherwise, e.g. Postgres's `-- airlock:no-transaction`).
   *
   * When the driver has a `lock()`, it is taken first and held until the end, and the plan is
   * read only once it is held: a second process migrating the same database waits, then finds
   * the files already applied, instead of racing for them.
   *
   * @throws UserError `MIGRATION_LOCKED` when another process holds the driver's lock too long.
   * @throws UserError `MIGRATION_CHECKSUM_MISMATCH` / `MIGRATION_MISSING_FILE` (the plan's first
   *   problem) before applying anything.
   * @throws UserError `MIGRATION_FAILED` at the first failing file; files after it do not run,
   *   files before it stay applied and are listed in the error's `details.applied`. Also, with
   *   `details.cancelled`, when `options.signal` stopped the run: the file cancelled (nothing
   *   of it kept, unless the driver says otherwise), or the next one before it started.
   */
  async apply(options: MigrateOptions): Promise<MigrateResult> {
    const started = performance.now();
    const signal = options.signal;
    const unlock = this.#driver.lock
      ? await this.#driver.lock(signal ? { signal } : undefined)
      : undefined;
    let result: MigrateResult;
    try {
      result = await this.#applyPending(options, started);
    } catch (error) {
      // The first error is the one to report; a session that cannot unlock has lost the lock.
      await unlock?.().catch(() => {});
      throw error;
    }
    await unlock?.();
    return result;
  }

  async #applyPending(options: MigrateOptions, started: number): Promise<MigrateResult> {
    const plan = await this.status();
    const problem = plan.problems[0];
    if (problem) throw migrationProblemError(problem);
    const applied: LedgerEntry[] = [];
    const signal = options.signal;
    for (const file of plan.pending) {
      // A file that could not be cancelled (or had just committed) ran; the next one does not.
      if (signal?.aborted) throw stoppedBefore(file, signal, applied);
      options.onProgress?.(file, 'start');
      let entry: LedgerEntry;
      try {
        entry = await this.#driver.applyFile(
          file,
          { appliedBy: options.appliedBy, release: options.release },
          signal ? { signal } : undefined,
        );
      } catch (error) {
        const airlockError: AirlockError = toAirlockError(error);
        airlockError.details.applied = [...applied];
        throw airlockError;
      }
      applied.push(entry);
      options.onProgress?.(file, 'done', entry);
    }
    return { applied, durationMs: Math.round(performance.now() - started) };
  }
}

/** The run was stopped before `file` started; the files of `applied` committed before it. */
function stoppedBefore(
  file: MigrationFile,
  signal: AbortSignal,
  applied: LedgerEntry[],
): UserError {
  const kept =
    applied.length === 1
      ? 'the file before it stays'
      : `the ${applied.length} files before it stay`;
  return new UserError(
    'MIGRATION_FAILED',
    `Migrations stopped ${stoppedBy(signal)} before ${file.path}, which did not run${applied.length > 0 ? ` (${kept} applied, with ${applied.length === 1 ? 'its ledger row' : 'their ledger rows'})` : ''}.`,
    {
      hint: `Nothing of ${file.filename} was applied; it runs with the next deployment or \`airlock migrate apply\`.`,
      details: { file: file.path, version: file.version, cancelled: true, applied: [...applied] },
    },
  );
}
