/**
 * Applying an environment's migrations, shared by the pipeline's migrate step and
 * `airlock migrate apply`: one transaction per file with its ledger row, after refusing what
 * is unsafe — an edited or missing applied file, a release older than the schema, and
 * any file the previous environment has not run with the same checksum. Audited.
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { AirlockError, UserError } from '../errors.ts';
import { directivesOf } from '../migrations/directives.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import type { MigrationFile } from '../migrations/migration-files.ts';
import { withDeployTarget } from '../migrations/migration-name.ts';
import {
  checkAppliedOnPrevious,
  editedMigrationHint,
  Migrator,
  notOnPreviousError,
} from '../migrations/migrator.ts';
import { audit } from '../state/audit.ts';
import { type AirlockContext, databaseOf } from './context.ts';
import { type ContractHold, holdBackContracts } from './contract.ts';

export interface MigrateServiceOptions {
  /** Release the files come from (recorded in the ledger), or null for the working tree. */
  release: string | null;
  runId: number | null;
  /**
   * The release serving the service before this change (null: nothing serves), which decides
   * whether contract migrations may run (see contract.ts). Default: what serves now.
   */
  serving?: string | null;
  onFile?: (file: MigrationFile, phase: 'start' | 'done', entry?: LedgerEntry) => void;
  /** The command's Ctrl-C: cancels the file running where the engine can (`MigrateOptions`). */
  signal?: AbortSignal;
}

export interface MigrateServiceResult {
  applied: LedgerEntry[];
  /** Ledger rows that were already there. */
  alreadyApplied: number;
  /** Contract migrations held back (with those after them), or null. */
  hold: ContractHold | null;
  durationMs: number;
}

/**
 * Migrates one service's database in one environment.
 * @throws UserError `MIGRATION_CHECKSUM_MISMATCH`, `MIGRATION_MISSING_FILE` (also: the release
 *   predates the schema), `MIGRATION_NOT_ON_PREVIOUS`, `MIGRATION_FAILED` (that file left no trace).
 */
export async function migrateService(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  service: string,
  files: MigrationFile[],
  options: MigrateServiceOptions,
): Promise<MigrateServiceResult> {
  const driver = await ctx.databases.open(databaseOf(ctx.config, env.name, service));
  try {
    const migrator = new Migrator(driver, files);
    const plan = await migrator.status();
    const newest = files.at(-1)?.version ?? 0;
    const ahead = plan.problems.filter(
      (p) => p.code === 'MIGRATION_MISSING_FILE' && p.version > newest,
    );
    if (ahead.length > 0 && ahead.length === plan.problems.length) {
      const what = options.release ?? 'these migration files';
      throw new UserError(
        'MIGRATION_MISSING_FILE',
        `${what} predate${options.release ? 's' : ''} ${ahead.map((p) => p.file).join(', ')}, already applied on ${env.name}: its migrations cannot run against a newer schema.`,
        {
          hint: options.release
            ? `To serve an older release again, roll back: \`airlock rollback ${env.name} --to ${options.release}\` (no migrations run).`
            : 'Update your working tree (git pull) so it has every applied migration.',
        },
      );
    }
    const servingId =
      options.serving !== undefined
        ? options.serving
        : ((await ctx.store.getServing(env.name)).find((r) => r.service === service)?.releaseId ??
          null);
    const servingRelease = servingId ? ((await ctx.store.findRelease(servingId)) ?? null) : null;
    const { run, hold } =
      plan.problems.length === 0
        ? holdBackContracts(plan.pending, service, servingRelease)
        : { run: plan.pending, hold: null };
    let previousLedger: LedgerEntry[] | null = null;
    if (env.previous && run.length > 0 && plan.problems.length === 0) {
      previousLedger = await ctx.databases.readLedger(
        databaseOf(ctx.config, env.previous, service),
      );
      const missing = checkAppliedOnPrevious(run, previousLedger);
      if (missing.length > 0)
        throw notOnPreviousError(missing, { environment: env.name, previous: env.previous });
    }
    // Held-back migrations are left out of this migrator: it applies everything before them.
    const cutoff = hold?.contract.version;
    const runner =
      cutoff === undefined
        ? migrator
        : new Migrator(
            driver,
            files.filter((f) => f.version < cutoff),
          );
    const audited = async (applied: LedgerEntry[]) => {
      if (applied.length === 0) return;
      await audit(ctx, 'migrations.applied', {
        environment: env.name,
        releaseId: options.release,
        runId: options.runId,
        detail: {
          service,
          applied: applied.map((e) => ({
            version: e.version,
            name: e.name,
            sha256: e.sha256,
            durationMs: e.durationMs,
          })),
        },
      });
    };
    let result: Awaited<ReturnType<Migrator['apply']>>;
    try {
      result = await runner.apply({
        appliedBy: ctx.actor,
        release: options.release,
        ...(options.onFile ? { onProgress: options.onFile } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      // The files before the one that failed stay applied: on the record too.
      const before = error instanceof AirlockError ? error.details.applied : undefined;
      if (Array.isArray(before)) await audited(before as LedgerEntry[]);
      if (error instanceof UserError && error.code === 'MIGRATION_CHECKSUM_MISMATCH')
        throw await withRestoreCommit(ctx, error, files, plan.applied);
      throw failedAfterPrevious(
        nameDeployTarget(error, ctx.config.pipeline[0] ?? env.name),
        env,
        files,
        previousLedger,
      );
    }
    await audited(result.applied);
    if (hold) {
      await audit(ctx, 'migrations.held_back', {
        environment: env.name,
        releaseId: options.release,
        runId: options.runId,
        detail: { service, ...hold },
      });
    }
    return {
      applied: result.applied,
      alreadyApplied: plan.applied.length,
      hold,
      durationMs: result.durationMs,
    };
  } finally {
    await driver.close();
  }
}

/**
 * An edited applied file's refusal, its hint naming the commit to restore the file from: that
 * of the release that ran it here (its ledger row), when the state has that release and it was
 * built from a clean commit. Otherwise the error as it is (its hint covers both a committed and
 * an uncommitted edit).
 */
async function withRestoreCommit(
  ctx: AirlockContext,
  error: UserError,
  files: MigrationFile[],
  ledger: LedgerEntry[],
): Promise<UserError> {
  const { version } = error.details as { version?: number };
  const file = files.find((f) => f.version === version);
  const from = file
    ? await restorePoint(ctx, ledger.find((e) => e.version === version)?.release ?? null)
    : null;
  if (!file || !from) return error;
  return new UserError(error.code, error.message, {
    hint: editedMigrationHint(file, from),
    details: { ...error.details, restoreFrom: from },
    cause: error.cause,
  });
}

/**
 * Where an applied migration file can be restored from as it ran: the release that ran it (its
 * ledger row's `release`) and that release's commit, when the state has the release and it was
 * built from a clean commit; else null (run by hand, or from uncommitted files).
 */
export async function restorePoint(
  ctx: AirlockContext,
  releaseId: string | null,
): Promise<{ release: string; commit: string } | null> {
  if (!releaseId) return null;
  const release = await ctx.store.findRelease(releaseId).catch(() => undefined);
  return release && !release.dirty ? { release: release.id, commit: release.commit } : null;
}

/**
 * A failed file's hint names the environment to deploy the fix to (`shipFixedMigrationAdvice`):
 * the fixed file is a new release, which enters at the first environment of the pipeline.
 */
function nameDeployTarget(error: unknown, first: string): unknown {
  if (!(error instanceof UserError) || error.code !== 'MIGRATION_FAILED' || !error.hint)
    return error;
  const hint = withDeployTarget(error.hint, first);
  if (hint === error.hint) return error;
  return new UserError(error.code, error.message, {
    hint,
    details: error.details,
    cause: error.cause,
  });
}

/** Failures that say nothing of the file or the data: running it again later may pass. */
const TRANSIENT_POSTGRES_CODES = new Set(['55P03', '57014', '40001', '40P01']);

/**
 * A file that already ran on the previous environment and fails on this one cannot be fixed by
 * editing it (the previous environment's ledger holds its checksum, and the staging-first rule
 * would then refuse it here): the error says the two ways out instead, fixing this
 * environment so the file runs as it is, or making the change here by hand and recording it
 * with `airlock migrate resolve`. Other errors are returned as they are.
 */
function failedAfterPrevious(
  error: unknown,
  env: ResolvedEnvironment,
  files: MigrationFile[],
  previousLedger: LedgerEntry[] | null,
): unknown {
  if (!(error instanceof UserError) || error.code !== 'MIGRATION_FAILED' || !previousLedger)
    return error;
  const { version, postgresCode } = error.details as { version?: number; postgresCode?: string };
  const file = files.find((f) => f.version === version);
  const ran = previousLedger.find((e) => e.version === version);
  if (!file || !ran || ran.sha256 !== file.sha256) return error;
  if (postgresCode && TRANSIENT_POSTGRES_CODES.has(postgresCode)) return error;
  if (/already applied/.test(error.message) || error.details.cancelled) return error;
  const partial = directivesOf(file).noTransaction;
  return new UserError('MIGRATION_FAILED', error.message, {
    hint: [
      `${file.filename} ran on ${env.previous} (${ran.appliedAt}) and fails on ${env.name}'s data or schema. Do not edit it: ${env.previous}'s ledger holds its checksum.`,
      partial
        ? `It runs without a transaction: ${error.hint ?? 'check what it left applied.'}`
        : `Nothing from it was kept on ${env.name}.`,
      `Either change ${env.name} so the file runs as it is (e.g. fix the rows it trips on), then deploy again;`,
      `or make the equivalent change on ${env.name} by hand and record the file as applied there, running nothing: \`airlock migrate resolve ${env.name} ${file.filename} --applied -m "<what you did>"\`.`,
    ].join(' '),
    details: { ...error.details, ranOn: env.previous },
    cause: error,
  });
}
