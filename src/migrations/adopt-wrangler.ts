/**
 * Adopting wrangler's D1 ledger: the table `d1_migrations(id, name, applied_at)` (or the
 * binding's `migrations_table`) that `wrangler d1 migrations apply` keeps in the database
 * (https://developers.cloudflare.com/d1/reference/migrations/). `name` is the file name
 * (`0001_init.sql`), which must be an Airlock file name exactly: wrangler matches files by
 * name. Locally the database is a SQLite file (local-d1-database.ts); for a remote D1 database
 * the caller reads the rows and passes them.
 */

import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import type { AdoptProblem, RowMatch } from './adopt.ts';
import type { MigrationFile } from './migration-files.ts';
import { leadingMigrationNumber } from './migration-name.ts';
import { sqlitePathFromUrl } from './sqlite-migration-driver.ts';

/** A row of wrangler's `d1_migrations`. `applied_at` is SQLite's `CURRENT_TIMESTAMP` (UTC). */
export interface D1MigrationRow {
  id: number;
  /** The file name, e.g. `0001_init.sql`. */
  name: string;
  /** e.g. `2024-05-01 12:00:00`. */
  applied_at: string | null;
}

/**
 * Matches wrangler's rows (in `id` order) to `files` by file name; a row without its file is a
 * `renamed` problem when a file has its number, else `no-file`.
 */
export function matchWrangler(
  rows: D1MigrationRow[],
  files: MigrationFile[],
  problems: AdoptProblem[],
): RowMatch[] {
  const byFilename = new Map(files.map((f) => [f.filename, f]));
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const matches: RowMatch[] = [];
  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    const file = byFilename.get(row.name);
    if (file) {
      matches.push({ row: row.name, file, appliedAt: sqliteTimestamp(row.applied_at) });
      continue;
    }
    const number = leadingMigrationNumber(row.name);
    const sameNumber = number === null ? undefined : byVersion.get(number);
    problems.push(
      sameNumber
        ? {
            kind: 'renamed',
            row: row.name,
            file: sameNumber.filename,
            message: `d1_migrations records ${row.name} as applied, but the migrations directory has ${sameNumber.filename} under that number: rename it back to ${row.name} (wrangler matches files by name), or restore the file that ran.`,
          }
        : {
            kind: 'no-file',
            row: row.name,
            file: null,
            message: `d1_migrations records ${row.name} as applied, but the migrations directory has no such file: restore it from git before adopting.`,
          },
    );
  }
  return matches;
}

/** SQLite's `CURRENT_TIMESTAMP` (`2024-05-01 12:00:00`, UTC) as ISO-8601; null when unreadable. */
function sqliteTimestamp(value: string | null): string | null {
  if (!value) return null;
  const date = new Date(
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(value) ? `${value.replace(' ', 'T')}Z` : value,
  );
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * Reads wrangler's ledger from a D1 SQLite file (read-only). A database without the table
 * gives `[]`.
 *
 * @throws UserError `MIGRATION_ADOPT_SOURCE_NOT_FOUND` when the file does not exist.
 */
export async function readD1Ledger(
  sqlitePath: string,
  options: { table?: string } = {},
): Promise<D1MigrationRow[]> {
  const path = sqlitePathFromUrl(sqlitePath);
  const table = options.table ?? 'd1_migrations';
  if (!existsSync(path)) {
    throw new UserError(
      'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
      `There is no D1 database file at ${path}.`,
      {
        hint: 'Run `wrangler d1 migrations apply <database> --local` first, or pass the path of the local database.',
        details: { path },
      },
    );
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const present = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(table);
    if (!present) return [];
    return (
      db
        .prepare(`SELECT id, name, applied_at FROM "${table.replace(/"/g, '""')}" ORDER BY id`)
        .all() as Array<{
        id: number;
        name: string;
        applied_at: string | null;
      }>
    ).map((r) => ({ id: Number(r.id), name: String(r.name), applied_at: r.applied_at ?? null }));
  } finally {
    db.close();
  }
}
