/**
 * Reading a migrations folder in the layout of the tool that writes it (`LAYOUTS` in
 * migration-name.ts): which files are migrations, in which order, and which part of each file
 * runs. Each layout follows its tool:
 *
 * - `wrangler`: every `*.sql` file (or every file `migrations_pattern` matches, relative to
 *   the folder), ordered by the number in front (wrangler's `getD1MigrationFiles`), gaps and a
 *   start at `0000` allowed.
 * - `supabase`: `<timestamp>_<name>.sql`, any name (hyphens, upper case).
 * - `drizzle`: the files `meta/_journal.json` lists, in its order (`<idx>_<tag>.sql`, numbered
 *   from 0000); without a journal, drizzle-kit v1's `<timestamp>_<name>/migration.sql` folders.
 * - `prisma`: `<timestamp>_<name>/migration.sql` folders.
 * - `dbmate`, `goose`, `node-pg-migrate`: `<version>_<name>.sql`; only the up section runs
 *   (`-- migrate:up`, `-- +goose Up`, `-- Up Migration`); the down section is blanked out line
 *   for line, so lint findings keep their line numbers. `transaction:false` (dbmate) and
 *   `-- +goose NO TRANSACTION` become `-- airlock:no-transaction`.
 * - `postgrator`: `NNN.do.name.sql`; `NNN.undo.name.sql` files are not run.
 *
 * Pure reading, no database. `readMigrationDir` (migration-files.ts) builds `MigrationFile`s
 * from what this returns.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { findConfigFile } from '../config/config-cache.ts';
import { UserError } from '../errors.ts';
import { NO_TRANSACTION_MARKER } from './directives.ts';
import { LAYOUTS, MIGRATION_LAYOUTS, type MigrationLayout } from './migration-name.ts';

/** Which layout a folder is read in, and wrangler's `migrations_pattern` when it sets one. */
export interface MigrationFolderLayout {
  layout: MigrationLayout;
  /** wrangler: the glob of migration files, relative to the folder (e.g. `*\/migration.sql`). */
  pattern?: string | null;
}

/** One migration as a layout reads it. */
export interface LayoutEntry {
  version: number;
  name: string;
  /** Path relative to the folder, `/`-separated: `0001_init.sql`, `20240101_init/migration.sql`. */
  filename: string;
  path: string;
  bytes: Buffer;
  /** What runs: the whole file, or its up section (other lines blanked). */
  sql: string;
  /** drizzle's journal `when` (ms since the epoch), which its ledger records. */
  createdAtMs?: number;
}

/** Every file below `dir` (relative, `/`-separated), skipping dot folders and node_modules. */
export async function listFilesBelow(dir: string): Promise<string[] | null> {
  return (await listBelow(dir))?.files ?? null;
}

/** An entry below a migrations folder that is neither a regular file nor a folder. */
export interface SpecialEntry {
  /** Path relative to the folder, `/`-separated. */
  rel: string;
  /** What it is, for messages: `a symbolic link`, `a named pipe`, … */
  kind: string;
  link: boolean;
}

/**
 * The regular files below `dir` (as `listFilesBelow`), and the entries that are neither a file
 * nor a folder (symbolic links, pipes, sockets, devices), which are listed and never followed
 * or read. Entries named like the folders skipped (dot names, node_modules) are skipped too.
 * Null when `dir` is missing.
 */
async function listBelow(
  dir: string,
): Promise<{ files: string[]; special: SpecialEntry[] } | null> {
  const files: string[] = [];
  const special: SpecialEntry[] = [];
  const walk = async (rel: string, depth: number): Promise<boolean> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return false;
      throw error;
    }
    for (const entry of entries) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      const skipped = entry.name.startsWith('.') || entry.name === 'node_modules';
      if (entry.isDirectory()) {
        if (depth < 4 && !skipped) await walk(child, depth + 1);
      } else if (entry.isFile()) files.push(child);
      else if (!skipped) special.push(specialEntry(entry, child));
    }
    return true;
  };
  if (!(await walk('', 0))) return null;
  special.sort((a, b) => compareBytes(a.rel, b.rel));
  return { files: files.sort(), special };
}

/** `entry` (at `rel`, `/`-separated), which is neither a regular file nor a folder. */
export function specialEntry(entry: import('node:fs').Dirent, rel: string): SpecialEntry {
  const link = entry.isSymbolicLink();
  const kind = link
    ? 'a symbolic link'
    : entry.isFIFO()
      ? 'a named pipe'
      : entry.isSocket()
        ? 'a socket'
        : 'a device file';
  return { rel, kind, link };
}

/**
 * Refuses the first entry of `special` (below `absDir`): a migration behind a symbolic link
 * would be hashed and shipped as whatever the link points at when the release is built (any
 * file, even outside the project), and one the layout skipped would silently never run. Links
 * are not followed: the message shows where one points as the link itself says.
 *
 * @throws UserError `MIGRATION_UNSUPPORTED` naming the path relative to the project.
 */
export async function refuseSpecial(absDir: string, special: SpecialEntry[]): Promise<void> {
  const first = special[0];
  if (!first) return;
  const full = path.join(absDir, ...first.rel.split('/'));
  const where = projectPath(full);
  if (first.link) {
    const target = await readlink(full).catch(() => null);
    // A name with an extension (`migration.sql`) stands for a file, one without for a folder.
    const what = path.posix.extname(first.rel) ? 'file' : 'folder';
    throw layoutError(
      'MIGRATION_UNSUPPORTED',
      `Migration path ${where} is a symbolic link${target ? ` (to ${target})` : ''}: Airlock does not follow links in a migrations folder.`,
      `Replace the link with the ${what} itself (a copy in its place, committed to git): migrations are hashed and shipped with the release, and a link could point anywhere, even outside the project.`,
      full,
    );
  }
  throw layoutError(
    'MIGRATION_UNSUPPORTED',
    `Migration path ${where} is ${first.kind}, not a regular file: Airlock reads migrations from regular files only.`,
    'Replace it with a regular file holding the SQL, or move it out of the migrations folder.',
    full,
  );
}

/**
 * `file` for messages: relative to the project (the nearest folder above it with airlock.yaml),
 * else to the working directory when inside it, else absolute. A relative `file` is taken as
 * relative to the project already (a release snapshot's files, see `MigrationFile.path`).
 */
export function projectPath(file: string): string {
  if (!path.isAbsolute(file)) return file.split(path.sep).join('/');
  const config = findConfigFile(path.dirname(file));
  for (const base of [config ? path.dirname(config) : null, process.cwd()]) {
    if (base === null) continue;
    const rel = path.relative(base, file);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  return file;
}

function layoutError(
  code: 'MIGRATION_NAME_INVALID' | 'MIGRATION_LAYOUT_MISMATCH' | 'MIGRATION_UNSUPPORTED',
  message: string,
  hint: string,
  file: string,
): UserError {
  return new UserError(code, message, { hint, details: { file } });
}

/** The layouts other than `layout` that read at least one of `files` as a migration. */
export function layoutsReading(files: string[], except: MigrationLayout): MigrationLayout[] {
  return MIGRATION_LAYOUTS.filter(
    (l) =>
      l !== except &&
      files.some((f) =>
        l === 'wrangler' ? !f.includes('/') && f.endsWith('.sql') : LAYOUTS[l].parse(f) !== null,
      ),
  );
}

/**
 * The migrations of `absDir` in `layout` (not `airlock`, which migration-files.ts reads),
 * ordered as the tool runs them. A missing folder gives null.
 *
 * @throws UserError `MIGRATION_NAME_INVALID` for a `.sql` file in the folder that the tool
 *   would not run (naming the file and the shape it needs); `MIGRATION_UNSUPPORTED` for a
 *   JS/TS/Go migration (Airlock runs SQL only), and for a symbolic link, pipe or other entry
 *   that is not a regular file or folder anywhere in the folder (links are never followed);
 *   `MIGRATION_LAYOUT_MISMATCH` for drizzle's journal naming a file that is not there.
 */
export async function readLayoutEntries(
  absDir: string,
  folder: MigrationFolderLayout,
): Promise<LayoutEntry[] | null> {
  const below = await listBelow(absDir);
  if (below === null) return null;
  await refuseSpecial(absDir, below.special);
  const all = below.files;
  const naming = LAYOUTS[folder.layout];
  const entries: LayoutEntry[] = [];
  const read = async (
    filename: string,
    version: number,
    name: string,
    createdAtMs?: number,
  ): Promise<void> => {
    const full = path.join(absDir, ...filename.split('/'));
    const bytes = await readFile(full);
    entries.push({
      version,
      name,
      filename,
      path: full,
      bytes,
      sql: upSection(folder.layout, bytes.toString('utf8'), full),
      ...(createdAtMs !== undefined ? { createdAtMs } : {}),
    });
  };

  if (folder.layout === 'drizzle' && all.includes('meta/_journal.json')) {
    const journal = await readJournal(path.join(absDir, 'meta', '_journal.json'));
    for (const entry of journal) {
      const filename = `${entry.tag}.sql`;
      if (!all.includes(filename)) {
        throw layoutError(
          'MIGRATION_LAYOUT_MISMATCH',
          `${path.join(absDir, 'meta', '_journal.json')} lists ${entry.tag}, but ${path.join(absDir, filename)} is not there.`,
          'Restore the file from git, or regenerate the migrations with `drizzle-kit generate` so the journal and the files agree.',
          path.join(absDir, filename),
        );
      }
      await read(filename, entry.idx, entry.tag.replace(/^\d+_/, ''), entry.when);
    }
    const listed = new Set(journal.map((e) => `${e.tag}.sql`));
    const stray = all.find((f) => !f.includes('/') && f.endsWith('.sql') && !listed.has(f));
    if (stray) {
      throw layoutError(
        'MIGRATION_NAME_INVALID',
        `Migration file ${path.join(absDir, stray)} is not listed in meta/_journal.json, so drizzle-kit would never run it.`,
        'Generate migrations with `drizzle-kit generate` (it writes the journal entry), or delete the file.',
        path.join(absDir, stray),
      );
    }
    return entries;
  }

  const pattern = folder.layout === 'wrangler' ? (folder.pattern ?? '*.sql') : null;
  for (const file of all) {
    if (pattern !== null) {
      if (!path.posix.matchesGlob(file, pattern)) continue;
      const parsed = naming.parse(file);
      if (!parsed) {
        throw layoutError(
          'MIGRATION_NAME_INVALID',
          `Migration file ${path.join(absDir, file)} has no number in front of its name.`,
          'wrangler runs files in the order of the number in front (`wrangler d1 migrations create` writes `NNNN_name.sql`); Airlock needs that number to keep its ledger. Rename it with the next free number in front.',
          path.join(absDir, file),
        );
      }
      await read(file, parsed.version, parsed.name);
      continue;
    }
    if (naming.code?.test(file)) {
      throw layoutError(
        'MIGRATION_UNSUPPORTED',
        `Migration ${path.join(absDir, file)} is code, not SQL: Airlock runs SQL migrations only.`,
        `Write this migration as SQL (${naming.shape}), or keep running ${naming.tool} for it.`,
        path.join(absDir, file),
      );
    }
    const parsed = naming.parse(file);
    if (parsed) {
      await read(file, parsed.version, parsed.name);
      continue;
    }
    if (!file.includes('/') && file.endsWith('.sql') && !naming.ignored?.test(file)) {
      throw layoutError(
        'MIGRATION_NAME_INVALID',
        `Migration file ${path.join(absDir, file)} is not named ${naming.shape}, so ${naming.tool} would not run it either.`,
        `Rename it to ${naming.shape} (${naming.source}), or move it out of the folder.`,
        path.join(absDir, file),
      );
    }
  }
  entries.sort((a, b) => a.version - b.version || compareBytes(a.filename, b.filename));
  return entries;
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
}

async function readJournal(file: string): Promise<JournalEntry[]> {
  const bad = (why: string) =>
    layoutError(
      'MIGRATION_LAYOUT_MISMATCH',
      `${file} is not a drizzle-kit journal: ${why}.`,
      'Restore it from git, or regenerate it with `drizzle-kit generate`.',
      file,
    );
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw bad((error as Error).message);
  }
  const entries = (data as { entries?: unknown }).entries;
  if (!Array.isArray(entries)) throw bad('it has no "entries" list');
  return entries.map((e, i) => {
    const { idx, when, tag } = (e ?? {}) as Record<string, unknown>;
    if (typeof idx !== 'number' || typeof tag !== 'string' || !/^[^/\\]+$/.test(tag))
      throw bad(`entry ${i} has no "idx" number and "tag" name`);
    return { idx, tag, when: typeof when === 'number' ? when : 0 };
  });
}

/**
 * The part of `text` that runs, for layouts whose files hold up and down sections: lines
 * outside the up section become empty (so line numbers stay), and the tool's "no transaction"
 * marker becomes `-- airlock:no-transaction`. Whole files for the others.
 *
 * @throws UserError `MIGRATION_NAME_INVALID` when dbmate's or goose's file has no up marker.
 */
export function upSection(layout: MigrationLayout, text: string, where: string): string {
  const sections = LAYOUTS[layout].sections;
  if (!sections) return text;
  const lines = text.split('\n');
  const start = lines.findIndex((l) => sections.up.test(l.trim()));
  if (start < 0) {
    // node-pg-migrate runs a file without markers whole.
    if (layout === 'node-pg-migrate') return text;
    throw layoutError(
      'MIGRATION_NAME_INVALID',
      `Migration ${where} has no up section (${layout === 'dbmate' ? '`-- migrate:up`' : '`-- +goose Up`'}), so ${LAYOUTS[layout].tool} would refuse it.`,
      `Start the SQL to run with ${layout === 'dbmate' ? '`-- migrate:up`' : '`-- +goose Up`'} (${LAYOUTS[layout].source}).`,
      where,
    );
  }
  const downAfter = lines.findIndex((l, i) => i > start && sections.down.test(l.trim()));
  const end = downAfter < 0 ? lines.length : downAfter;
  return lines
    .map((line, i) => {
      if (sections.noTransaction?.test(line.trim())) return NO_TRANSACTION_MARKER;
      return i > start && i < end ? line : line.endsWith('\r') ? '\r' : '';
    })
    .join('\n');
}
