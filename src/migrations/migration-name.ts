/**
 * The migration file name convention: `NNNN_name.sql`, wrangler d1's naming
 * (https://developers.cloudflare.com/d1/reference/migrations/): a number of at least four
 * digits, zero-padded, numbering from 0001; an underscore; a name of lowercase letters, digits
 * and `_`. The number is the migration's version, the order it runs in.
 */

/** The pattern every migration file name must match; group 1 is the number, group 2 the name. */
export const MIGRATION_FILENAME = /^(\d{4,})_([a-z0-9_]+)\.sql$/;

/**
 * Any `<digits>_<anything>.sql` name: what other tools accept (wrangler takes any name after
 * the number). Group 1 is the number.
 */
const NUMBERED_SQL_FILENAME = /^(\d+)_(.+)\.sql$/;

/** The parts of a migration file name. */
export interface MigrationName {
  /** The number, e.g. 1 for `0001_create_notes.sql`. */
  version: number;
  /** The name part, e.g. `create_notes`. */
  name: string;
}

/**
 * The version and name of `filename` (a base name, e.g. `0001_create_notes.sql`), or null when
 * it is not named `NNNN_name.sql` (`MIGRATION_FILENAME`).
 */
export function parseMigrationFilename(filename: string): MigrationName | null {
  const match = MIGRATION_FILENAME.exec(filename);
  return match ? { version: Number(match[1]), name: match[2]! } : null;
}

/**
 * The number in front of a `<digits>_<anything>.sql` name, Airlock's or not (`0003_Add-Tags.sql`
 * gives 3), or null for any other name.
 */
export function leadingMigrationNumber(filename: string): number | null {
  const match = NUMBERED_SQL_FILENAME.exec(filename);
  return match ? Number(match[1]) : null;
}

/** A version as file names show it: zero-padded to four digits (`1` → `0001`, `12345` stays). */
export function formatMigrationVersion(version: number): string {
  return String(version).padStart(4, '0');
}

/** `0001_create_notes` for version 1 and name `create_notes` (the file name without `.sql`). */
export function migrationLabel(version: number, name: string): string {
  return `${formatMigrationVersion(version)}_${name}`;
}

/** The file name of a migration: `0001_create_notes.sql` for version 1, `create_notes`. */
export function migrationFilename(version: number, name: string): string {
  return `${migrationLabel(version, name)}.sql`;
}

/**
 * The file name of the migration after `existing` (any order): the highest version plus one
 * (1 when there is none), with `name` as its name part (already slugged: `slugMigrationName`).
 */
export function nextMigrationFilename(
  existing: ReadonlyArray<{ version: number }>,
  name: string,
): string {
  const last = existing.reduce((max, f) => Math.max(max, f.version), 0);
  return migrationFilename(last + 1, name);
}

/** Turns a free-form name into the `[a-z0-9_]+` part of a migration file name. */
export function slugMigrationName(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}
