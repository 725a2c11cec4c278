/** A working tree's migration files, read only once they match their `airlock.sum`. */
import { readSumFile, verifyIntegrity } from './integrity.ts';
import { type MigrationFile, readMigrationDir } from './migration-files.ts';
import type { MigrationFolderLayout } from './migration-layouts.ts';

/**
 * The migration files of `dir` in its layout (default `airlock`), checked against its `airlock.sum`: an edit, an added or a
 * removed file without `airlock migrate hash`, or a conflicted merge of the sum file, is
 * refused naming the file.
 * @throws UserError `MIGRATION_INTEGRITY`; what `readMigrationDir` throws (gaps, duplicates).
 */
export async function verifiedMigrationFiles(
  dir: string,
  folder: MigrationFolderLayout = { layout: 'airlock' },
): Promise<MigrationFile[]> {
  // The sum file first: after a conflicted merge the folder may hold two 0007_… files, and the
  // conflict explains that better than the duplicate number does.
  await readSumFile(dir);
  const files = await readMigrationDir(dir, folder);
  await verifyIntegrity(dir, files);
  return files;
}
