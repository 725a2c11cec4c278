/** `airlock migrate hash`: (re)writes a migrations folder's `airlock.sum` and says what changed. */
import { hasCode, type UserError } from '../errors.ts';
import type { EnvironmentDatabase } from './environment-database.ts';
import { checkIntegrity, readSumFile, type SumFile, writeSumFile } from './integrity.ts';
import type { LedgerEntry } from './ledger.ts';
import { type MigrationFile, readMigrationDir } from './migration-files.ts';
import type { MigrationFolderLayout } from './migration-layouts.ts';

/** What changed in one folder's `airlock.sum`. Plain data (JSON for `--json`). */
export interface SumUpdate {
  /** The migrations folder, as given. */
  dir: string;
  /** The sum file written (absolute path). */
  file: string;
  /** How many migration files it lists. */
  files: number;
  /** File names added, changed and removed since the old sum. */
  added: string[];
  changed: string[];
  removed: string[];
  /** The old sum file could not be read: merge conflict markers, or malformed. */
  replaced: 'merge-conflict' | 'malformed' | null;
  /**
   * Changed files already applied somewhere (with the old checksum), and the release that ran
   * each there (its ledger row; null when run by hand).
   */
  appliedElsewhere: Array<{ file: string; environment: string; release: string | null }>;
}

/**
 * Writes `<dir>/airlock.sum` from the files now in `dir`, replacing a conflicted or hand-edited
 * one, and reports what changed since the old one. `databases` (the service's, in pipeline
 * order) are read to find changed files some environment already ran; one that cannot be read
 * is skipped, since hashing needs no database.
 * @throws what `readMigrationDir` throws (bad names, duplicates, gaps).
 */
export async function hashMigrations(
  dir: string,
  databases: EnvironmentDatabase[],
  folder: MigrationFolderLayout = { layout: 'airlock' },
): Promise<SumUpdate> {
  let old: SumFile | null = null;
  let replaced: SumUpdate['replaced'] = null;
  try {
    old = await readSumFile(dir);
  } catch (error) {
    // A conflicted or hand-edited sum is what `hash` repairs, once the files are right.
    if (!hasCode(error, 'MIGRATION_INTEGRITY')) throw error;
    const reason = (error as UserError).details.reason;
    replaced = reason === 'merge-conflict' ? 'merge-conflict' : 'malformed';
  }
  const files = await readMigrationDir(dir, folder);
  const { path: file } = await writeSumFile(dir, files);
  const problems = checkIntegrity(old ?? { version: 1, directory: '', files: [] }, files);
  const of = (kind: string) => problems.filter((p) => p.kind === kind).map((p) => p.filename);
  const changed = of('changed');
  return {
    dir,
    file,
    files: files.length,
    added: of('added'),
    changed,
    removed: of('removed'),
    replaced,
    appliedElsewhere: await appliedWithOtherChecksum(databases, files, changed),
  };
}

/** The `changed` files some environment's ledger has with another checksum (best effort). */
async function appliedWithOtherChecksum(
  databases: EnvironmentDatabase[],
  files: MigrationFile[],
  changed: string[],
): Promise<SumUpdate['appliedElsewhere']> {
  if (changed.length === 0) return [];
  const out = [];
  for (const database of databases) {
    let ledger: LedgerEntry[];
    try {
      ledger = await database.readLedger();
    } catch {
      continue;
    }
    for (const file of files) {
      if (!changed.includes(file.filename)) continue;
      const entry = ledger.find((e) => e.version === file.version);
      if (entry && entry.sha256 !== file.sha256) {
        out.push({
          file: file.filename,
          environment: database.environment,
          release: entry.release,
        });
      }
    }
  }
  return out;
}
