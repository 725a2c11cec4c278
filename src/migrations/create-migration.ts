/** `airlock migrate create`: the next numbered migration file, recorded in `airlock.sum`. */
import { UserError } from '../errors.ts';
import { readSumFile, verifyIntegrity, writeSumFile } from './integrity.ts';
import { createMigrationFile, readMigrationDir } from './migration-files.ts';
import type { MigrationFolderLayout } from './migration-layouts.ts';
import { createMigrationCommands, LAYOUTS } from './migration-name.ts';

/**
 * Creates the next numbered file in `dir` for `name` and records it in `airlock.sum`. The
 * folder must match its sum first (a missing sum is fine), so creating a file never records
 * someone's unhashed edit.
 * @returns absolute paths: the new file and the sum file.
 * @throws UserError `MIGRATION_UNSUPPORTED` for a folder another tool writes (its tool creates
 *   them); `MIGRATION_INTEGRITY`; what `createMigrationFile` throws.
 */
export async function createMigration(
  dir: string,
  name: string,
  folder: MigrationFolderLayout = { layout: 'airlock' },
): Promise<{ file: string; sum: string }> {
  if (folder.layout !== 'airlock') {
    const naming = LAYOUTS[folder.layout];
    throw new UserError(
      'MIGRATION_UNSUPPORTED',
      `${dir} is written by ${naming.tool} (layout ${folder.layout}): create its migrations with ${naming.tool}.`,
      {
        hint: `Run ${createMigrationCommands(folder.layout)} to record the new file in airlock.sum.`,
        details: { file: dir },
      },
    );
  }
  await readSumFile(dir);
  await verifyIntegrity(dir, await readMigrationDir(dir), { allowMissing: true });
  const file = await createMigrationFile(dir, name);
  const { path: sum } = await writeSumFile(dir);
  return { file, sum };
}
