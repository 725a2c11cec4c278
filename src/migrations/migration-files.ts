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
  layoutsReading,
  listFilesBelow,
  type MigrationFolderLayout,
  readLayoutEntries,
  refuseSpecial,
  specialEntry,
} from './migration-layouts.ts';
import {
  formatMigrationVersion,
  LAYOUTS,
  leadingMigrationNumber,
  type MigrationLayout,
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
  /**
   * The file's path relative to the folder, `/`-separated: `0001_create_notes.sql`, or
   * `20240101000000_init/migration.sql` in a folder-per-migration layout.
   */
  filename: string;
  /**
   * Where the file is, for messages: its absolute path when read from a folder on disk; for a
   * release's snapshot, where it is in the project (`drizzle/0001_x.sql`, relative to the
   * project root), since the snapshot's own place in the artifact store means nothing to the
   * user. What runs is `sql`: nothing needs to read the file again.
   */
  path: string;
  /** The layout it was read in (the tool that writes its folder); absent: `airlock`. */
  layout?: MigrationLayout;
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
  /** drizzle (journal layout): the journal's `when` (ms since the epoch), which drizzle's ledger records. */
  createdAtMs?: number;
}

/** sha256 of some bytes as lowercase hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads the migrations of `dir` in its layout (default `airlock`), in the order they run.
 *
 * - A missing directory gives `[]` (a project with no database has no migrations).
 * - `airlock`: every `*.sql` file of the folder is a migration named `NNNN_name.sql`, numbered
 *   from 0001 without gaps. Other files are ignored (READMEs, `.gitkeep`, `airlock.sum`).
 * - Any other layout reads the files as its tool does (migration-layouts.ts); `sql` is then
 *   what runs (a dbmate/goose/node-pg-migrate file's up section), `sha256` the whole file's.
 *
 * @throws UserError `MIGRATION_LAYOUT_MISMATCH` when the folder yields no migration while
 *   `.sql` files are below it, naming them and the layouts that would read them.
 * @throws UserError `MIGRATION_NAME_INVALID` for a `.sql` file the layout does not accept,
 *   naming the file, and the layout that would (a start at 0000, hyphens, timestamps).
 * @throws UserError `MIGRATION_DUPLICATE` when two files share a number, naming both.
 * @throws UserError `MIGRATION_GAP` (`airlock` only) when the numbers skip one, naming the
 *   file after the gap and the missing number.
 * @throws what `readLayoutEntries` throws for other layouts (code migrations, a broken journal).
 */
export async function readMigrationDir(
  dir: string,
  folder: MigrationFolderLayout = { layout: 'airlock' },
): Promise<MigrationFile[]> {
  const absDir = resolve(dir);
  let files: MigrationFile[];
  if (folder.layout === 'airlock') {
    const read = await readAirlockDir(absDir);
    if (read === null) return [];
    files = read;
  } else {
    const entries = await readLayoutEntries(absDir, folder);
    if (entries === null) return [];
    files = entries.map((e) => ({
      version: e.version,
      name: e.name,
      filename: e.filename,
      path: e.path,
      sql: e.sql,
      sha256: sha256Hex(e.bytes),
      directives: parseDirectives(e.sql),
      layout: folder.layout,
      ...(e.createdAtMs !== undefined ? { createdAtMs: e.createdAtMs } : {}),
    }));
    for (const file of files) {
      if (!Number.isSafeInteger(file.version)) {
        throw new UserError(
          'MIGRATION_NAME_INVALID',
          `Migration ${file.path} has a number too large to order exactly (${file.filename.split(/[._/]/)[0]}).`,
          {
            hint: 'Use a shorter number in front of the name (at most 15 digits, e.g. a timestamp to the second).',
            details: { file: file.path },
          },
        );
      }
    }
  }
  if (files.length === 0) await refuseEmptyLooking(absDir, folder.layout);
  validateSequence(files, folder.layout);
  return files;
}

/** Airlock's own layout; null when the folder is missing. */
/** A source file of a code migration (`.ts`, `.js`, …; not a `.d.ts` type declaration). */
export const CODE_MIGRATION = /^(?!.*\.d\.[mc]?ts$).+\.(?:[mc]?ts|[mc]?js)$/;

async function readAirlockDir(absDir: string): Promise<MigrationFile[] | null> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(absDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const names = entries.map((e) => e.name);
  // A `.sql` name that is a link (or a pipe, …) is refused, never followed.
  await refuseSpecial(
    absDir,
    entries
      .filter((e) => e.name.endsWith('.sql') && !e.isFile() && !e.isDirectory())
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((e) => specialEntry(e, e.name)),
  );
  // A migration written as code (Kysely's, Knex's `up`/`down` in .ts or .js) is refused by
  // name: left unread, the folder would look up to date and the schema would never change.
  const code = names.filter((n) => CODE_MIGRATION.test(n)).sort()[0];
  if (code)
    throw new UserError(
      'MIGRATION_UNSUPPORTED',
      `Migration ${join(absDir, code)} is code, not SQL: Airlock runs SQL migrations only, and would not run it.`,
      {
        hint: `Write it as SQL: \`airlock migrate create <name>\` makes the next file (then \`airlock migrate hash\`). A database your migrator (Kysely, Knex, …) already brought up to date can keep its schema: record the SQL file that matches it as applied there with \`airlock migrate resolve <env> <file> --applied\`. See docs/migrations.md.`,
        details: { file: join(absDir, code) },
      },
    );
  const files: MigrationFile[] = [];
  for (const filename of names.filter((n) => n.endsWith('.sql')).sort()) {
    const parsed = parseMigrationFilename(filename);
    if (!parsed) throw invalidAirlockName(absDir, filename, names);
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
  return files;
}

/** MIGRATION_NAME_INVALID for `filename`, naming the layout that accepts the folder as it is. */
function invalidAirlockName(absDir: string, filename: string, names: string[]): UserError {
  const file = join(absDir, filename);
  const sql = names.filter((n) => n.endsWith('.sql'));
  const others = layoutsReading(sql, 'airlock');
  const number = leadingMigrationNumber(filename);
  const slug = slugMigrationName(filename.replace(/\.sql$/, '').replace(/^\d+[_.-]?/, ''));
  const rename =
    number !== null && slug && number > 0 && number < 10_000
      ? `rename it to ${migrationFilename(number, slug)}`
      : 'rename it to NNNN_name.sql (a number from 0001, an underscore, lowercase letters, digits and `_`)';
  const layoutHint =
    others.length > 0
      ? ` If another tool writes this folder, keep its names and read it in that tool's layout: set \`migrations: { dir: ..., layout: ${others.includes('supabase') && number !== null && number > 99_999_999 ? 'supabase' : others[0]} }\` in airlock.yaml (layouts that read ${filename}: ${others.join(', ')}).`
      : '';
  return new UserError(
    'MIGRATION_NAME_INVALID',
    `Migration file ${file} is not named NNNN_name.sql (layout airlock: lowercase letters, digits and \`_\` after the number).`,
    {
      hint: `To keep Airlock's own layout, ${rename}, or create migrations with \`airlock migrate create <name>\`.${layoutHint}`,
      details: { file },
    },
  );
}

/**
 * Refuses a folder that yields no migration in `layout` while `.sql` files are below it: a
 * deploy would otherwise ship code without its migrations.
 */
async function refuseEmptyLooking(absDir: string, layout: MigrationLayout): Promise<void> {
  const sql = ((await listFilesBelow(absDir)) ?? []).filter((f) => f.endsWith('.sql'));
  if (sql.length === 0) return;
  const readers = layoutsReading(sql, layout);
  const shown = sql.slice(0, 5).join(', ') + (sql.length > 5 ? `, and ${sql.length - 5} more` : '');
  throw new UserError(
    'MIGRATION_LAYOUT_MISMATCH',
    `${absDir} holds ${sql.length} .sql file${sql.length === 1 ? '' : 's'} (${shown}), but layout ${layout} reads none of them as a migration.`,
    {
      hint:
        readers.length > 0
          ? `Set the layout that reads them in airlock.yaml: \`migrations: { dir: ..., layout: ${readers[0]} }\` (layouts that would: ${readers.join(', ')}).`
          : `Name them ${LAYOUTS[layout].shape}, or point \`migrations\` at the folder that holds the migrations.`,
      details: { file: absDir, files: sql, layouts: readers },
    },
  );
}

/**
 * Throws MIGRATION_DUPLICATE for two files with one number; for `airlock`, also
 * MIGRATION_GAP / MIGRATION_NAME_INVALID unless the list is 1, 2, 3, …
 */
function validateSequence(files: MigrationFile[], layout: MigrationLayout): void {
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const previous = files[i - 1];
    if (previous && previous.version === file.version) {
      throw new UserError(
        'MIGRATION_DUPLICATE',
        `Migrations ${previous.path} and ${file.path} share the number ${layout === 'airlock' ? formatMigrationVersion(file.version) : String(file.version)}.`,
        {
          hint:
            layout === 'airlock'
              ? `Give one of them the next free number: rename ${file.filename}, or delete it and run \`airlock migrate create <name>\`.`
              : `Airlock records one ledger row per number: give ${file.filename} a number of its own (${LAYOUTS[layout].shape}).`,
          details: { files: [previous.path, file.path], version: file.version },
        },
      );
    }
    if (layout !== 'airlock') continue;
    if (i === 0 && file.version === 0) {
      const others = layoutsReading(
        files.map((f) => f.filename),
        'airlock',
      );
      throw new UserError(
        'MIGRATION_NAME_INVALID',
        `Migration ${file.path} is numbered 0000, but Airlock's own layout numbers from 0001.`,
        {
          hint: `drizzle-kit and wrangler number from 0000: keep the files and set the layout of the tool that wrote them in airlock.yaml (\`migrations: { dir: ..., layout: ${others.includes('drizzle') ? 'drizzle' : 'wrangler'} }\`), or renumber every file by one (${file.filename} becomes ${migrationFilename(1, file.name)}) before any of them has run.`,
          details: { file: file.path },
        },
      );
    }
    const expected = (previous?.version ?? 0) + 1;
    if (file.version !== expected) {
      throw new UserError(
        'MIGRATION_GAP',
        previous
          ? `Migration ${file.path} follows a gap: ${file.version - expected === 1 ? `${formatMigrationVersion(expected)} is` : `${formatMigrationVersion(expected)} to ${formatMigrationVersion(file.version - 1)} are`} missing after ${previous.filename}.`
          : `Migration ${file.path} is the first, but Airlock's own layout starts at 0001.`,
        {
          hint:
            file.version > 99_999_999
              ? `${file.filename} is named with a timestamp, as the Supabase CLI, dbmate and Prisma name migrations: keep the names and set that tool's layout in airlock.yaml (\`migrations: { dir: ..., layout: supabase }\`; see docs/migrations.md for the layouts).`
              : `Airlock's own layout numbers without gaps from 0001: rename ${file.filename} to ${migrationFilename(expected, file.name)}, or restore the missing file. A folder another tool writes (timestamps, gaps) keeps its names with that tool's layout: set \`migrations: { dir: ..., layout: <tool> }\` in airlock.yaml.`,
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
