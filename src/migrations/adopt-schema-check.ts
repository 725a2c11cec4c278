/**
 * Adoption's schema check: neither wrangler nor the Supabase CLI keeps a checksum, so what the
 * files are now cannot be compared with what ran. Instead the adopted files are replayed on a
 * scratch database (migration-replay.ts) and the schema they produce is compared with the
 * source database's live schema; each difference is a `schema-differs` problem (a file edited
 * after it ran, or a change made by hand).
 */

import type { AdoptOptions, AdoptProblem } from './adopt.ts';
import { describeSchema } from './introspect.ts';
import type { DatabaseLocation } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { replaySchema } from './migration-replay.ts';
import { compareSchemas, type DifferencePhrasing } from './schema-compare.ts';

/**
 * Appends a `schema-differs` problem to `problems` for each difference between `database`'s
 * live schema and the one `applied` (in version order) produces.
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` / `MIGRATION_SCRATCH_FAILED` from reading
 *   the database or replaying the files.
 */
export async function verifySchema(
  database: DatabaseLocation,
  applied: MigrationFile[],
  options: AdoptOptions,
  problems: AdoptProblem[],
): Promise<void> {
  const live = await describeSchema(database);
  const implied = await replaySchema(database.engine, applied, {
    postgresUrl: options.postgresUrl ?? database.url,
    tmpDir: options.tmpDir,
  });
  const phrasing: DifferencePhrasing = (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a')
      return `the database has ${what(d.a)} that the files do not create`;
    if (d.change === 'only-in-b') return `the files create ${what(d.b)} that the database lacks`;
    return `${d.object} ${d.name} is ${d.a} in the database, but the files make it ${d.b}`;
  };
  for (const d of compareSchemas(live, implied, phrasing)) {
    problems.push({
      kind: 'schema-differs',
      row: null,
      file: null,
      message: `The adopted files do not reproduce the database's schema: ${d.message} (a file edited after it ran, or a change made by hand).`,
    });
  }
}
