/**
 * Reading and creating migration files. A migration is `migrations/NNNN_name.sql` (the naming
 * in migration-name.ts), numbered and append-only: once it has run anywhere it is never edited,
 * a change is a new file. Each file's sha256 is what the ledger records, so an edit to an
 * applied file is caught later (Flyway checksums, Atlas `atlas.sum`).
 */

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { type MigrationDirectives, parseDirectives } from './directives.ts';
import {
  formatMigrationVersion,
  migrationFilename,
  nextMigrationFilename,
  parseMigrationFilename,
  slugMigrationName,
} from './migration-name.ts';

/** One migration file on disk. */
export interface MigrationFile {
  /** The number in the file name, e.g. 1 for `0001_create_notes.sql`. */
  version: number;
  /** The name part, e.g. `create_notes`. */
  name: string;
  /** The file name, e.g. `0001_create_notes.sql`. */
  filename: string;
  /** Absolute path. */
  path: string;
  /** The file's text (UTF-8). */
  sql: string;
  /** sha256 of the raw bytes, lowercase hex (64 chars). */
  sha256: string;
  /**
   * The file's `-- airlock:` directives (contract, no-transaction, lint-ignore), as
   * `readMigrationDir` parsed them. Optional so a file built in memory needs none: use
   * `directivesOf(file)`, which parses `sql` when this is missing.
   */
  directives?: MigrationDirectives;
}

/** sha256 of some bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads every `*.sql` file of `dir` as a migration, sorted by version.
 *
 * - A missing directory gives `[]` (a project with no database has no migrations).
 * - Files not ending in `.sql` are ignored (READMEs, `.gitkeep`).
 *
 * @throws UserError `MIGRATION_NAME_INVALID` for a `.sql` file not named `NNNN_name.sql`
 *   (lowercase letters, digits and `_`), naming the file.
 * @throws UserError `MIGRATION_DUPLICATE` when two files share a number, naming both.
 * @throws UserError `MIGRATION_GAP` when the numbers skip one (or do not start at 1), naming
 *   the file after the gap and the missing number.
 */
export async function readMigrationDir(dir: string): Promise<MigrationFile[]> {
  const absDir = resolve(dir);
  let names: string[];
  try {
    names = await readdir(absDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: MigrationFile[] = [];
  for (const filename of names.filter((n) => n.endsWith('.sql')).sort()) {
    const parsed = parseMigrationFilename(filename);
    if (!parsed) {
      throw new UserError(
        'MIGRATION_NAME_INVALID',
        `Migration file ${join(absDir, filename)} is not named NNNN_name.sql.`,
        {
          hint: `Rename ${filename} to a four-digit number, an underscore and a lowercase name (e.g. 0001_create_notes.sql), or create migrations with \`airlock migrate create <name>\`.`,
          details: { file: join(absDir, filename) },
        },
      );
    }
    const path = join(absDir, filename);
    const bytes = await readFile(path);
    const sql = bytes.toString('utf8');
    files.push({
      version: parsed.version,
      name: parsed.name,
      filename,
      path,
      sql,
      sha256: sha256Hex(bytes),
      directives: parseDirectives(sql),
    });
  }
  files.sort((a, b) => a.version - b.version || a.filename.localeCompare(b.filename));
  validateSequence(files);
  return files;
}

/** Throws MIGRATION_DUPLICATE or MIGRATION_GAP for a sorted list that is not 1, 2, 3, … */
function validateSequence(files: MigrationFile[]): void {
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const previous = files[i - 1];
    if (previous && previous.version === file.version) {
      throw new UserError(
        'MIGRATION_DUPLICATE',
        `Migrations ${previous.path} and ${file.path} share the number ${formatMigrationVersion(file.version)}.`,
        {
          hint: `Give one of them the next free number: rename ${file.filename}, or delete it and run \`airlock migrate create <name>\`.`,
          details: { files: [previous.path, file.path], version: file.version },
        },
      );
    }
    const expected = (previous?.version ?? 0) + 1;
    if (file.version !== expected) {
      throw new UserError(
        'MIGRATION_GAP',
        `Migration ${file.path} follows a gap: ${formatMigrationVersion(expected)} is missing.`,
        {
          hint: `Migrations are numbered without gaps from 0001. Rename ${file.filename} to ${migrationFilename(expected, file.name)}, or restore the missing file.`,
          details: { file: file.path, missing: expected },
        },
      );
    }
  }
}

/**
 * Creates the next migration file in `dir` (created if missing): the next number zero-padded to
 * 4 digits, `name` slugged (`"Add pinned"` → `add_pinned`), and a comment header. Existing files
 * are validated first, so a broken sequence is reported rather than extended.
 *
 * @returns the absolute path of the new file.
 * @throws UserError `USAGE` when `name` has no letters or digits; any `readMigrationDir` error.
 */
export async function createMigrationFile(dir: string, name: string): Promise<string> {
  const slug = slugMigrationName(name);
  if (!slug) {
    throw new UserError('USAGE', `"${name}" is not a usable migration name.`, {
      hint: 'Name the migration after what it does, e.g. `airlock migrate create add_notes_pinned`.',
    });
  }
  const absDir = resolve(dir);
  const existing = await readMigrationDir(absDir);
  const filename = nextMigrationFilename(existing, slug);
  const path = join(absDir, filename);
  await mkdir(absDir, { recursive: true });
  const header = [
    `-- Migration ${filename}`,
    `-- Created ${new Date().toISOString()}.`,
    '-- Append-only: once this has run on any environment, never edit it; add a new migration instead.',
    '-- Runs in one transaction together with its ledger row.',
    '',
    '',
  ].join('\n');
  await writeFile(path, header, { flag: 'wx' });
  return path;
}
