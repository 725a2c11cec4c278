/**
 * `airlock migrate drift`: compares two environments' live schemas, telling changes made
 * outside migrations (drift) from differences their pending migrations explain (`detectDrift`).
 */
import type { EnvironmentDatabase } from './environment-database.ts';
import { describeSchema } from './introspect.ts';
import type { LedgerEntry } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import { type DriftResult, detectDrift } from './schema-drift.ts';

/**
 * Describes both databases' live schemas, reads their ledgers and compares them with what
 * `files` produce. Postgres replays on scratch databases of `a`'s server, shaped like `a`.
 * `options.ledgerFiles`, given both ledgers, returns the files of rows `files` do not carry
 * (from the releases that do: after a rollback).
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE`, `MIGRATION_SCRATCH_FAILED`; `USAGE` when
 *   the two databases have different engines.
 */
export async function environmentDrift(
  a: EnvironmentDatabase,
  b: EnvironmentDatabase,
  files: MigrationFile[],
  options: { ledgerFiles?: (ledgers: LedgerEntry[][]) => Promise<MigrationFile[]> } = {},
): Promise<DriftResult> {
  const side = async (database: EnvironmentDatabase) => {
    const location = await database.location();
    return {
      location,
      schema: {
        name: database.environment,
        schema: await describeSchema(location),
        ledger: await database.readLedger(),
      },
    };
  };
  const sideA = await side(a);
  const sideB = await side(b);
  const ledgerFiles = options.ledgerFiles
    ? await options.ledgerFiles([sideA.schema.ledger, sideB.schema.ledger])
    : [];
  return detectDrift(
    { a: sideA.schema, b: sideB.schema, files, ledgerFiles },
    sideA.location.engine === 'postgres' ? { postgresUrl: sideA.location.url } : {},
  );
}

/** The drift of several services as one result (for the exit code and `driftError`). */
export function mergeDrift(results: DriftResult[]): DriftResult {
  return {
    drifted: results.some((r) => r.drifted),
    findings: results.flatMap((r) => r.findings),
    explainedByPending: results.flatMap((r) => r.explainedByPending),
    problems: results.flatMap((r) => r.problems),
  };
}
