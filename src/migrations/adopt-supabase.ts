/**
 * Adopting the Supabase CLI's ledger: the table `supabase_migrations.schema_migrations(version
 * text, name text, statements text[])` on Postgres
 * (https://supabase.com/docs/reference/cli/supabase-migration). Supabase names files
 * `<timestamp>_<name>.sql` (version `20240101120000`), Airlock `NNNN_<name>.sql`. **Rule: a
 * Supabase row matches the Airlock file with the same name part** (`20240101120000_create_notes`
 * ↔ `0001_create_notes.sql`), unless a mapping names the file for its version; the rows in
 * version order must match files in version order, and a file must still hold the statements
 * the CLI recorded.
 */

import type { AdoptProblem, RowMatch } from './adopt.ts';
import type { MigrationFile } from './migration-files.ts';
import { withClient } from './postgres-client.ts';
import { versionText } from './tool-ledgers.ts';

/** A row of Supabase's `supabase_migrations.schema_migrations`. */
export interface SupabaseMigrationRow {
  /** The file's timestamp, e.g. `20240101120000`. */
  version: string;
  /** The file's name part, e.g. `create_notes` (null in ledgers of old CLI versions). */
  name: string | null;
  /** The statements the CLI ran (null or empty in ledgers of old CLI versions). */
  statements: string[] | null;
}

/**
 * Matches Supabase's rows (in version order) to `files`: through `mapping` (Supabase version →
 * Airlock file name) when it names the row's version, else by name part. Reports rows without
 * a file, rows matching several, statements that differ, and files out of the rows' order.
 */
export function matchSupabase(
  rows: SupabaseMigrationRow[],
  files: MigrationFile[],
  mapping: Record<string, string>,
  problems: AdoptProblem[],
): RowMatch[] {
  const matches: RowMatch[] = [];
  const ordered = [...rows].sort((a, b) => compareVersions(a.version, b.version));
  for (const row of ordered) {
    const label = row.name ? `${row.version}_${row.name}` : row.version;
    let file: MigrationFile | undefined;
    const mapped = mapping[row.version];
    if (mapped !== undefined) {
      file = files.find((f) => f.filename === mapped);
      if (!file) {
        problems.push({
          kind: 'no-file',
          row: label,
          file: mapped,
          message: `The mapping sends Supabase migration ${label} to ${mapped}, but the migrations directory has no such file.`,
        });
        continue;
      }
    } else if (files.some((f) => versionText(f) === row.version)) {
      // The folder is in Supabase's own layout: the row names its file by version.
      file = files.find((f) => versionText(f) === row.version)!;
    } else {
      const candidates = row.name ? files.filter((f) => f.name === row.name) : [];
      if (candidates.length !== 1) {
        problems.push({
          kind: candidates.length > 1 ? 'ambiguous' : 'no-file',
          row: label,
          file: null,
          message:
            candidates.length > 1
              ? `Supabase migration ${label} matches several files by name (${candidates.map((c) => c.filename).join(', ')}): map its version to one of them.`
              : row.name
                ? `supabase_migrations.schema_migrations records ${label} as applied, but no migration file is named NNNN_${row.name}.sql: rename the file, or map version ${row.version} to it.`
                : `supabase_migrations.schema_migrations records version ${row.version} without a name: map it to its file.`,
        });
        continue;
      }
      file = candidates[0]!;
    }
    if (row.statements && row.statements.length > 0) {
      if (normalizeSql(row.statements.join(';\n')) !== normalizeSql(file.sql)) {
        problems.push({
          kind: 'statements-differ',
          row: label,
          file: file.filename,
          message: `${file.filename} differs from the statements Supabase recorded for ${label}: it was edited after it ran. Restore the version that ran (git log -p -- ${file.filename}), and put the change in a new migration.`,
        });
      }
    }
    matches.push({ row: label, file, appliedAt: supabaseTimestamp(row.version) });
  }
  // Supabase ran its files in version order; the matched files must be in that order too.
  for (let i = 1; i < matches.length; i++) {
    const previous = matches[i - 1]!;
    const current = matches[i]!;
    if (current.file.version <= previous.file.version) {
      problems.push({
        kind: 'out-of-order',
        row: current.row,
        file: current.file.filename,
        message: `Supabase ran ${previous.row} before ${current.row}, but they match ${previous.file.filename} and ${current.file.filename}, in the other order: renumber the files to the order they ran in.`,
      });
    }
  }
  return matches;
}

/** Compares with the text of each file: comments, whitespace and semicolons do not count. */
function normalizeSql(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/--[^\n]*/g, '')
    .replace(/[\s;]+/g, '');
}

function compareVersions(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** A Supabase version `YYYYMMDDHHMMSS` (UTC) as ISO-8601; null for any other version. */
function supabaseTimestamp(version: string): string | null {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(version);
  if (!m) return null;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/**
 * Reads Supabase's ledger (`supabase_migrations.schema_migrations`) from a Postgres database.
 * A database without it gives `[]`. Columns missing in old CLI versions read as null.
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when the database cannot be reached.
 */
export async function readSupabaseLedger(url: string): Promise<SupabaseMigrationRow[]> {
  return withClient(url, async (client) => {
    const { rows: columns } = await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
        WHERE table_schema = 'supabase_migrations' AND table_name = 'schema_migrations'`,
    );
    const has = new Set(columns.map((c) => c.column_name));
    if (!has.has('version')) return [];
    const { rows } = await client.query<SupabaseMigrationRow>(
      `SELECT version::text AS version,
              ${has.has('name') ? 'name::text' : 'NULL::text'} AS name,
              ${has.has('statements') ? 'statements::text[]' : 'NULL::text[]'} AS statements
         FROM supabase_migrations.schema_migrations ORDER BY version`,
    );
    return rows;
  });
}
