/** `airlock migrate create`: the next numbered migration file, recorded in `airlock.sum`. */
import { readSumFile, verifyIntegrity, writeSumFile } from './integrity.ts';
import { createMigrationFile, readMigrationDir } from './migration-files.ts';

/**
 * Creates the next numbered file in `dir` for `name` and records it in `airlock.sum`. The
 * folder must match its sum first (a missing sum is fine), so creating a file never records
 * someone's unhashed edit.
 * @returns absolute paths: the new file and the sum file.
 * @throws UserError `MIGRATION_INTEGRITY`; what `createMigrationFile` throws.
 */
export async function createMigration(
  dir: string,
  name: string,
): Promise<{ file: string; sum: string }> {
  await readSumFile(dir);
  await verifyIntegrity(dir, await readMigrationDir(dir), { allowMissing: true });
  const file = await createMigrationFile(dir, name);
  const { path: sum } = await writeSumFile(dir);
  return { file, sum };
}
