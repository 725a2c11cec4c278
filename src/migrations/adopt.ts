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
 * - **wrangler (Cloudflare D1)**: the table `d1_migrations(id, name, applied_at)` (or the
 *   binding's `migrations_table`) that `wrangler d1 migrations apply` keeps in the database.
 *   `name` is the file name (`0001_init.sql`), which must be an Airlock file name exactly.
 *   Locally, wrangler's database is the SQLite file
 *   `.wrangler/state/v3/d1/miniflare-D1DatabaseObject/<id>.sqlite`, where `<id>` is derived
 *   from the binding's `preview_database_id` (else `database_id`) as miniflare names a Durable
 *   Object (`localD1DatabasePath`, `findLocalD1Database`). For a remote D1 database, the caller
 *   reads the rows (`wrangler d1 execute <db> --remote --json --command "SELECT * FROM
 *   d1_migrations"`) and passes them.
 * - **Supabase CLI**: the table `supabase_migrations.schema_migrations(version text, name text,
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
 * (see `replaySchema`): that is what an edit after the fact, or a change made by hand, looks
 * like.
 *
 * Rows are written with the drivers' own table layouts (`airlock_migrations` on SQLite,
 * `airlock.migrations` on Postgres: see `SqliteMigrationDriver`, `PostgresMigrationDriver`), in
 * one transaction, under the migration lock on Postgres.
 */

import { createHash, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import { type DatabaseLocation, withClient } from './dry-run.ts';
import {
  compareSchemas,
  type DifferencePhrasing,
  describeSchema,
  replaySchema,
} from './introspect.ts';
import { LEDGER_TABLE, type LedgerEntry, POSTGRES_LEDGER_TABLE } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import {
  CREATE_POSTGRES_LEDGER,
  MIGRATION_LOCK_KEY,
  PostgresMigrationDriver,
} from './postgres-migration-driver.ts';
import { CREATE_SQLITE_LEDGER, sqlitePathFromUrl } from './sqlite-migration-driver.ts';

/** A row of wrangler's `d1_migrations`. `applied_at` is SQLite's `CURRENT_TIMESTAMP` (UTC). */
export interface D1MigrationRow {
  id: number;
  /** The file name, e.g. `0001_init.sql`. */
  name: string;
  /** e.g. `2024-05-01 12:00:00`. */
  applied_at: string | null;
}

/** A row of Supabase's `supabase_migrations.schema_migrations`. */
export interface SupabaseMigrationRow {
  /** The file's timestamp, e.g. `20240101120000`. */
  version: string;
  /** The file's name part, e.g. `create_notes` (null in ledgers of old CLI versions). */
  name: string | null;
  /** The statements the CLI ran (null or empty in ledgers of old CLI versions). */
  statements: string[] | null;
}

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
  | { tool: 'supabase'; url: string; mapping?: Record<string, string> };

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
interface Match {
  row: string;
  file: MigrationFile;
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
  let matches: Match[];
  if (source.tool === 'wrangler') {
    const rows =
      'rows' in source
        ? source.rows
        : await readD1Ledger(source.sqlitePath, { table: source.table });
    matches = matchWrangler(rows, sorted, problems);
  } else {
    const rows = 'rows' in source ? source.rows : await readSupabaseLedger(source.url);
    matches = matchSupabase(rows, sorted, source.mapping ?? {}, problems);
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
    'sqlitePath' in source
      ? { engine: 'sqlite', url: source.sqlitePath }
      : 'url' in source
        ? { engine: 'postgres', url: source.url }
        : source.tool === 'wrangler' && source.schema
          ? source.schema
          : null;
  const verify =
    options.verifySchema ??
    ('sqlitePath' in source ||
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

// ---------------------------------------------------------------------------------------------
// Matching rows to files

const FILE_NAME = /^(\d+)_(.+)\.sql$/;

function matchWrangler(
  rows: D1MigrationRow[],
  files: MigrationFile[],
  problems: AdoptProblem[],
): Match[] {
  const byFilename = new Map(files.map((f) => [f.filename, f]));
  const byVersion = new Map(files.map((f) => [f.version, f]));
  const matches: Match[] = [];
  for (const row of [...rows].sort((a, b) => a.id - b.id)) {
    const file = byFilename.get(row.name);
    if (file) {
      matches.push({ row: row.name, file, appliedAt: sqliteTimestamp(row.applied_at) });
      continue;
    }
    const numbered = FILE_NAME.exec(row.name);
    const sameNumber = numbered ? byVersion.get(Number(numbered[1])) : undefined;
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

function matchSupabase(
  rows: SupabaseMigrationRow[],
  files: MigrationFile[],
  mapping: Record<string, string>,
  problems: AdoptProblem[],
): Match[] {
  const matches: Match[] = [];
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

/** A file missing from the source's ledger while a later file ran: refuse, naming it. */
function checkGaps(
  matches: Match[],
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
        message: `${file.filename} is not in ${tool === 'wrangler' ? 'd1_migrations' : "Supabase's ledger"}, but later migrations are: it either ran under another name or never ran. Find out which (compare the database with the file) before adopting.`,
      });
    }
  }
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

/** SQLite's `CURRENT_TIMESTAMP` (`2024-05-01 12:00:00`, UTC) as ISO-8601; null when unreadable. */
function sqliteTimestamp(value: string | null): string | null {
  if (!value) return null;
  const date = new Date(
    /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(value) ? `${value.replace(' ', 'T')}Z` : value,
  );
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** A Supabase version `YYYYMMDDHHMMSS` (UTC) as ISO-8601; null for any other version. */
function supabaseTimestamp(version: string): string | null {
  const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(version);
  if (!m) return null;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

// ---------------------------------------------------------------------------------------------
// Schema verification

async function verifySchema(
  database: DatabaseLocation,
  applied: MigrationFile[],
  options: AdoptOptions,
  problems: AdoptProblem[],
): Promise<void> {
  const live = await describeSchema(database);
  const implied = await replaySchema(database.engine, applied, {
    postgresUrl: options.postgresUrl ?? database.url,
    tmpDir: options.tmpDir,
  });
  const phrasing: DifferencePhrasing = (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a')
      return `the database has ${what(d.a)} that the files do not create`;
    if (d.change === 'only-in-b') return `the files create ${what(d.b)} that the database lacks`;
    return `${d.object} ${d.name} is ${d.a} in the database, but the files make it ${d.b}`;
  };
  for (const d of compareSchemas(live, implied, phrasing)) {
    problems.push({
      kind: 'schema-differs',
      row: null,
      file: null,
      message: `The adopted files do not reproduce the database's schema: ${d.message} (a file edited after it ran, or a change made by hand).`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Reading sources

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

/** Where miniflare keeps local D1 databases, under wrangler's persistence folder. */
const D1_OBJECT_DIR = join('v3', 'd1', 'miniflare-D1DatabaseObject');

/**
 * miniflare's Durable Object id for `name` in the namespace `uniqueKey` (what names the local
 * D1 file): HMAC-SHA256 keyed with sha256(uniqueKey), 16 bytes of the name's MAC then 16 bytes
 * of the MAC of those.
 */
function durableObjectIdFromName(uniqueKey: string, name: string): string {
  const key = createHash('sha256').update(uniqueKey).digest();
  const nameMac = createHmac('sha256', key).update(name).digest().subarray(0, 16);
  const check = createHmac('sha256', key).update(nameMac).digest().subarray(0, 16);
  return Buffer.concat([nameMac, check]).toString('hex');
}

/**
 * The path of the local D1 database `wrangler … --local` uses for a binding:
 * `<persistTo>/v3/d1/miniflare-D1DatabaseObject/<id>.sqlite`, with `persistTo` default
 * `<projectDir>/.wrangler/state` (wrangler's `--persist-to`). `databaseId` is the binding's
 * `preview_database_id`, else its `database_id` (else its binding name), as wrangler uses it.
 */
export function localD1DatabasePath(options: {
  projectDir: string;
  databaseId: string;
  persistTo?: string;
}): string {
  const persistTo = resolve(options.projectDir, options.persistTo ?? join('.wrangler', 'state'));
  return join(
    persistTo,
    D1_OBJECT_DIR,
    `${durableObjectIdFromName('miniflare-D1DatabaseObject', options.databaseId)}.sqlite`,
  );
}

/**
 * Finds the local D1 database of a wrangler project: the one for `databaseId` (see
 * `localD1DatabasePath`), or without it the only local D1 database that has a `d1_migrations`
 * table.
 *
 * @throws UserError `MIGRATION_ADOPT_SOURCE_NOT_FOUND` when there is none (or, without
 *   `databaseId`, several), naming what was looked for.
 */
export async function findLocalD1Database(options: {
  projectDir: string;
  databaseId?: string;
  persistTo?: string;
  table?: string;
}): Promise<string> {
  const dir = join(
    resolve(options.projectDir, options.persistTo ?? join('.wrangler', 'state')),
    D1_OBJECT_DIR,
  );
  if (options.databaseId) {
    const path = localD1DatabasePath({ ...options, databaseId: options.databaseId });
    if (existsSync(path)) return path;
    throw new UserError(
      'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
      `wrangler has no local D1 database for ${options.databaseId}: ${path} does not exist.`,
      {
        hint: "Run `wrangler d1 migrations apply <database> --local` in the project first (with the same --persist-to, if any), and pass the binding's preview_database_id if it has one.",
        details: { path },
      },
    );
  }
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.sqlite') && n !== 'metadata.sqlite');
  } catch {
    // no folder: no database
  }
  const table = options.table ?? 'd1_migrations';
  const withLedger: string[] = [];
  for (const name of names.sort()) {
    const db = new DatabaseSync(join(dir, name), { readOnly: true });
    try {
      const present = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
        .get(table);
      if (present) withLedger.push(join(dir, name));
    } finally {
      db.close();
    }
  }
  if (withLedger.length === 1) return withLedger[0]!;
  throw new UserError(
    'MIGRATION_ADOPT_SOURCE_NOT_FOUND',
    withLedger.length === 0
      ? `No local D1 database with a ${table} table under ${dir}.`
      : `Several local D1 databases have a ${table} table under ${dir}: ${withLedger.join(', ')}.`,
    {
      hint:
        withLedger.length === 0
          ? 'Run `wrangler d1 migrations apply <database> --local` in the project first.'
          : "Pass the binding's database id (its preview_database_id, else database_id) to pick one.",
      details: { dir, candidates: withLedger },
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Airlock's ledger on the target (the drivers' table layouts)

const INSERT_COLUMNS = '(version, name, sha256, applied_at, applied_by, duration_ms, release)';

async function readTargetLedger(target: DatabaseLocation): Promise<LedgerEntry[]> {
  if (target.engine === 'postgres') {
    const driver = new PostgresMigrationDriver(target.url);
    try {
      return await driver.readLedger();
    } finally {
      await driver.close();
    }
  }
  const path = sqlitePathFromUrl(target.url);
  if (path !== ':memory:' && !existsSync(path)) return [];
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    if (
      !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(LEDGER_TABLE)
    ) {
      return [];
    }
    return (
      db.prepare(`SELECT * FROM ${LEDGER_TABLE} ORDER BY version`).all() as Array<
        Record<string, unknown>
      >
    ).map((r) => ({
      version: Number(r.version),
      name: String(r.name),
      sha256: String(r.sha256),
      appliedAt: String(r.applied_at),
      appliedBy: String(r.applied_by),
      durationMs: Number(r.duration_ms),
      release: r.release === null ? null : String(r.release),
    }));
  } finally {
    db.close();
  }
}

function raced(versions: number[]): UserError {
  return new UserError(
    'MIGRATION_FAILED',
    `Another process recorded migration ${versions.map((v) => String(v).padStart(4, '0')).join(', ')} in Airlock's ledger while adopting; nothing was adopted.`,
    {
      hint: 'Run `airlock migrate status`, then `airlock migrate adopt` again.',
      details: { versions },
    },
  );
}

/** Inserts `rows` in one transaction, creating the ledger table as the driver would. */
async function writeLedgerRows(target: DatabaseLocation, rows: LedgerEntry[]): Promise<void> {
  const versions = rows.map((r) => r.version);
  if (target.engine === 'postgres') {
    await withClient(target.url, async (client) => {
      try {
        await client.query('BEGIN');
        await client.query("SET LOCAL lock_timeout = '10s'");
        // the key `Migrator.apply` holds (session-level) for the whole apply: serialise with it
        await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
          MIGRATION_LOCK_KEY.toString(),
        ]);
        await client.query(CREATE_POSTGRES_LEDGER);
        const { rows: clash } = await client.query<{ version: number }>(
          `SELECT version FROM ${POSTGRES_LEDGER_TABLE} WHERE version = ANY($1::int[])`,
          [versions],
        );
        if (clash.length > 0) throw raced(clash.map((c) => Number(c.version)));
        for (const e of rows) {
          await client.query(
            `INSERT INTO ${POSTGRES_LEDGER_TABLE} ${INSERT_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [e.version, e.name, e.sha256, e.appliedAt, e.appliedBy, e.durationMs, e.release],
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
    return;
  }
  const db = new DatabaseSync(sqlitePathFromUrl(target.url));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(CREATE_SQLITE_LEDGER);
      const clash = rows.filter((e) =>
        db.prepare(`SELECT 1 FROM ${LEDGER_TABLE} WHERE version = ?`).get(e.version),
      );
      if (clash.length > 0) throw raced(clash.map((c) => c.version));
      const insert = db.prepare(
        `INSERT INTO ${LEDGER_TABLE} ${INSERT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const e of rows) {
        insert.run(e.version, e.name, e.sha256, e.appliedAt, e.appliedBy, e.durationMs, e.release);
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  } finally {
    db.close();
  }
}
