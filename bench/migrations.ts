/**
 * (f) Applying migrations: `files` small migrations (by default 500: each a `CREATE TABLE`, an
 * `ALTER TABLE … ADD COLUMN` or an `INSERT`, in turn) applied to a fresh local SQLite database
 * by Airlock and, on the same files, by `wrangler d1 migrations apply --local` (wrangler's
 * local D1, i.e. miniflare's SQLite), on the same machine in the same run, alternating, `runs`
 * times each; medians and the ratio. Target: Airlock ≥ 5× faster than wrangler's local apply.
 *
 * - **Airlock (CLI)**: `airlock migrate apply staging --yes --json` as a child process in a
 *   fresh one-service project whose migrations carry their `airlock.sum` (config, state store,
 *   integrity check, environment lock, per-file transactions with their ledger rows), spawn to
 *   exit: what a user waits for, as wrangler's figure is.
 * - **Airlock (library)**: `readMigrationDir` + `Migrator.apply` on a `SqliteMigrationDriver`
 *   in this process: Airlock's own cost without Node's start and the CLI.
 * - **wrangler**: `wrangler d1 migrations apply <db> --local` in a fresh wrangler project whose
 *   `wrangler.toml` has one `[[d1_databases]]` binding (`CI=1`: no prompt; offline).
 *
 * Every run is checked: the Airlock ledger and wrangler's `d1_migrations` must each end with
 * `files` rows. wrangler 4 prints its whole status table again after each file, so its output
 * grows with the square of the number of files: the bench discards its stdout (it still
 * pays for writing it, as a user's terminal would).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.ts';
import { writeSumFile } from '../src/migrations/integrity.ts';
import { readMigrationDir } from '../src/migrations/migration-files.ts';
import { Migrator } from '../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../src/migrations/sqlite-migration-driver.ts';
import { BIN, cliJson, log, startProcess } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

const WRANGLER = fileURLToPath(new URL('../node_modules/.bin/wrangler', import.meta.url));
const WRANGLER_PACKAGE = fileURLToPath(
  new URL('../node_modules/wrangler/package.json', import.meta.url),
);

/**
 * wrangler needs about half a second per file here (a Miniflare per file), so 500 files × 3
 * runs take 12–18 minutes, nearly all of it wrangler's; a quick bench can use 100 files × 1 run
 * (about 75 s).
 */
export interface ApplyBenchOptions {
  /** How many migration files. Default 500. */
  files?: number;
  /** Runs of each contender. Default 3. */
  runs?: number;
  /** Give up on one wrangler run after this long (ms). Default 30 minutes. */
  wranglerTimeoutMs?: number;
}

export interface ApplyBenchResult {
  files: number;
  runs: number;
  /** `airlock migrate apply` (CLI child process), spawn → exit, per run (ms). */
  airlockCliMs: number[];
  /** `Migrator.apply` in process, reading the directory included, per run (ms). */
  airlockLibraryMs: number[];
  /** `wrangler d1 migrations apply --local`, spawn → exit, per run (ms). */
  wranglerMs: number[];
  wranglerVersion: string;
  /** Bytes wrangler wrote to stdout in its last run (its status tables). */
  wranglerStdoutBytes: number;
}

/** The `i`-th (1-based) migration: a table, then a column on it, then rows into it. */
function migrationSql(i: number): string {
  switch (i % 3) {
    case 1:
      return `CREATE TABLE t${i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created_at TEXT);\n`;
    case 2:
      return `ALTER TABLE t${i - 1} ADD COLUMN note TEXT;\n`;
    default:
      return `INSERT INTO t${i - 2} (id, name) VALUES (1, 'a'), (2, 'b');\n`;
  }
}

function writeMigrations(dir: string, files: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= files; i++) {
    writeFileSync(path.join(dir, `${String(i).padStart(4, '0')}_m${i}.sql`), migrationSql(i));
  }
}

function countRows(file: string, table: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** The one `*.db` / `*.sqlite` file under `dir` whose schema has `table`. */
function databaseWith(dir: string, table: string): string {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(db|sqlite)$/.test(entry.name)) {
        const db = new DatabaseSync(p, { readOnly: true });
        try {
          if (db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table)) found.push(p);
        } finally {
          db.close();
        }
      }
    }
  };
  walk(dir);
  if (found.length !== 1)
    throw new Error(`expected one database with ${table} under ${dir}, found ${found.length}`);
  return found[0]!;
}

/** One run of `airlock migrate apply` in a fresh project; returns spawn → exit (ms). */
async function airlockCliRun(root: string, files: number): Promise<number> {
  const dir = mkdtempSync(path.join(root, 'airlock-'));
  writeMigrations(path.join(dir, 'migrations'), files);
  await writeSumFile(path.join(dir, 'migrations')); // a project's migrations carry airlock.sum
  writeFileSync(
    path.join(dir, 'airlock.yaml'),
    `project: bench-migrations
pipeline: [staging]
services:
  app:
    build: { command: "true", output: dist }
    run: node server.js
    database:
      engine: sqlite
      migrations: migrations
environments:
  staging:
    services:
      app:
        port: 4100
`,
  );
  execFileSync('git', ['init', '-q', dir]);
  const run = await startProcess(
    process.execPath,
    [BIN, 'migrate', 'apply', 'staging', '--yes', '--json'],
    {
      cwd: dir,
      env: { ...process.env, CI: '1', NO_COLOR: '1', AIRLOCK_ACTOR: 'bench' },
      timeoutMs: 600_000,
    },
  ).done;
  const json = cliJson(run);
  const services = json.services as Array<{ applied: unknown[] }> | undefined;
  if (run.code !== 0 || services?.[0]?.applied.length !== files) {
    throw new Error(
      `airlock migrate apply did not apply ${files} files (exit ${run.code}): ${run.stdout.slice(0, 500)} ${run.stderr.slice(0, 500)}`,
    );
  }
  const applied = countRows(
    databaseWith(loadConfig({ cwd: dir, env: process.env }).home.dir, 'airlock_migrations'),
    'airlock_migrations',
  );
  if (applied !== files) throw new Error(`airlock's ledger has ${applied} rows, expected ${files}`);
  rmSync(dir, { recursive: true, force: true });
  return run.wallMs;
}

/** One in-process `Migrator.apply` on a fresh SQLite file; returns its duration (ms). */
async function airlockLibraryRun(root: string, files: number): Promise<number> {
  const dir = mkdtempSync(path.join(root, 'library-'));
  writeMigrations(path.join(dir, 'migrations'), files);
  const started = performance.now();
  const driver = new SqliteMigrationDriver(path.join(dir, 'app.db'));
  try {
    const result = await new Migrator(
      driver,
      await readMigrationDir(path.join(dir, 'migrations')),
    ).apply({ appliedBy: 'bench', release: null });
    const ms = performance.now() - started;
    if (result.applied.length !== files)
      throw new Error(`applied ${result.applied.length} of ${files}`);
    return ms;
  } finally {
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One `wrangler d1 migrations apply --local` in a fresh wrangler project. */
async function wranglerRun(
  root: string,
  files: number,
  timeoutMs: number,
): Promise<{ ms: number; stdoutBytes: number }> {
  const dir = mkdtempSync(path.join(root, 'wrangler-'));
  writeMigrations(path.join(dir, 'migrations'), files);
  writeFileSync(
    path.join(dir, 'wrangler.toml'),
    `name = "bench-migrations"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "bench-db"
database_id = "00000000-0000-4000-8000-000000000000"
migrations_dir = "migrations"
`,
  );
  const started = startProcess(WRANGLER, ['d1', 'migrations', 'apply', 'bench-db', '--local'], {
    cwd: dir,
    env: {
      ...process.env,
      CI: '1',
      NO_COLOR: '1',
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_LOG_PATH: path.join(dir, 'logs'),
    },
    timeoutMs,
  });
  // Its output grows with files²: count it rather than keep it.
  let stdoutBytes = 0;
  started.child.stdout?.removeAllListeners('data');
  started.child.stdout?.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
  });
  const run = await started.done;
  if (run.code !== 0) {
    throw new Error(`wrangler exited ${run.code}: ${run.stderr.slice(0, 1000)}`);
  }
  const ledger = countRows(
    databaseWith(path.join(dir, '.wrangler'), 'd1_migrations'),
    'd1_migrations',
  );
  if (ledger !== files)
    throw new Error(`wrangler's d1_migrations has ${ledger} rows, expected ${files}`);
  rmSync(dir, { recursive: true, force: true });
  return { ms: run.wallMs, stdoutBytes };
}

/** Runs the measurement (see the module comment). Cleans up its temporary folder. */
export async function measureApply(options: ApplyBenchOptions = {}): Promise<ApplyBenchResult> {
  const files = options.files ?? 500;
  const runs = options.runs ?? 3;
  const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-migrations-'));
  const result: ApplyBenchResult = {
    files,
    runs,
    airlockCliMs: [],
    airlockLibraryMs: [],
    wranglerMs: [],
    wranglerVersion: (JSON.parse(readFileSync(WRANGLER_PACKAGE, 'utf8')) as { version: string })
      .version,
    wranglerStdoutBytes: 0,
  };
  try {
    for (let i = 1; i <= runs; i++) {
      log(`migrations: run ${i}/${runs}: airlock migrate apply, ${files} files`);
      result.airlockCliMs.push(await airlockCliRun(root, files));
      result.airlockLibraryMs.push(await airlockLibraryRun(root, files));
      log(`migrations: run ${i}/${runs}: wrangler d1 migrations apply --local, ${files} files`);
      const wrangler = await wranglerRun(root, files, options.wranglerTimeoutMs ?? 1_800_000);
      result.wranglerMs.push(wrangler.ms);
      result.wranglerStdoutBytes = wrangler.stdoutBytes;
      log(
        `migrations: run ${i}/${runs}: airlock ${Math.round(result.airlockCliMs.at(-1)!)} ms (library ${Math.round(result.airlockLibraryMs.at(-1)!)} ms), wrangler ${Math.round(wrangler.ms)} ms`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return result;
}

/** The bench table for `measureApply`'s result. */
export function applySection(result: ApplyBenchResult): Section {
  const wrangler = median(result.wranglerMs);
  const cli = median(result.airlockCliMs);
  const library = median(result.airlockLibraryMs);
  const n = result.files;
  const speedup = cli > 0 ? wrangler / cli : Number.NaN;
  return {
    id: 'migrations',
    title: `(f) Applying ${n} migrations to a local SQLite database: Airlock vs \`wrangler d1 migrations apply --local\` (same files, same run; ${result.runs} runs each)`,
    valueLabel: 'median',
    rows: [
      row(`\`airlock migrate apply\` (CLI, spawn → exit), ${n} files`, {
        value: cli,
        p95: p95(result.airlockCliMs),
        n: result.airlockCliMs.length,
      }),
      row(`Migrator.apply in process (library), ${n} files`, {
        value: library,
        p95: p95(result.airlockLibraryMs),
        n: result.airlockLibraryMs.length,
      }),
      // The ratio reads as "wrangler takes N× Airlock's time": the target is N ≥ 5.
      row(`wrangler ${result.wranglerVersion} \`d1 migrations apply --local\`, ${n} files`, {
        value: wrangler,
        p95: p95(result.wranglerMs),
        n: result.wranglerMs.length,
        baseline: cli,
        baselineLabel: 'airlock migrate apply',
        target: '≥ 5×',
        ok: speedup >= 5,
      }),
      row('Airlock CLI per file', { value: cli / n, n: result.airlockCliMs.length }),
      row('wrangler per file', { value: wrangler / n, n: result.wranglerMs.length }),
    ],
    notes: [
      `Airlock's CLI is ${speedup.toFixed(1)}× faster than wrangler's local apply (${round1(wrangler / 1000)} s vs ${round1(cli / 1000)} s for ${n} files; the ratio column is wrangler's time over Airlock's); the library alone ${(wrangler / library).toFixed(0)}×.`,
      'Each file is a CREATE TABLE, an ALTER TABLE … ADD COLUMN or a 2-row INSERT, in turn. Both tools run one transaction per file with a ledger row (Airlock: airlock_migrations with the sha256; wrangler: d1_migrations); every run is checked to end with one ledger row per file.',
      `The CLI figure includes Node's start, loading the bundle, the config, the state store, the airlock.sum check and the environment lock. wrangler starts a new Miniflare (a workerd process) for each file, and reprints its status table after each file, so its stdout grows with the square of the files (${(result.wranglerStdoutBytes / 1e6).toFixed(1)} MB in the last run, discarded).`,
    ],
    details: {
      files: n,
      runs: result.runs,
      airlockCliMs: result.airlockCliMs.map(round1),
      airlockLibraryMs: result.airlockLibraryMs.map(round1),
      wranglerMs: result.wranglerMs.map(round1),
      wranglerVersion: result.wranglerVersion,
      wranglerStdoutBytes: result.wranglerStdoutBytes,
    },
  };
}
