/**
 * (h) Applying another tool's migration folder, in its layout: Airlock (`readMigrationDir` in
 * the layout + `Migrator.apply`, writing the tool's own ledger row too, as co-existence does)
 * against the tool itself on the same files, in the same run, alternating, `runs` times each,
 * each on a fresh database; medians and the ratio (the tool's time over Airlock's).
 *
 * - **postgrator** 8 (library, `Postgrator.migrate()` over `pg`), `NNN.do.name.sql` files with
 *   their undo files beside them, on a fresh Postgres database.
 * - **node-pg-migrate** 9 (its CLI, `node-pg-migrate up`), `<ms>_<name>.sql` files with up and
 *   down sections, on a fresh Postgres database: a user's wait, Node's start included.
 * - **dbmate** 2.36 (`dbmate up`, its Go binary through the npm package's launcher),
 *   `<timestamp>_<name>.sql` files with `-- migrate:up` / `-- migrate:down` sections.
 * - **drizzle-kit** 0.31 (`drizzle-kit migrate`, its CLI reading drizzle.config.ts), the journal
 *   layout (`meta/_journal.json`, `0000_<name>.sql`…) as `drizzle-kit generate` writes it.
 * - **wrangler** (`wrangler d1 migrations apply --local`), `NNNN_Name-With-Hyphens.sql` from
 *   0000, on a fresh local D1 (Airlock: the same SQLite engine, a fresh file).
 *
 * Every run is checked: each side's ledger ends with one row per file.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { readMigrationDir } from '../src/migrations/migration-files.ts';
import type { MigrationFolderLayout } from '../src/migrations/migration-layouts.ts';
import { Migrator } from '../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../src/migrations/sqlite-migration-driver.ts';
import type { ToolLayout } from '../src/migrations/tool-ledgers.ts';
import { dbmateBinary } from '../test/helpers/dbmate-binary.ts';
import { log } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95 } from './stats.ts';

const BIN = (name: string) =>
  fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

export interface LayoutBenchResult {
  tool: string;
  layout: ToolLayout;
  files: number;
  airlockMs: number[];
  toolMs: number[];
}

/** Statement `i` of the generated migrations: a table, a column, an insert, in turn. */
function statement(i: number): string {
  const table = `t${Math.floor(i / 3)}`;
  if (i % 3 === 0) return `CREATE TABLE ${table} (id integer PRIMARY KEY, name text);`;
  if (i % 3 === 1) return `ALTER TABLE ${table} ADD COLUMN note text;`;
  return `INSERT INTO ${table} (id, name) VALUES (1, 'a'), (2, 'b');`;
}

async function withDatabase<T>(admin: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `airlock_bench_${randomBytes(5).toString('hex')}`;
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await query(`CREATE DATABASE "${name}" TEMPLATE template0`);
  try {
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return await fn(url.toString());
  } finally {
    await query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

async function countRows(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
  } finally {
    await client.end();
  }
}

async function airlockApply(
  location: { engine: 'postgres' | 'sqlite'; url: string },
  dir: string,
  layout: MigrationFolderLayout & { layout: ToolLayout },
): Promise<number> {
  const started = performance.now();
  const files = await readMigrationDir(dir, layout);
  const driver =
    location.engine === 'postgres'
      ? new PostgresMigrationDriver(location.url, { toolLedger: layout.layout })
      : new SqliteMigrationDriver(location.url, { toolLedger: layout.layout });
  try {
    const result = await new Migrator(driver, files).apply({ appliedBy: 'bench', release: null });
    if (result.applied.length !== files.length) throw new Error('Airlock applied too few files');
  } finally {
    await driver.close();
  }
  return performance.now() - started;
}

function check(what: string, got: number, files: number): void {
  if (got !== files) throw new Error(`${what}: ${got} ledger rows, expected ${files}`);
}

/** postgrator, node-pg-migrate, dbmate and drizzle-kit on Postgres (`admin` may CREATE DATABASE). */
export async function measurePostgresLayouts(
  admin: string,
  options: { files: number; runs: number },
): Promise<LayoutBenchResult[]> {
  // dbmate's binary is installed on first use (a cache under node_modules), not a dependency.
  const dbmateBin = await dbmateBinary();
  const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-layouts-'));
  const n = options.files;
  try {
    const postgratorDir = path.join(root, 'postgrator');
    const npmDir = path.join(root, 'npm');
    const dbmateDir = path.join(root, 'dbmate');
    const drizzleDir = path.join(root, 'drizzle');
    mkdirSync(postgratorDir);
    mkdirSync(npmDir);
    mkdirSync(dbmateDir);
    mkdirSync(path.join(drizzleDir, 'meta'), { recursive: true });
    writeFileSync(
      path.join(root, 'drizzle.config.ts'),
      "export default { dialect: 'postgresql', out: './drizzle', dbCredentials: { url: process.env.DATABASE_URL } };\n",
    );
    const journal: Array<Record<string, unknown>> = [];
    for (let i = 0; i < n; i++) {
      writeFileSync(
        path.join(dbmateDir, `${20240101000000 + i}_step_${i}.sql`),
        `-- migrate:up\n${statement(i)}\n\n-- migrate:down\n`,
      );
      const tag = `${String(i).padStart(4, '0')}_step_${i}`;
      writeFileSync(path.join(drizzleDir, `${tag}.sql`), `${statement(i)}\n`);
      journal.push({ idx: i, version: '7', when: 1_700_000_000_000 + i, tag, breakpoints: true });
      const v = String(i + 1).padStart(3, '0');
      writeFileSync(path.join(postgratorDir, `${v}.do.step_${i}.sql`), `${statement(i)}\n`);
      writeFileSync(path.join(postgratorDir, `${v}.undo.step_${i}.sql`), '-- no undo\n');
      writeFileSync(
        path.join(npmDir, `${1_700_000_000_000 + i}_step-${i}.sql`),
        `-- Up Migration\n${statement(i)}\n\n-- Down Migration\n`,
      );
    }
    writeFileSync(
      path.join(drizzleDir, 'meta', '_journal.json'),
      JSON.stringify({ version: '7', dialect: 'postgresql', entries: journal }, null, 2),
    );
    const { default: Postgrator } = await import('postgrator');
    const postgrator: LayoutBenchResult = {
      tool: 'postgrator 8 (library)',
      layout: 'postgrator',
      files: n,
      airlockMs: [],
      toolMs: [],
    };
    const npm: LayoutBenchResult = {
      tool: 'node-pg-migrate 9 (CLI `up`)',
      layout: 'node-pg-migrate',
      files: n,
      airlockMs: [],
      toolMs: [],
    };
    const dbmate: LayoutBenchResult = {
      tool: 'dbmate 2.36 (CLI `up`)',
      layout: 'dbmate',
      files: n,
      airlockMs: [],
      toolMs: [],
    };
    const drizzle: LayoutBenchResult = {
      tool: 'drizzle-kit 0.31 (CLI `migrate`)',
      layout: 'drizzle',
      files: n,
      airlockMs: [],
      toolMs: [],
    };
    for (let run = 0; run < options.runs; run++) {
      log(
        `layouts: postgrator, node-pg-migrate, dbmate and drizzle-kit, run ${run + 1}/${options.runs}`,
      );
      await withDatabase(admin, async (url) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const started = performance.now();
          await new Postgrator({
            migrationPattern: `${postgratorDir}/*`,
            driver: 'pg',
            database: new URL(url).pathname.slice(1),
            execQuery: (query: string) => client.query(query),
          }).migrate();
          postgrator.toolMs.push(performance.now() - started);
        } finally {
          await client.end();
        }
        check('postgrator', await countRows(url, 'SELECT count(*) - 1 AS n FROM schemaversion'), n);
      });
      await withDatabase(admin, async (url) => {
        postgrator.airlockMs.push(
          await airlockApply({ engine: 'postgres', url }, postgratorDir, { layout: 'postgrator' }),
        );
        check('Airlock', await countRows(url, 'SELECT count(*) AS n FROM airlock.migrations'), n);
      });
      await withDatabase(admin, async (url) => {
        const started = performance.now();
        execFileSync(BIN('node-pg-migrate'), ['up', '-m', npmDir], {
          env: { ...process.env, DATABASE_URL: url },
          stdio: 'ignore',
        });
        npm.toolMs.push(performance.now() - started);
        check('node-pg-migrate', await countRows(url, 'SELECT count(*) AS n FROM pgmigrations'), n);
      });
      await withDatabase(admin, async (url) => {
        npm.airlockMs.push(
          await airlockApply({ engine: 'postgres', url }, npmDir, { layout: 'node-pg-migrate' }),
        );
        check('Airlock', await countRows(url, 'SELECT count(*) AS n FROM airlock.migrations'), n);
      });
      await withDatabase(admin, async (url) => {
        const dbmateUrl = new URL(url);
        dbmateUrl.searchParams.set('sslmode', 'disable');
        const started = performance.now();
        execFileSync(
          dbmateBin,
          ['--url', dbmateUrl.toString(), '--migrations-dir', dbmateDir, '--no-dump-schema', 'up'],
          { stdio: 'ignore' },
        );
        dbmate.toolMs.push(performance.now() - started);
        check('dbmate', await countRows(url, 'SELECT count(*) AS n FROM schema_migrations'), n);
      });
      await withDatabase(admin, async (url) => {
        dbmate.airlockMs.push(
          await airlockApply({ engine: 'postgres', url }, dbmateDir, { layout: 'dbmate' }),
        );
        check('Airlock', await countRows(url, 'SELECT count(*) AS n FROM airlock.migrations'), n);
      });
      await withDatabase(admin, async (url) => {
        const started = performance.now();
        execFileSync(BIN('drizzle-kit'), ['migrate'], {
          cwd: root,
          env: { ...process.env, DATABASE_URL: url },
          stdio: 'ignore',
        });
        drizzle.toolMs.push(performance.now() - started);
        check(
          'drizzle-kit',
          await countRows(url, 'SELECT count(*) AS n FROM drizzle.__drizzle_migrations'),
          n,
        );
      });
      await withDatabase(admin, async (url) => {
        drizzle.airlockMs.push(
          await airlockApply({ engine: 'postgres', url }, drizzleDir, { layout: 'drizzle' }),
        );
        check('Airlock', await countRows(url, 'SELECT count(*) AS n FROM airlock.migrations'), n);
      });
    }
    return [postgrator, npm, dbmate, drizzle];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** wrangler's layout (from 0000, free-form names) on local D1 / SQLite. */
export async function measureWranglerLayout(options: {
  files: number;
  runs: number;
}): Promise<LayoutBenchResult> {
  const n = options.files;
  const result: LayoutBenchResult = {
    tool: 'wrangler `d1 migrations apply --local`',
    layout: 'wrangler',
    files: n,
    airlockMs: [],
    toolMs: [],
  };
  for (let run = 0; run < options.runs; run++) {
    log(`layouts: wrangler layout, run ${run + 1}/${options.runs}`);
    const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-wrangler-layout-'));
    try {
      writeFileSync(
        path.join(root, 'wrangler.toml'),
        'name = "b"\nmain = "index.js"\ncompatibility_date = "2025-01-01"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "b-db"\ndatabase_id = "00000000-0000-4000-8000-000000000001"\nmigrations_dir = "migrations"\n',
      );
      const dir = path.join(root, 'migrations');
      mkdirSync(dir);
      for (let i = 0; i < n; i++) {
        writeFileSync(
          path.join(dir, `${String(i).padStart(4, '0')}_Step-${i}.sql`),
          `${statement(i)}\n`,
        );
      }
      const started = performance.now();
      execFileSync(BIN('wrangler'), ['d1', 'migrations', 'apply', 'b-db', '--local'], {
        cwd: root,
        env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false' },
        stdio: 'ignore',
        maxBuffer: 1 << 30,
      });
      result.toolMs.push(performance.now() - started);
      const file = path.join(root, 'airlock.sqlite');
      result.airlockMs.push(
        await airlockApply({ engine: 'sqlite', url: file }, dir, { layout: 'wrangler' }),
      );
      const db = new DatabaseSync(file, { readOnly: true });
      try {
        const rows = db.prepare('SELECT count(*) AS n FROM d1_migrations').get() as { n: number };
        check('Airlock (d1_migrations)', Number(rows.n), n);
      } finally {
        db.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
  return result;
}

export function layoutsSection(results: LayoutBenchResult[]): Section {
  return {
    id: 'layouts',
    title:
      "(h) Applying another tool's folder in its layout: Airlock (writing the tool's ledger too) vs the tool itself, same files, same run",
    valueLabel: 'median',
    rows: results.flatMap((r) => {
      const airlock = median(r.airlockMs);
      const tool = median(r.toolMs);
      return [
        row(`Airlock, layout ${r.layout}, ${r.files} files`, {
          value: airlock,
          p95: p95(r.airlockMs),
          n: r.airlockMs.length,
        }),
        row(`${r.tool}, ${r.files} files`, {
          value: tool,
          p95: p95(r.toolMs),
          n: r.toolMs.length,
          baseline: airlock,
          baselineLabel: `Airlock (${r.layout})`,
        }),
      ];
    }),
    notes: [
      "The ratio is the tool's time over Airlock's. Airlock's figure is in process (reading the folder in the layout, one transaction per file with its own ledger row and the tool's); node-pg-migrate's, dbmate's, drizzle-kit's and wrangler's include their CLI's start, postgrator's is in process like Airlock's. node-pg-migrate and drizzle-kit apply every pending file in one transaction, Airlock one transaction per file (a failure keeps the files before it).",
    ],
    details: Object.fromEntries(results.map((r) => [r.layout, r])),
  };
}
