/**
 * `airlock migrate adopt`: takes over a database whose migrations another tool has been
 * running, by importing that tool's ledger as Airlock's baseline, **without running any SQL**.
 * Each adopted row is an Airlock ledger row for the file as it is now (`sha256` of the current
 * file, `appliedBy: 'adopted from wrangler'` / `'adopted from supabase'`, `release: null`,
 * `durationMs: 0`, `appliedAt` from the source when it has one); from then on the migrator sees
 * those files as applied and runs only newer ones.
 *
 * Sources:
 *
 * - **wrangler (Cloudflare D1)**, adopt-wrangler.ts: the table `d1_migrations(id, name, applied_at)` (or the
 *   binding's `migrations_table`) that `wrangler d1 migrations apply` keeps in the database.
 *   `name` is the file name (`0001_init.sql`), which must be an Airlock file name exactly.
 *   Locally, wrangler's database is the SQLite file
 *   `.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<id>.sqlite`, where `<id>` is derived
 *   from the binding's `preview_database_id` (else `database_id`) as miniflare names a Durable
 *   Object (local-d1-database.ts). For a remote D1 database, the caller
 *   reads the rows (`wrangler d1 execute <db> --remote --json --command "SELECT * FROM
 *   d1_migrations"`) and passes them.
 * - **Supabase CLI**, adopt-supabase.ts: the table `supabase_migrations.schema_migrations(version text, name text,
 *   statements text[])` on Postgres. Supabase names files `<timestamp>_<name>.sql` (version
 *   `20240101120000`), Airlock `NNNN_<name>.sql`. **Rule: a Supabase row matches the Airlock
 *   file with the same name part** (`20240101120000_create_notes` ↔ `0001_create_notes.sql`),
 *   unless `mapping` names the file for its version; the rows in version order must match files
 *   in version order.
 *
 * Neither tool keeps a checksum, so what the files are now cannot be compared with what ran.
 * Instead Airlock refuses surprises (and then writes nothing; see `AdoptProblem`): a row
 * without a matching file (naming it), a file renamed under the same number, a gap (a file
 * missing from the source's ledger while later ones ran), rows out of order, a row already in
 * Airlock's ledger with another checksum; for Supabase, a file whose statements differ from the
 * `statements` the CLI recorded; and, when the source database can be read (a local D1 file, or
 * on request), a live schema that the adopted files do not reproduce on a scratch database
 * (adopt-schema-check.ts): that is what an edit after the fact, or a change made by hand,
 * looks like.
 *
 * Rows are written with the drivers' own table layouts (`airlock_migrations` on SQLite,
 * `airlock.migrations` on Postgres), in one transaction, under the migration lock on Postgres
 * (adopt-ledger-rows.ts).
 */

import { UserError } from '../errors.ts';
import { readTargetLedger, writeLedgerRows } from './adopt-ledger-rows.ts';
import { verifySchema } from './adopt-schema-check.ts';
import { matchSupabase, readSupabaseLedger, type SupabaseMigrationRow } from './adopt-supabase.ts';
import { type D1MigrationRow, matchWrangler, readD1Ledger } from './adopt-wrangler.ts';
import type { LedgerEntry } from './ledger.ts';
import type { DatabaseLocation } from './migration-driver.ts';
import type { MigrationFile } from './migration-files.ts';
import { readToolLedger, type ToolLedgerRow } from './tool-ledger-read.ts';
import { type ToolLayout, toolLedgerKey, toolLedgerTable } from './tool-ledgers.ts';

/** Where the ledger to adopt comes from: rows, or a database to read them from. */
export type AdoptSource =
  /**
   * Rows read elsewhere (a remote D1 database through its HTTP API); `schema`, when given, is a
   * copy of that database's schema to verify the files against (a remote D1 snapshot).
   */
  | { tool: 'wrangler'; rows: D1MigrationRow[]; schema?: DatabaseLocation }
  /** A local D1 SQLite file (`findLocalD1Database`); `table` default `d1_migrations`. */
  | { tool: 'wrangler'; sqlitePath: string; table?: string }
  /** `mapping`: Supabase version → Airlock file name, for files whose names differ. */
  | { tool: 'supabase'; rows: SupabaseMigrationRow[]; mapping?: Record<string, string> }
  | { tool: 'supabase'; url: string; mapping?: Record<string, string> }
  /**
   * Another tool's ledger in the database at `location` (tool-ledgers.ts): drizzle, Prisma,
   * dbmate, goose, node-pg-migrate, postgrator. Rows match files by the tool's own key
   * (`toolLedgerKey`), so the files keep their names.
   */
  | { tool: Exclude<ToolLayout, 'wrangler' | 'supabase'>; location: DatabaseLocation };

/**
 * An Airlock ledger reached through a driver rather than a direct connection (remote D1: the
 * D1 HTTP API, under its lock row). `writeLedger` writes every row or none.
 */
export interface LedgerTarget {
  readLedger(): Promise<LedgerEntry[]>;
  writeLedger(rows: LedgerEntry[]): Promise<void>;
}

/** Something that makes adoption unsafe. Plain data. */
export interface AdoptProblem {
  kind:
    | 'no-file'
    | 'renamed'
    | 'ambiguous'
    | 'gap'
    | 'out-of-order'
    | 'statements-differ'
    | 'checksum-differs'
    | 'schema-differs';
  /** The source's row (`0003_add_tags.sql`, `20240101120000_create_notes`), if any. */
  row: string | null;
  /** The Airlock file name, when one is involved. */
  file: string | null;
  message: string;
}

export interface AdoptOptions {
  /**
   * Check that the adopted files, replayed on a scratch database, reproduce the source
   * database's live schema (`describeSchema` / `replaySchema` / `compareSchemas`); each
   * difference is a `schema-differs` problem. Default: on for a `sqlitePath` source, off
   * otherwise (a Supabase database has platform schemas its migrations rely on but a scratch
   * database lacks). Needs the source to be a database (`sqlitePath` or `url`).
   */
  verifySchema?: boolean;
  /** Postgres schema verification: where to make the scratch database. Default the source URL. */
  postgresUrl?: string;
  /** SQLite schema verification: folder for the scratch file. */
  tmpDir?: string;
  /** Compute everything, write nothing (`adopted` then lists what would be written). */
  dryRun?: boolean;
  /** Clock for rows whose source has no time. Default `() => new Date()`. */
  now?: () => Date;
}

export interface AdoptResult {
  /** The ledger rows written (or, with `dryRun`, that would be), in version order. */
  adopted: LedgerEntry[];
  /** Source rows left alone: already in Airlock's ledger with the same checksum. */
  skipped: Array<{ row: string; file: string; reason: string }>;
  /** When not empty, nothing was written. */
  problems: AdoptProblem[];
  /** True when rows were written. */
  written: boolean;
}

/** One source row matched to a file. */
export interface RowMatch {
  /** The row as the source names it (`0001_init.sql`, `20240101120000_create_notes`). */
  row: string;
  file: MigrationFile;
  /** When the source says it ran (ISO-8601), or null when it does not say. */
  appliedAt: string | null;
}

/**
 * Imports `source`'s ledger into the Airlock ledger of `target` (the same database, usually:
 * the local D1 file, the Supabase database) as rows for `files` (as read by
 * `readMigrationDir`), without running any migration. Writes nothing when it finds a problem
 * (see the module comment); the caller shows `problems` (or throws `adoptError(result)`).
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` / `MIGRATION_SCRATCH_FAILED` from reading
 *   the source or verifying its schema.
 * @throws UserError `MIGRATION_FAILED` when another process wrote one of the versions into
 *   Airlock's ledger meanwhile.
 */
export async function adoptLedger(
  source: AdoptSource,
  target: DatabaseLocation | LedgerTarget,
  files: MigrationFile[],
  options: AdoptOptions = {},
): Promise<AdoptResult> {
  const sorted = [...files].sort((a, b) => a.version - b.version);
  const problems: AdoptProblem[] = [];
  let matches: RowMatch[];
  if (source.tool === 'wrangler') {
    const rows =
      'rows' in source
        ? source.rows
        : await readD1Ledger(source.sqlitePath, { table: source.table });
    matches = matchWrangler(rows, sorted, problems);
  } else if (source.tool === 'supabase') {
    const rows = 'rows' in source ? source.rows : await readSupabaseLedger(source.url);
    matches = matchSupabase(rows, sorted, source.mapping ?? {}, problems);
  } else {
    matches = matchToolRows(
      source.tool,
      await readToolLedger(source.tool, source.location),
      sorted,
      problems,
    );
  }
  checkGaps(matches, sorted, source.tool, problems);

  const existing =
    'readLedger' in target ? await target.readLedger() : await readTargetLedger(target);
  const byVersion = new Map(existing.map((e) => [e.version, e]));
  const skipped: AdoptResult['skipped'] = [];
  const now = options.now ?? (() => new Date());
  const toWrite: LedgerEntry[] = [];
  for (const m of matches) {
    const already = byVersion.get(m.file.version);
    if (already && already.sha256 === m.file.sha256) {
      skipped.push({ row: m.row, file: m.file.filename, reason: "already in Airlock's ledger" });
    } else if (already) {
      problems.push({
        kind: 'checksum-differs',
        row: m.row,
        file: m.file.filename,
        message: `Airlock's ledger already has ${m.file.filename} with sha256 ${already.sha256}, but the file now has ${m.file.sha256}: it was edited after Airlock recorded it.`,
      });
    } else {
      toWrite.push({
        version: m.file.version,
        name: m.file.name,
        sha256: m.file.sha256,
        appliedAt: m.appliedAt ?? now().toISOString(),
        appliedBy: `adopted from ${source.tool}`,
        durationMs: 0,
        release: null,
      });
    }
  }

  const sourceDatabase: DatabaseLocation | null =
    'location' in source
      ? source.location
      : 'sqlitePath' in source
        ? { engine: 'sqlite', url: source.sqlitePath }
        : 'url' in source
          ? { engine: 'postgres', url: source.url }
          : source.tool === 'wrangler' && source.schema
            ? source.schema
            : null;
  const verify =
    options.verifySchema ??
    ('sqlitePath' in source ||
      ('location' in source && source.location.engine === 'sqlite') ||
      (source.tool === 'wrangler' && 'schema' in source && !!source.schema));
  if (verify) {
    if (!sourceDatabase) {
      throw new UserError(
        'USAGE',
        'Checking the schema needs the source database, not only its ledger rows.',
        {
          hint: 'Pass the source as a database (`sqlitePath` or `url`), or `verifySchema: false`.',
        },
      );
    }
    // Only once the rows match the files: replaying a partial set would only add noise.
    if (problems.length === 0) {
      // What the database should hold once adopted: the matched files, and any file Airlock
      // itself recorded there already.
      const recorded = new Set([...matches.map((m) => m.file.version), ...byVersion.keys()]);
      const applied = sorted.filter((f) => recorded.has(f.version));
      await verifySchema(sourceDatabase, applied, options, problems);
    }
  }

  if (problems.length > 0) return { adopted: [], skipped, problems, written: false };
  toWrite.sort((a, b) => a.version - b.version);
  if (options.dryRun || toWrite.length === 0) {
    return { adopted: toWrite, skipped, problems, written: false };
  }
  if ('writeLedger' in target) await target.writeLedger(toWrite);
  else await writeLedgerRows(target, toWrite);
  return { adopted: toWrite, skipped, problems, written: true };
}

/**
 * Matches another tool's rows (in the order it ran them) to `files` by the tool's key; a row
 * without its file is a `no-file` problem.
 */
function matchToolRows(
  tool: ToolLayout,
  rows: ToolLedgerRow[],
  files: MigrationFile[],
  problems: AdoptProblem[],
): RowMatch[] {
  const byKey = new Map(files.map((f) => [toolLedgerKey(tool, f), f]));
  const table = toolLedgerTable(tool, 'postgres');
  const matches: RowMatch[] = [];
  for (const row of rows) {
    const file = byKey.get(row.key);
    if (file) matches.push({ row: row.key, file, appliedAt: row.appliedAt });
    else
      problems.push({
        kind: 'no-file',
        row: row.key,
        file: null,
        message: `${table} records ${row.key} as applied, but no migration file in the folder is that one (${tool} matches ${tool === 'drizzle' ? 'the sha256 of the file' : 'by name'}): restore it from git before adopting.`,
      });
  }
  return matches;
}

/** The `MIGRATION_ADOPT_MISMATCH` error for a result with problems, naming each. */
export function adoptError(result: AdoptResult): UserError {
  const n = result.problems.length;
  return new UserError(
    'MIGRATION_ADOPT_MISMATCH',
    `Refusing to adopt the ledger (${n} problem${n === 1 ? '' : 's'}; nothing was written): ${result.problems.map((p) => p.message).join(' ')}`,
    {
      hint: 'Make the migrations directory match what ran (restore or rename files from git), or map renamed Supabase files explicitly; then run `airlock migrate adopt` again.',
      details: { problems: result.problems },
    },
  );
}

/** A file missing from the source's ledger while a later file ran: refuse, naming it. */
function checkGaps(
  matches: RowMatch[],
  files: MigrationFile[],
  tool: AdoptSource['tool'],
  problems: AdoptProblem[],
): void {
  const matched = new Set(matches.map((m) => m.file.version));
  const last = Math.max(0, ...matched);
  for (const file of files) {
    if (file.version < last && !matched.has(file.version)) {
      problems.push({
        kind: 'gap',
        row: null,
        file: file.filename,
        message: `${file.filename} is not in ${tool === 'wrangler' ? 'd1_migrations' : tool === 'supabase' ? "Supabase's ledger" : `${tool}'s ledger`}, but later migrations are: it either ran under another name or never ran. Find out which (compare the database with the file) before adopting.`,
      });
    }
  }
}
