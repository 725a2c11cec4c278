/**
 * `migrations/airlock.sum`: the integrity file of a migrations directory (Atlas's `atlas.sum`).
 *
 * Tools that track migrations by name only (Supabase, wrangler's `d1_migrations`) cannot tell
 * when two branches both add `0007_…`, or when an applied file is edited; both end as broken
 * staging databases. The ledger's checksums (Flyway `validate`) catch an edit once a file has
 * run somewhere; the sum file catches it earlier, in git, before anything runs:
 *
 * - **Two branches that each add a migration make git report a merge conflict** on
 *   `airlock.sum`: both change its first line (the directory hash) and both insert their line
 *   at the same place (after the last file), so neither merges silently. The conflicted file
 *   is reported with what to do (`renumber yours after the other's, then run airlock migrate
 *   hash`).
 * - **An edit, an added file or a removed file without re-hashing** is reported naming the
 *   file (`verifyIntegrity`).
 *
 * ## Format (version 1)
 *
 * UTF-8 text, `\n` line ends (a `\r\n` file, e.g. after git's autocrlf, reads the same):
 *
 * ```text
 * v1 <sha256 hex of every following line, each with its "\n">
 * <sha256 hex of 0001_create_notes.sql>  0001_create_notes.sql
 * <sha256 hex of 0002_add_pinned.sql>  0002_add_pinned.sql
 * ```
 *
 * - Line 1: `v1`, a space, the **directory hash**: sha256 (lowercase hex) of the bytes of
 *   lines 2…n, each followed by `\n`.
 * - Lines 2…n: one per migration file (`*.sql`), **ordered by file name** (byte order, which
 *   for `NNNN_name.sql` is version order): the sha256 (lowercase hex) of the file's raw bytes,
 *   two spaces, the file name. That is the checksum the ledger records for the file, and the
 *   line format of coreutils' `sha256sum`, so both are checkable without Airlock:
 *   `tail -n +2 migrations/airlock.sum | sha256sum` prints the directory hash, and
 *   `cd migrations && tail -n +2 airlock.sum | sha256sum -c` checks every file.
 *
 * Hex rather than Atlas's `h1:<base64>`: the per-file lines then compare directly with the
 * ledger's `sha256` column, and with `sha256sum`. Unlike Atlas's, each line hashes its own file
 * only (Atlas chains them), so a line changes only when its file does.
 *
 * `readMigrationDir` ignores the file (it reads `*.sql` only).
 */

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { type MigrationFile, readMigrationDir, sha256Hex } from './migration-files.ts';
import { projectPath } from './migration-layouts.ts';
import { MIGRATION_FILENAME, newMigrationAdvice, restoreAppliedAdvice } from './migration-name.ts';

/** The integrity file's name inside a migrations directory. */
export const SUM_FILENAME = 'airlock.sum';

/** One migration file as `airlock.sum` lists it. */
export interface SumEntry {
  /** e.g. `0001_create_notes.sql`. */
  filename: string;
  /** sha256 of the file's raw bytes, lowercase hex (the ledger's checksum). */
  sha256: string;
}

/** The content of `airlock.sum`. */
export interface SumFile {
  version: 1;
  /** sha256 (lowercase hex) of the file lines, each with its `\n` (see the module comment). */
  directory: string;
  /** Sorted by file name. */
  files: SumEntry[];
}

/** Something `airlock.sum` and the directory disagree on. Plain data. */
export interface IntegrityProblem {
  kind: 'changed' | 'added' | 'removed';
  /** The migration file's name, e.g. `0003_add_tags.sql`. */
  filename: string;
  /** Its sha256 in `airlock.sum`; null for an added file. */
  sumSha256: string | null;
  /** Its sha256 on disk; null for a removed file. */
  fileSha256: string | null;
  /** One sentence naming the file and what to do. */
  message: string;
}

const HEADER = /^v1 ([0-9a-f]{64})$/;
const LINE = /^([0-9a-f]{64}) {2}(\S+\.sql)$/;
const CONFLICT_MARKER = /^(?:<{7}|={7}|>{7}|\|{7})(?:\s|$)/;

/** Orders file names by their bytes (= version order for `NNNN_name.sql`). */
function byFilename(a: SumEntry, b: SumEntry): number {
  return a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0;
}

function fileLines(files: SumEntry[]): string {
  return files.map((f) => `${f.sha256}  ${f.filename}\n`).join('');
}

/** The sum of `files` (as read by `readMigrationDir`). Pure. */
export function computeSum(files: MigrationFile[]): SumFile {
  const entries = files.map((f) => ({ filename: f.filename, sha256: f.sha256 })).sort(byFilename);
  return { version: 1, directory: sha256Hex(fileLines(entries)), files: entries };
}

/** The text of `airlock.sum` for `sum` (ends with `\n`). Pure. */
export function formatSum(sum: SumFile): string {
  return `v1 ${sum.directory}\n${fileLines(sum.files)}`;
}

/**
 * Parses the text of an `airlock.sum`. `where` names the file in errors.
 *
 * @throws UserError `MIGRATION_INTEGRITY` when it has git merge conflict markers (two branches
 *   added migrations), or is malformed: an unknown first line, a line that is not
 *   `<sha256>  <name>.sql`, lines out of order or repeated, or a directory hash that does not
 *   match its lines (edited by hand, or a conflict resolved by hand).
 */
export function parseSum(text: string, where: string = SUM_FILENAME): SumFile {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.some((line) => CONFLICT_MARKER.test(line))) {
    throw new UserError(
      'MIGRATION_INTEGRITY',
      `${SUM_FILENAME} has merge conflict markers: two branches added migrations; renumber yours after the other's, then run \`airlock migrate hash\`.`,
      {
        hint: `Keep the other branch's migration files as they are (they may have run on staging already). Rename yours to the numbers after them (e.g. \`git mv migrations/0007_yours.sql migrations/0008_yours.sql\`), then run \`airlock migrate hash\` to rewrite ${SUM_FILENAME} and commit it.`,
        details: { file: where, reason: 'merge-conflict' },
      },
    );
  }
  const malformed = (why: string): UserError =>
    new UserError('MIGRATION_INTEGRITY', `${SUM_FILENAME} is malformed: ${why}.`, {
      hint: `Do not edit ${SUM_FILENAME} by hand. Check that the migration files are the ones you want, then run \`airlock migrate hash\` to rewrite it.`,
      details: { file: where, reason: 'malformed' },
    });
  const header = HEADER.exec(lines[0] ?? '');
  if (!header) {
    throw malformed(
      lines.length === 0
        ? 'it is empty'
        : `its first line should be \`v1 <sha256>\`, not \`${truncate(lines[0]!)}\``,
    );
  }
  const files: SumEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const match = LINE.exec(lines[i]!);
    if (!match) {
      throw malformed(
        `line ${i + 1} should be \`<sha256>  <file>.sql\`, not \`${truncate(lines[i]!)}\``,
      );
    }
    const entry = { sha256: match[1]!, filename: match[2]! };
    const previous = files.at(-1);
    if (previous && byFilename(previous, entry) >= 0) {
      throw malformed(
        `line ${i + 1} (${entry.filename}) ${previous.filename === entry.filename ? 'repeats a file' : `is out of order after ${previous.filename}`}`,
      );
    }
    files.push(entry);
  }
  const directory = header[1]!;
  if (sha256Hex(fileLines(files)) !== directory) {
    throw malformed(
      'its first line (the directory hash) does not match the file lines below it, so it was edited by hand',
    );
  }
  return { version: 1, directory, files };
}

/**
 * Reads `<dir>/airlock.sum`; null when there is none.
 *
 * @throws UserError `MIGRATION_INTEGRITY` when it has conflict markers or is malformed (see
 *   `parseSum`).
 */
export async function readSumFile(dir: string): Promise<SumFile | null> {
  const path = join(resolve(dir), SUM_FILENAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return parseSum(text, path);
}

/**
 * The `airlock.sum` text for the `*.sql` migration files in `dir`, read synchronously (for
 * scripts and tests that write a migration and commit it in one synchronous step). Does not
 * validate names or numbering; `writeSumFile` does.
 */
export function sumTextSync(dir: string): string {
  const entries = readdirSync(dir)
    .filter((name) => MIGRATION_FILENAME.test(name))
    .map((filename) => ({
      filename,
      sha256: createHash('sha256')
        .update(readFileSync(join(dir, filename)))
        .digest('hex'),
    }));
  return formatSum(computeSum(entries as MigrationFile[]));
}

/**
 * Writes `<dir>/airlock.sum` for `files` (default: the directory's migrations, read with
 * `readMigrationDir`, which throws on bad names, duplicates and gaps). Replaces the file
 * atomically (write beside it, then rename); creates `dir` when missing. This is `airlock
 * migrate hash`, and also how a conflicted sum file is repaired once the files are renumbered.
 *
 * @returns the sum written and the file's absolute path.
 */
export async function writeSumFile(
  dir: string,
  files?: MigrationFile[],
): Promise<{ sum: SumFile; path: string }> {
  const absDir = resolve(dir);
  const sum = computeSum(files ?? (await readMigrationDir(absDir)));
  await mkdir(absDir, { recursive: true });
  const path = join(absDir, SUM_FILENAME);
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, formatSum(sum));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return { sum, path };
}

/**
 * What `sum` and `files` disagree on, in file name order: files edited, added or removed since
 * the sum was written. Empty when they agree. Pure.
 */
export function checkIntegrity(sum: SumFile, files: MigrationFile[]): IntegrityProblem[] {
  const onDisk = new Map(files.map((f) => [f.filename, f]));
  const listed = new Map(sum.files.map((f) => [f.filename, f]));
  const names = [...new Set([...onDisk.keys(), ...listed.keys()])].sort();
  const problems: IntegrityProblem[] = [];
  for (const filename of names) {
    const file = onDisk.get(filename);
    const entry = listed.get(filename);
    if (file && entry && file.sha256 !== entry.sha256) {
      problems.push({
        kind: 'changed',
        filename,
        sumSha256: entry.sha256,
        fileSha256: file.sha256,
        message: `${filename} changed since ${SUM_FILENAME} was written: run \`airlock migrate hash\` if the change is intended and not yet applied anywhere`,
      });
    } else if (file && !entry) {
      problems.push({
        kind: 'added',
        filename,
        sumSha256: null,
        fileSha256: file.sha256,
        message: `${filename} was added without updating ${SUM_FILENAME}: run \`airlock migrate hash\` to record it`,
      });
    } else if (!file && entry) {
      problems.push({
        kind: 'removed',
        filename,
        sumSha256: entry.sha256,
        fileSha256: null,
        message: `${filename} is listed in ${SUM_FILENAME} but is gone: restore it from git, or run \`airlock migrate hash\` if it was never applied anywhere`,
      });
    }
  }
  return problems;
}

export interface VerifyIntegrityOptions {
  /**
   * Accept a directory without `airlock.sum` (a project that has not adopted it yet).
   * Default false: migration files without a sum file are an error.
   */
  allowMissing?: boolean;
}

/**
 * Checks `files` (as read from `dir` by `readMigrationDir`) against `<dir>/airlock.sum`. Call
 * `readSumFile(dir)` before `readMigrationDir(dir)` when you can: after a conflicted merge the
 * directory may hold two `0007_…` files, and the sum file's conflict explains why better than
 * the duplicate number does.
 *
 * @throws UserError `MIGRATION_INTEGRITY` naming every file edited, added or removed without
 *   re-hashing (`details.problems`, see `IntegrityProblem`; the hint names an edited file as
 *   `projectPath` shows it, and how to add a migration in the files' layout); when `airlock.sum` has merge
 *   conflict markers or is malformed; and when it is missing while `dir` has migrations
 *   (unless `allowMissing`).
 */
export async function verifyIntegrity(
  dir: string,
  files: MigrationFile[],
  options: VerifyIntegrityOptions = {},
): Promise<void> {
  const path = join(resolve(dir), SUM_FILENAME);
  const sum = await readSumFile(dir);
  if (!sum) {
    if (files.length === 0 || options.allowMissing) return;
    throw new UserError(
      'MIGRATION_INTEGRITY',
      `${path} is missing: the ${files.length} migration file${files.length === 1 ? '' : 's'} in ${resolve(dir)} ${files.length === 1 ? 'is' : 'are'} not protected by an integrity file.`,
      {
        hint: `Run \`airlock migrate hash\` to write ${SUM_FILENAME}, and commit it with the migrations.`,
        details: { file: path, reason: 'missing' },
      },
    );
  }
  const problems = checkIntegrity(sum, files);
  if (problems.length === 0) return;
  const first = problems[0]!;
  const message =
    problems.length === 1
      ? `${first.message}.`
      : `${problems.length} migration files do not match ${SUM_FILENAME}: ${problems.map((p) => p.message).join('; ')}.`;
  const changed = problems.filter((p) => p.kind === 'changed').map((p) => p.filename);
  const layout = files[0]?.layout ?? 'airlock';
  const hints = [];
  if (changed.length > 0) {
    hints.push(
      `An applied migration must never change (its checksum is in every environment's ledger): if ${changed.join(', ')} already ran anywhere, restore ${changed.length === 1 ? 'it' : 'them'} ${restoreAppliedAdvice(changed.map((f) => projectPath(join(resolve(dir), f))).join(' '))} and ${newMigrationAdvice(layout)}.`,
    );
  }
  hints.push(
    `Once the files are the ones you want, run \`airlock migrate hash\` and commit ${SUM_FILENAME} with them.`,
  );
  throw new UserError('MIGRATION_INTEGRITY', message, {
    hint: hints.join(' '),
    details: { file: path, reason: 'mismatch', problems },
  });
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
