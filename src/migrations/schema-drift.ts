/**
 * Drift (`airlock migrate drift`): explains the differences between two environments. They
 * should differ only by the migrations one has applied and the other has not. Each
 * environment's ledger implies a schema: its applied files, replayed on a scratch database
 * (migration-replay.ts). A live schema that differs from the one its own ledger implies has
 * **drifted**: someone changed it outside migrations (a manual `ALTER TABLE`, a dashboard's
 * table editor). Differences between the two implied schemas are the pending migrations'
 * doing, and are reported apart as explained. A row applied by a release the files do not
 * come from (after a rollback) is replayed from that release's file (`ledgerFiles`), so what
 * it did is not drift either. (Atlas `migrate diff` / schema inspection,
 * Flyway's drift report, Supabase CLI's `db diff` compare a database with what migrations
 * produce the same way: by replaying them on a shadow database.)
 */

import { UserError } from '../errors.ts';
import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import { type MigrationLayout, newMigrationAdvice } from './migration-name.ts';
import { type ReplayOptions, replaySchemas } from './migration-replay.ts';
import { type MigrationProblem, planMigrations } from './migrator.ts';
import {
  compareSchemas,
  type DifferencePhrasing,
  type SchemaDifference,
} from './schema-compare.ts';
import type { SchemaSnapshot } from './schema-snapshot.ts';

/** One environment as `detectDrift` sees it. */
export interface EnvironmentSchema {
  /** e.g. `staging`. */
  name: string;
  /** Its live schema (`describeSchema`). */
  schema: SchemaSnapshot;
  /** Its ledger (`MigrationDriver.readLedger`). */
  ledger: LedgerEntry[];
}

/** A difference between an environment's live schema and the one its ledger implies. */
export interface DriftFinding {
  environment: string;
  /** Side `a` is the live schema, side `b` what the applied migrations produce. */
  difference: SchemaDifference;
}

/** A difference between two environments that their ledgers account for. */
export interface PendingDifference {
  /** Sides `a` and `b` are the two environments (as passed to `detectDrift`). */
  difference: SchemaDifference;
  /** The environment that has not applied the migrations behind it. */
  pendingOn: string;
  /** Those migrations: applied on the other environment only. */
  files: string[];
}

export interface DriftResult {
  /** True when either environment's live schema differs from what its ledger implies. */
  drifted: boolean;
  findings: DriftFinding[];
  explainedByPending: PendingDifference[];
  /**
   * Ledger rows whose file changed or is gone (see `planMigrations`): the implied schema then
   * uses the file on disk, or leaves the missing one out.
   */
  problems: Array<MigrationProblem & { environment: string }>;
}

function driftPhrasing(environment: string): DifferencePhrasing {
  return (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a') {
      return `${environment} has ${what(d.a)} that none of its applied migrations creates: it was changed outside migrations`;
    }
    if (d.change === 'only-in-b') {
      return `${environment} lacks ${what(d.b)} that its applied migrations create: it was dropped or changed outside migrations`;
    }
    return `${d.object} ${d.name} on ${environment} is ${d.a}, but its applied migrations make it ${d.b}: it was changed outside migrations`;
  };
}

/**
 * Tells drift (schema changes made outside migrations) from differences the environments'
 * ledgers explain. Replays each environment's applied files on a scratch database (one
 * database for both when one ledger extends the other), compares each live schema with its
 * implied one (a difference is drift, a `DriftFinding`), and the two implied schemas with each
 * other (`explainedByPending`, with the files behind them).
 *
 * @throws UserError `MIGRATION_SCRATCH_FAILED` when an applied file does not replay on an empty
 *   database; `USAGE` for Postgres schemas without `options.postgresUrl`.
 */
export async function detectDrift(
  input: {
    a: EnvironmentSchema;
    b: EnvironmentSchema;
    files: MigrationFile[];
    /**
     * Files of other releases, for ledger rows `files` do not carry (matched by version and
     * sha256): an environment that rolled back serves a release without the migrations a
     * later release applied there, and those rows' changes are explained by these files.
     */
    ledgerFiles?: MigrationFile[];
  },
  options: ReplayOptions = {},
): Promise<DriftResult> {
  const { a, b, files, ledgerFiles = [] } = input;
  const engine = a.schema.engine;
  if (b.schema.engine !== engine) {
    throw new UserError(
      'USAGE',
      `${a.name} is on ${engine} but ${b.name} is on ${b.schema.engine}: drift is only compared between databases of one engine.`,
    );
  }
  const problems: DriftResult['problems'] = [];
  const appliedFiles = (env: EnvironmentSchema): MigrationFile[] => {
    // A row whose file this release lacks, but another release carries, is explained by it.
    const fromLedger = env.ledger.flatMap((e) => {
      if (files.some((f) => f.version === e.version)) return [];
      const file = ledgerFiles.find((f) => f.version === e.version && f.sha256 === e.sha256);
      return file ? [file] : [];
    });
    const known = [...files, ...fromLedger];
    for (const p of planMigrations(known, env.ledger).problems)
      problems.push({ ...p, environment: env.name });
    const versions = new Set(env.ledger.map((e) => e.version));
    return known.filter((f) => versions.has(f.version)).sort((x, y) => x.version - y.version);
  };
  const aFiles = appliedFiles(a);
  const bFiles = appliedFiles(b);
  const [aImplied, bImplied] = await replaySchemas(engine, [aFiles, bFiles], {
    ...options,
    schema: options.schema ?? a.schema.schema ?? undefined,
  });
  const findings: DriftFinding[] = [];
  for (const [env, implied] of [
    [a, aImplied!],
    [b, bImplied!],
  ] as const) {
    for (const difference of compareSchemas(env.schema, implied, driftPhrasing(env.name))) {
      findings.push({ environment: env.name, difference });
    }
  }
  const onlyA = aFiles.filter((f) => !bFiles.includes(f)).map((f) => f.filename);
  const onlyB = bFiles.filter((f) => !aFiles.includes(f)).map((f) => f.filename);
  const explainedByPending = compareSchemas(aImplied!, bImplied!, { a: a.name, b: b.name }).map(
    (difference): PendingDifference => {
      const pendingOnB =
        difference.change === 'only-in-a' || (difference.change === 'differs' && onlyA.length > 0);
      const pendingOn = pendingOnB ? b.name : a.name;
      const pendingFiles = pendingOnB ? onlyA : onlyB;
      return {
        difference: {
          ...difference,
          message: `${difference.message}: pending on ${pendingOn} (${pendingFiles.join(', ') || 'no file'})`,
        },
        pendingOn,
        files: pendingFiles,
      };
    },
  );
  return { drifted: findings.length > 0, findings, explainedByPending, problems };
}

/**
 * The `MIGRATION_DRIFT` error for a drifted result (for a command that must fail on drift),
 * naming every finding.
 */
export function driftError(result: DriftResult, layout: MigrationLayout = 'airlock'): UserError {
  const n = result.findings.length;
  return new UserError(
    'MIGRATION_DRIFT',
    `${n} schema difference${n === 1 ? '' : 's'} not explained by migrations: ${result.findings.map((f) => f.difference.message).join('; ')}.`,
    {
      hint: `To keep the change, ${newMigrationAdvice(layout)} and apply it everywhere; or undo the manual change. Then run \`airlock migrate drift\` again.`,
      details: { findings: result.findings },
    },
  );
}
