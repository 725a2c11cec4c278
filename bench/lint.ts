/**
 * (f) `airlock migrate lint` at scale: a migrations directory of realistic small files (tables
 * with ON DELETE CASCADE children, added columns, indexes, backfills, the odd expand/contract
 * drop), written to a temporary directory and linted in process, several runs each:
 *
 * - SQLite: every statement read and run in an in-memory node:sqlite replay of the schema; also
 *   the pipeline's usual call, the newest file with all the others as context. Baseline:
 *   reading and sha256-ing the same files (what `readMigrationDir` does before anything is
 *   linted).
 * - Postgres: Airlock's lint (squawk in two processes, transactional files and
 *   `-- airlock:no-transaction` files, plus Airlock's own rules). Baseline: squawk alone on the
 *   same files, one process (`squawk --reporter json <files>`), in the same run.
 *
 * Run alone with `node bench/lint.ts [files]`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintMigrations } from '../src/migrations/lint/lint-migrations.ts';
import type { LintEngine } from '../src/migrations/lint/rules.ts';
import { squawkBinary } from '../src/migrations/lint/squawk-lint.ts';
import { type MigrationFile, readMigrationDir } from '../src/migrations/migration-files.ts';
import { renderSection, row, type Section } from './report.ts';
import { median, p95 } from './stats.ts';

export interface LintBenchOptions {
  /** Files in the generated directory (e.g. 500). */
  files: number;
  /** Timed runs per measurement, after one warm-up run. Default 5. */
  runs?: number;
}

export interface LintBenchResult {
  files: number;
  runs: number;
  /** Per run (ms): read + sha256 of every file, SQLite-flavoured directory. */
  baselineMs: number[];
  /** Per run (ms): `lintMigrations` of every file, engine sqlite. */
  sqliteMs: number[];
  /** Per run (ms): the newest file only (`only: [last]`), the others replayed as context. */
  sqliteNewestMs: number[];
  /** Per run (ms): squawk alone on every Postgres file, one process, as a user would run it. */
  squawkAloneMs: number[];
  /** Per run (ms): `lintMigrations` of every file, engine postgres (squawk). */
  postgresMs: number[];
  /** Findings (errors + warnings) in the generated files, per engine: they should be few. */
  findings: { sqlite: number; postgres: number };
}

/**
 * Writes `files` SQLite-flavoured and `files` Postgres-flavoured migrations to temporary
 * directories, times lint and the baseline on each, and removes the directories.
 */
export async function measureLint(options: LintBenchOptions): Promise<LintBenchResult> {
  const runs = options.runs ?? 5;
  const root = await mkdtemp(join(tmpdir(), 'airlock-bench-lint-'));
  try {
    const sqliteDir = join(root, 'sqlite');
    const postgresDir = join(root, 'postgres');
    await writeMigrations(sqliteDir, options.files, 'sqlite');
    await writeMigrations(postgresDir, options.files, 'postgres');
    const sqliteFiles = await readMigrationDir(sqliteDir);
    const postgresFiles = await readMigrationDir(postgresDir);
    const last = sqliteFiles.at(-1)!.version;

    const lintAll = (files: MigrationFile[], engine: LintEngine) => () =>
      lintMigrations(files, { engine });
    const sqliteReport = await lintAll(sqliteFiles, 'sqlite')();
    const postgresReport = await lintAll(postgresFiles, 'postgres')();
    return {
      files: options.files,
      runs,
      baselineMs: await timed(runs, () => readAndHash(sqliteDir)),
      sqliteMs: await timed(runs, lintAll(sqliteFiles, 'sqlite')),
      sqliteNewestMs: await timed(runs, () =>
        lintMigrations(sqliteFiles, { engine: 'sqlite', only: [last] }),
      ),
      squawkAloneMs: await timed(runs, () =>
        runSquawkAlone(
          postgresDir,
          postgresFiles.map((f) => f.filename),
        ),
      ),
      postgresMs: await timed(runs, lintAll(postgresFiles, 'postgres')),
      findings: {
        sqlite: sqliteReport.findings.length,
        postgres: postgresReport.findings.length,
      },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The bench table for `measureLint`'s result. */
export function lintSection(result: LintBenchResult): Section {
  const n = result.files;
  const perSecond = (ms: number[]) => (n * 1000) / median(ms);
  const stat = (values: number[]) => ({
    value: median(values),
    p95: p95(values),
    n: values.length,
  });
  const sqliteBaseline = { baseline: median(result.baselineMs), baselineLabel: 'read + sha256' };
  const postgresBaseline = {
    baseline: median(result.squawkAloneMs),
    baselineLabel: 'squawk alone, same files',
  };
  const postgresRatio = median(result.postgresMs) / median(result.squawkAloneMs);
  return {
    id: 'lint',
    title: `(f) Migration lint: ${n} generated files (in process; ${result.runs} runs each after a warm-up)`,
    valueLabel: 'median',
    rows: [
      row(`SQLite: lint ${n} files (read + schema replay)`, {
        ...stat(result.sqliteMs),
        ...sqliteBaseline,
        target: '≤ 1 s',
        ok: median(result.sqliteMs) <= 1000,
      }),
      row('SQLite: files linted per second', {
        value: perSecond(result.sqliteMs),
        unit: 'count',
        ratio: null,
      }),
      row(`SQLite: lint the newest file, ${n - 1} earlier files replayed as context`, {
        ...stat(result.sqliteNewestMs),
        ...sqliteBaseline,
        target: '< 1 s',
        ok: median(result.sqliteNewestMs) < 1000,
      }),
      row(`Postgres: Airlock lint ${n} files (squawk + Airlock's rules)`, {
        ...stat(result.postgresMs),
        ...postgresBaseline,
        target: '≤ 1.5× squawk alone',
        ok: postgresRatio <= 1.5,
      }),
      row('Postgres: files linted per second', {
        value: perSecond(result.postgresMs),
        unit: 'count',
        ratio: null,
      }),
    ],
    notes: [
      'Each file is a few statements: a table with an ON DELETE CASCADE foreign key every tenth file, otherwise an added column, an index (Postgres: CREATE INDEX CONCURRENTLY in a `-- airlock:no-transaction` file), a backfill, and every 50th file a contract migration dropping a column.',
      `Findings in the generated files: ${result.findings.sqlite} on SQLite, ${result.findings.postgres} on Postgres (the bench measures clean-ish histories, as a real project's mostly are).`,
      'SQLite baseline: reading and sha256-ing the same files, the work `readMigrationDir` does before lint starts. Postgres baseline: squawk alone on the same files in one process; Airlock runs it in two (files in a transaction and `-- airlock:no-transaction` files, which squawk must judge differently) and reads each file where it is (it copies only files whose `-- squawk-ignore` it disables).',
    ],
    details: {
      medianSqliteMs: median(result.sqliteMs),
      medianSqliteNewestMs: median(result.sqliteNewestMs),
      medianPostgresMs: median(result.postgresMs),
      medianBaselineMs: median(result.baselineMs),
      medianSquawkAloneMs: median(result.squawkAloneMs),
      postgresRatio,
      findings: result.findings,
    },
  };
}

async function timed(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm caches and the JIT once
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    out.push(performance.now() - started);
  }
  return out;
}

/** squawk on `names` in `dir`, one process, JSON report: what running squawk by hand costs. */
function runSquawkAlone(dir: string, names: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(squawkBinary(), ['--reporter', 'json', ...names], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', () => resolve());
  });
}

async function readAndHash(dir: string): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
  }
}

/** Writes `count` migrations numbered from 0001, in the engine's dialect. */
export async function writeMigrations(dir: string, count: number, engine: 'sqlite' | 'postgres') {
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
  const pg = engine === 'postgres';
  const id = pg ? 'bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY' : 'INTEGER PRIMARY KEY';
  const fk = pg ? 'bigint' : 'INTEGER';
  const text = pg ? 'text' : 'TEXT';
  const now = pg ? 'timestamptz NOT NULL DEFAULT now()' : 'TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP';
  let table = 0;
  for (let i = 1; i <= count; i++) {
    const version = String(i).padStart(4, '0');
    const t = `t${table}`;
    let name: string;
    let body: string;
    if (i === 1 || i % 10 === 0) {
      table++;
      const parent =
        table > 1 ? `,\n  parent_id ${fk} REFERENCES t${table - 1} (id) ON DELETE CASCADE` : '';
      name = `create_t${table}`;
      body = `CREATE TABLE t${table} (\n  id ${id},\n  name ${text} NOT NULL,\n  created_at ${now}${parent}\n);\n`;
    } else if (i % 50 === 5) {
      name = `drop_${t}_c${i - 2}`;
      body = `-- airlock:contract\n-- Nothing reads ${t}.c${i - 2} since the release that replaced it.\nALTER TABLE ${t} DROP COLUMN c${i - 2};\n`;
    } else if (i % 10 === 4) {
      name = `index_${t}_name_${i}`;
      body = pg
        ? `-- airlock:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ${t}_name_${i} ON ${t} (name);\n`
        : `CREATE INDEX ${t}_name_${i} ON ${t} (name);\n`;
    } else if (i % 10 === 7) {
      name = `backfill_${t}_${i}`;
      body = `UPDATE ${t} SET name = trim(name) WHERE name <> trim(name);\n`;
    } else {
      name = `add_${t}_c${i}`;
      body = `ALTER TABLE ${t} ADD COLUMN c${i} ${text};\n`;
    }
    const header = `-- Migration ${version}_${name}.sql\n-- Append-only: once this has run on any environment, never edit it.\n\n`;
    await writeFile(join(dir, `${version}_${name}.sql`), header + body);
  }
}

if (import.meta.main) {
  const files = Number(process.argv[2] ?? 500);
  process.stdout.write(renderSection(lintSection(await measureLint({ files }))));
}
