/**
 * Adopting other tools' ledgers: the `d1_migrations` table the real `wrangler d1 migrations
 * apply --local` wrote (wrangler is a devDependency; it runs offline), and a Supabase-shaped
 * `supabase_migrations.schema_migrations` on real Postgres. After adoption the migrator finds
 * nothing pending for those files and applies only a new one; every surprise is refused,
 * naming the row or file, with nothing written.
 */
import { execFile } from 'node:child_process';
import {
  cp,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adoptError, adoptLedger } from '../../src/migrations/adopt.ts';
import { readSupabaseLedger } from '../../src/migrations/adopt-supabase.ts';
import { readD1Ledger } from '../../src/migrations/adopt-wrangler.ts';
import {
  findLocalD1Database,
  localD1DatabasePath,
} from '../../src/migrations/local-d1-database.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { caught } from './engines.ts';
import { leakedScratchDatabases } from './scratch-helpers.ts';

const run = promisify(execFile);
const WRANGLER = resolve('node_modules/.bin/wrangler');
const DATABASE_ID = '5f0c2c4e-0000-4000-8000-000000000001';

const INIT = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const BODY = 'ALTER TABLE notes ADD COLUMN body TEXT;\n';
const TAGS = 'CREATE TABLE tags (note_id INTEGER NOT NULL, tag TEXT NOT NULL);\n';

/** Processes whose working directory is inside `dir` (wrangler's workerd must not outlive it). */
async function processesIn(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cwd = await readlink(`/proc/${pid}/cwd`);
      if (cwd.startsWith(dir)) out.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

describe("adopting wrangler's D1 ledger", () => {
  /** A wrangler project on which the real `wrangler d1 migrations apply --local` ran. */
  let template: string;
  let project: string;
  let tmp: string;

  beforeAll(async () => {
    template = await mkdtemp(join(tmpdir(), 'airlock-wrangler-'));
    await writeFile(
      join(template, 'wrangler.toml'),
      `name = "notes"
main = "src/index.js"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "notes-db"
database_id = "${DATABASE_ID}"
migrations_dir = "migrations"
`,
    );
    await mkdir(join(template, 'migrations'));
    await writeFile(join(template, 'migrations', '0001_init.sql'), INIT);
    await writeFile(join(template, 'migrations', '0002_add_body.sql'), BODY);
    const { stdout } = await run(WRANGLER, ['d1', 'migrations', 'apply', 'notes-db', '--local'], {
      cwd: template,
      env: {
        ...process.env,
        CI: '1',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_LOG_PATH: join(template, 'logs'),
      },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/0002_add_body\.sql\s*│\s*✅/);
    // wrangler's workerd is gone once wrangler has exited (allow it a moment to be reaped)
    let left = await processesIn(template);
    for (let i = 0; i < 40 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      left = await processesIn(template);
    }
    expect(left).toEqual([]);
  });

  afterAll(async () => {
    await rm(template, { recursive: true, force: true });
  });

  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), 'airlock-wrangler-project-'));
    tmp = await mkdtemp(join(tmpdir(), 'airlock-adopt-test-'));
    await cp(template, project, { recursive: true });
  });

  afterEach(async () => {
    try {
      expect(await readdir(tmp)).toEqual([]); // no scratch file left
    } finally {
      await rm(project, { recursive: true, force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  });

  const migrationsDir = () => join(project, 'migrations');

  it('finds the local database wrangler wrote and reads its d1_migrations', async () => {
    const path = localD1DatabasePath({ projectDir: project, databaseId: DATABASE_ID });
    expect(path).toMatch(
      /\.wrangler\/state\/v3\/d1\/miniflare-D1DatabaseObject\/[0-9a-f]{64}\.sqlite$/,
    );
    expect(await findLocalD1Database({ projectDir: project, databaseId: DATABASE_ID })).toBe(path);
    expect(await findLocalD1Database({ projectDir: project })).toBe(path);
    const rows = await readD1Ledger(path);
    expect(rows.map((r) => r.name)).toEqual(['0001_init.sql', '0002_add_body.sql']);
    expect(rows[0]!.applied_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

    const missing = await caught(
      findLocalD1Database({ projectDir: project, databaseId: 'another-database' }),
    );
    expect(missing.code).toBe('MIGRATION_ADOPT_SOURCE_NOT_FOUND');
    expect(missing.hint).toContain('wrangler d1 migrations apply');
    const none = await caught(findLocalD1Database({ projectDir: tmp }));
    expect(none.code).toBe('MIGRATION_ADOPT_SOURCE_NOT_FOUND');
  });

  it('adopts it without running anything; then only a new migration applies', async () => {
    const path = await findLocalD1Database({ projectDir: project });
    const d1Rows = await readD1Ledger(path);
    const files = await readMigrationDir(migrationsDir());
    const result = await adoptLedger(
      { tool: 'wrangler', sqlitePath: path },
      { engine: 'sqlite', url: path },
      files,
      { tmpDir: tmp },
    );
    expect(result.problems).toEqual([]);
    expect(result.written).toBe(true);
    expect(result.adopted).toEqual([
      {
        version: 1,
        name: 'init',
        sha256: files[0]!.sha256,
        appliedAt: `${d1Rows[0]!.applied_at!.replace(' ', 'T')}.000Z`,
        appliedBy: 'adopted from wrangler',
        durationMs: 0,
        release: null,
      },
      expect.objectContaining({ version: 2, name: 'add_body', sha256: files[1]!.sha256 }),
    ]);

    // The migrator now sees both files as applied, with matching checksums.
    await writeFile(join(migrationsDir(), '0003_create_tags.sql'), TAGS);
    const driver = new SqliteMigrationDriver(path);
    try {
      const migrator = new Migrator(driver, await readMigrationDir(migrationsDir()));
      const plan = await migrator.status();
      expect(plan.problems).toEqual([]);
      expect(plan.applied.map((e) => e.version)).toEqual([1, 2]);
      expect(plan.pending.map((f) => f.filename)).toEqual(['0003_create_tags.sql']);
      const applied = await migrator.apply({ appliedBy: 'tester', release: 'r1' });
      expect(applied.applied.map((e) => e.version)).toEqual([3]);
    } finally {
      await driver.close();
    }
    // wrangler's ledger is left as it was; the schema has the three migrations
    expect((await readD1Ledger(path)).map((r) => r.name)).toEqual([
      '0001_init.sql',
      '0002_add_body.sql',
    ]);
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const columns = db.prepare('SELECT name FROM pragma_table_info(?)').all('notes');
      expect(columns.map((c) => c.name)).toEqual(['id', 'title', 'body']);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'tags'").get()).toBeTruthy();
    } finally {
      db.close();
    }

    // Adopting again changes nothing.
    const again = await adoptLedger(
      { tool: 'wrangler', sqlitePath: path },
      { engine: 'sqlite', url: path },
      await readMigrationDir(migrationsDir()),
      { tmpDir: tmp },
    );
    expect(again).toMatchObject({ adopted: [], problems: [], written: false });
    expect(again.skipped.map((s) => s.file)).toEqual(['0001_init.sql', '0002_add_body.sql']);
  });

  it('refuses a row whose file is gone or renamed, naming it, and writes nothing', async () => {
    const path = await findLocalD1Database({ projectDir: project });
    await unlink(join(migrationsDir(), '0002_add_body.sql'));
    await writeFile(join(migrationsDir(), '0002_body.sql'), BODY);
    const renamed = await adoptLedger(
      { tool: 'wrangler', sqlitePath: path },
      { engine: 'sqlite', url: path },
      await readMigrationDir(migrationsDir()),
      { tmpDir: tmp },
    );
    expect(renamed.written).toBe(false);
    expect(renamed.problems).toEqual([
      expect.objectContaining({ kind: 'renamed', row: '0002_add_body.sql', file: '0002_body.sql' }),
    ]);
    expect(renamed.problems[0]!.message).toContain(
      'd1_migrations records 0002_add_body.sql as applied, but the migrations directory has 0002_body.sql',
    );

    await unlink(join(migrationsDir(), '0002_body.sql'));
    const gone = await adoptLedger(
      { tool: 'wrangler', sqlitePath: path },
      { engine: 'sqlite', url: path },
      await readMigrationDir(migrationsDir()),
      { tmpDir: tmp },
    );
    expect(gone.problems).toEqual([
      expect.objectContaining({
        kind: 'no-file',
        row: '0002_add_body.sql',
        message:
          'd1_migrations records 0002_add_body.sql as applied, but the migrations directory has no such file: restore it from git before adopting.',
      }),
    ]);
    const error = adoptError(gone);
    expect(error.code).toBe('MIGRATION_ADOPT_MISMATCH');
    expect(error.message).toContain('0002_add_body.sql');
    // nothing written: no Airlock ledger in the database
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      expect(
        db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'airlock_migrations'").get(),
      ).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('refuses a file edited after wrangler ran it (its schema no longer matches)', async () => {
    const path = await findLocalD1Database({ projectDir: project });
    await writeFile(
      join(migrationsDir(), '0002_add_body.sql'),
      "ALTER TABLE notes ADD COLUMN body TEXT NOT NULL DEFAULT '';\n",
    );
    const result = await adoptLedger(
      { tool: 'wrangler', sqlitePath: path },
      { engine: 'sqlite', url: path },
      await readMigrationDir(migrationsDir()),
      { tmpDir: tmp },
    );
    expect(result.written).toBe(false);
    expect(result.problems.map((p) => p.message)).toEqual([
      "The adopted files do not reproduce the database's schema: column notes.body is text in the database, but the files make it text not null default '' (a file edited after it ran, or a change made by hand).",
    ]);
  });

  it('refuses a gap: a file missing from d1_migrations while a later one ran', async () => {
    const path = await findLocalD1Database({ projectDir: project });
    await writeFile(join(migrationsDir(), '0003_create_tags.sql'), TAGS);
    const result = await adoptLedger(
      {
        tool: 'wrangler',
        rows: [
          { id: 1, name: '0001_init.sql', applied_at: '2025-01-01 10:00:00' },
          { id: 2, name: '0003_create_tags.sql', applied_at: '2025-01-02 10:00:00' },
        ],
      },
      { engine: 'sqlite', url: path },
      await readMigrationDir(migrationsDir()),
    );
    expect(result.problems).toEqual([
      expect.objectContaining({ kind: 'gap', file: '0002_add_body.sql' }),
    ]);
  });
});

describeIfPostgres('adopting a Supabase ledger', () => {
  let database: TestDatabase;
  let dir: string;

  const SUPABASE_NOTES =
    'create table notes (\n  id bigint generated by default as identity primary key,\n  title text not null\n);\n';
  const SUPABASE_PINNED = 'alter table notes add column pinned boolean not null default false;\n';

  async function sql(text: string, params: unknown[] = []) {
    const client = new Client({ connectionString: database.url });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  beforeEach(async () => {
    database = await createTestDatabase('airlock_adopt');
    dir = await mkdtemp(join(tmpdir(), 'airlock-adopt-supabase-'));
    // What `supabase db push` leaves: the tables, and its ledger with each file's statements.
    await sql(`CREATE SCHEMA supabase_migrations;
      CREATE TABLE supabase_migrations.schema_migrations (
        version text NOT NULL PRIMARY KEY, statements text[], name text)`);
    await sql(SUPABASE_NOTES);
    await sql(SUPABASE_PINNED);
    await sql(
      `INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES
        ('20240101120000', 'create_notes', $1), ('20240215093000', 'add_pinned', $2)`,
      [[SUPABASE_NOTES.trim().replace(/;$/, '')], [SUPABASE_PINNED.trim().replace(/;$/, '')]],
    );
    // The same files, renamed to Airlock's numbering (with a header comment added).
    await mkdir(join(dir, 'migrations'));
    await writeFile(
      join(dir, 'migrations', '0001_create_notes.sql'),
      `-- from supabase/migrations/20240101120000_create_notes.sql\n${SUPABASE_NOTES}`,
    );
    await writeFile(join(dir, 'migrations', '0002_add_pinned.sql'), SUPABASE_PINNED);
  });

  afterEach(async () => {
    try {
      expect(await leakedScratchDatabases()).toEqual([]);
    } finally {
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  const files = () => readMigrationDir(join(dir, 'migrations'));

  it('adopts it by name; then only a new migration applies', async () => {
    expect(await readSupabaseLedger(database.url)).toEqual([
      { version: '20240101120000', name: 'create_notes', statements: [expect.any(String)] },
      { version: '20240215093000', name: 'add_pinned', statements: [expect.any(String)] },
    ]);
    const result = await adoptLedger(
      { tool: 'supabase', url: database.url },
      { engine: 'postgres', url: database.url },
      await files(),
      { verifySchema: true },
    );
    expect(result.problems).toEqual([]);
    expect(result.written).toBe(true);
    expect(result.adopted).toMatchObject([
      {
        version: 1,
        name: 'create_notes',
        appliedAt: '2024-01-01T12:00:00.000Z',
        appliedBy: 'adopted from supabase',
        durationMs: 0,
        release: null,
      },
      { version: 2, name: 'add_pinned', appliedAt: '2024-02-15T09:30:00.000Z' },
    ]);

    await writeFile(
      join(dir, 'migrations', '0003_add_archived.sql'),
      'alter table notes add column archived boolean;\n',
    );
    const driver = new PostgresMigrationDriver(database.url);
    try {
      const migrator = new Migrator(driver, await files());
      const plan = await migrator.status();
      expect(plan.problems).toEqual([]);
      expect(plan.applied.map((e) => e.sha256)).toEqual(
        (await files()).slice(0, 2).map((f) => f.sha256),
      );
      const applied = await migrator.apply({ appliedBy: 'tester', release: null });
      expect(applied.applied.map((e) => e.version)).toEqual([3]);
    } finally {
      await driver.close();
    }
    const columns = await sql(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual(['id', 'title', 'pinned', 'archived']);
  });

  it('refuses a file whose statements differ from what Supabase recorded', async () => {
    await writeFile(
      join(dir, 'migrations', '0002_add_pinned.sql'),
      'alter table notes add column pinned boolean not null default true;\n',
    );
    const result = await adoptLedger(
      { tool: 'supabase', url: database.url },
      { engine: 'postgres', url: database.url },
      await files(),
    );
    expect(result.written).toBe(false);
    expect(result.problems).toEqual([
      expect.objectContaining({
        kind: 'statements-differ',
        row: '20240215093000_add_pinned',
        file: '0002_add_pinned.sql',
      }),
    ]);
    expect((await sql("SELECT to_regclass('airlock.migrations') AS t"))[0].t).toBeNull();
  });

  it('refuses a row no file matches by name, unless mapped', async () => {
    await rm(join(dir, 'migrations', '0002_add_pinned.sql'));
    await writeFile(join(dir, 'migrations', '0002_pin_notes.sql'), SUPABASE_PINNED);
    const unmapped = await adoptLedger(
      { tool: 'supabase', url: database.url },
      { engine: 'postgres', url: database.url },
      await files(),
    );
    expect(unmapped.problems.map((p) => p.message)).toEqual([
      'supabase_migrations.schema_migrations records 20240215093000_add_pinned as applied, but no migration file is named NNNN_add_pinned.sql: rename the file, or map version 20240215093000 to it.',
    ]);
    const mapped = await adoptLedger(
      {
        tool: 'supabase',
        url: database.url,
        mapping: { '20240215093000': '0002_pin_notes.sql' },
      },
      { engine: 'postgres', url: database.url },
      await files(),
    );
    expect(mapped.problems).toEqual([]);
    expect(mapped.adopted.map((e) => e.name)).toEqual(['create_notes', 'pin_notes']);
  });

  it('with verifySchema, refuses a schema changed by hand', async () => {
    await sql('alter table notes add column hotfix text');
    const result = await adoptLedger(
      { tool: 'supabase', url: database.url },
      { engine: 'postgres', url: database.url },
      await files(),
      { verifySchema: true },
    );
    expect(result.problems.map((p) => p.message)).toEqual([
      "The adopted files do not reproduce the database's schema: the database has column notes.hotfix (text) that the files do not create (a file edited after it ran, or a change made by hand).",
    ]);
  });

  it('leaves the target untouched in a dry run', async () => {
    const result = await adoptLedger(
      { tool: 'supabase', url: database.url },
      { engine: 'postgres', url: database.url },
      await files(),
      { dryRun: true },
    );
    expect(result.written).toBe(false);
    expect(result.adopted.map((e) => e.version)).toEqual([1, 2]);
    expect((await sql("SELECT to_regclass('airlock.migrations') AS t"))[0].t).toBeNull();
    expect(await readFile(join(dir, 'migrations', '0001_create_notes.sql'), 'utf8')).toContain(
      'from supabase/migrations',
    );
  });
});
