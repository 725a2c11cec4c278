/**
 * `airlock migrate hash | create | lint | apply --dry-run | drift | adopt` as users run them:
 * real child processes of bin/airlock.js on a copy of the notes example (a git repository),
 * real SQLite files, the real wrangler writing a local D1 database, and real Postgres for the
 * Supabase ledger.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localD1DatabasePath } from '../../src/migrations/local-d1-database.ts';
import { SCRATCH_DATABASE_PREFIX } from '../../src/migrations/scratch-database.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  type TestDatabase,
  withAdminClient,
} from '../helpers/postgres.ts';
import { type CliResult, exampleProject, type TestProject } from '../helpers/project.ts';

const run = promisify(execFile);
/** The pinned wrangler (a devDependency); `d1 migrations apply --local` runs offline. */
const WRANGLER = path.resolve('node_modules/.bin/wrangler');
const D1_DATABASE_ID = '5f0c2c4e-0000-4000-8000-000000000001';

/** The notes service's migrations folder in `project`. */
const migrations = (project: TestProject) => path.join(project.dir, 'migrations');

/** Fails with the command's output, so a failing test says why. */
function expectCode(result: CliResult, code: number): CliResult {
  expect(result.code, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
  return result;
}

/** The notes service's database file in `environment`, as `airlock config show` resolves it. */
async function databaseFile(project: TestProject, environment: string): Promise<string> {
  const shown = await project.cli(['config', 'show', '--env', environment, '--json']);
  const json = JSON.parse(expectCode(shown, 0).stdout);
  return fileURLToPath(json.environments[environment].services.notes.database.url);
}

function sqlite<T>(file: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(file);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const columnsOf = (file: string, table: string) =>
  sqlite(file, (db) =>
    db
      .prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid')
      .all(table)
      .map((r) => r.name),
  );

const ledgerOf = (file: string) =>
  sqlite(file, (db) =>
    db.prepare('SELECT version, sha256, applied_by FROM airlock_migrations ORDER BY version').all(),
  );

describe('airlock migrate (SQLite)', () => {
  let project: TestProject;
  const cli = (...args: string[]) => project.cli(args);

  beforeEach(async () => {
    project = await exampleProject();
    // The example may predate airlock.sum: start from a folder without one.
    await rm(path.join(migrations(project), 'airlock.sum'), { force: true });
  });
  afterEach(async () => {
    await project.cleanup();
  });

  it('hash writes airlock.sum; apply then refuses an edited applied file, naming it', async () => {
    const missing = expectCode(await cli('migrate', 'apply', 'staging'), 1);
    expect(missing.stderr).toContain('airlock.sum is missing');
    expect(missing.stderr).toContain('→ Run `airlock migrate hash`');
    expect(existsSync(await databaseFile(project, 'staging'))).toBe(false);

    const hashed = expectCode(await cli('migrate', 'hash'), 0);
    expect(hashed.stdout).toContain('✔ notes: wrote migrations/airlock.sum (2 files).');
    expect(hashed.stdout).toContain('+ 0001_create_notes.sql (added)');
    const sum = await readFile(path.join(migrations(project), 'airlock.sum'), 'utf8');
    expect(sum.split('\n')[0]).toMatch(/^v1 [0-9a-f]{64}$/);
    expect(sum).toContain('  0002_add_notes_updated_at.sql\n');
    expect(expectCode(await cli('migrate', 'hash'), 0).stdout).toContain('is up to date');

    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    expect(ledgerOf(await databaseFile(project, 'staging'))).toHaveLength(2);

    // Someone edits an applied migration (and adds a file) without re-hashing.
    await appendFile(
      path.join(migrations(project), '0001_create_notes.sql'),
      'CREATE INDEX notes_title ON notes (title);\n',
    );
    const refused = expectCode(await cli('migrate', 'apply', 'staging'), 1);
    expect(refused.stderr).toContain(
      '✖ 0001_create_notes.sql changed since airlock.sum was written',
    );
    expect(refused.stderr).toContain('git checkout -- migrations/0001_create_notes.sql');
    expect(refused.stderr).not.toMatch(/at .*\.ts:\d+/);
    const status = expectCode(await cli('migrate', 'status', 'staging', '--json'), 1);
    expect(JSON.parse(status.stdout).error).toMatchObject({
      code: 'MIGRATION_INTEGRITY',
      details: { problems: [{ kind: 'changed', filename: '0001_create_notes.sql' }] },
    });

    // Re-hashing records the edit but warns that it already ran on staging.
    const rehashed = expectCode(await cli('migrate', 'hash'), 0);
    expect(rehashed.stdout).toContain('~ 0001_create_notes.sql (changed)');
    expect(rehashed.stderr).toContain(
      '0001_create_notes.sql already ran on staging with its old content',
    );
    // …and the ledger's checksum still refuses it.
    const ledgerRefusal = expectCode(await cli('migrate', 'apply', 'staging'), 1);
    expect(ledgerRefusal.stderr).toContain('was edited after it was applied');
  });

  it('create records the new file in airlock.sum', async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    const created = expectCode(await cli('migrate', 'create', 'Add tags'), 0);
    expect(created.stdout).toContain('✔ Created migrations/0003_add_tags.sql');
    expect(created.stdout).toContain(
      'once you have written the migration, run `airlock migrate hash` again, then commit both.',
    );
    const sum = await readFile(path.join(migrations(project), 'airlock.sum'), 'utf8');
    expect(sum).toContain('  0003_add_tags.sql\n');
    // The folder matches its sum: status accepts it without a hash.
    expectCode(await cli('migrate', 'status', 'staging'), 0);

    // An unhashed edit is not silently recorded by the next create.
    await appendFile(path.join(migrations(project), '0003_add_tags.sql'), 'SELECT 1;\n');
    const refused = expectCode(await cli('migrate', 'create', 'more'), 1);
    expect(refused.stderr).toContain('0003_add_tags.sql changed since airlock.sum was written');
    expect(existsSync(path.join(migrations(project), '0004_more.sql'))).toBe(false);
  });

  it('lint exits 1 on a destructive change outside a contract, 0 once suppressed with a reason', async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    const file = path.join(migrations(project), '0003_drop_body.sql');
    await writeFile(file, 'ALTER TABLE notes DROP COLUMN body;\n');

    // lint verifies airlock.sum first
    const unhashed = expectCode(await cli('migrate', 'lint'), 1);
    expect(unhashed.stderr).toContain('0003_drop_body.sql was added without updating airlock.sum');

    expectCode(await cli('migrate', 'hash'), 0);
    const failed = expectCode(await cli('migrate', 'lint'), 1);
    expect(failed.stdout).toContain(
      'notes: linting 1 migration not yet applied on staging (sqlite; 2 earlier files give the schema):',
    );
    expect(failed.stdout).toMatch(
      /✖ migrations\/0003_drop_body\.sql:1:\d+: error: destructive-change-outside-contract: Column notes\.body is dropped outside a contract migration.* Fix: /,
    );
    expect(failed.stdout).toContain('✖ notes: 1 error, 0 warnings, 0 suppressed in 1 file');
    const json = JSON.parse(expectCode(await cli('migrate', 'lint', '--json'), 1).stdout);
    expect(json).toMatchObject({ ok: false, errors: 1 });
    expect(json.services[0].report.findings[0]).toMatchObject({
      rule: 'destructive-change-outside-contract',
      file: '0003_drop_body.sql',
      line: 1,
    });

    const reason = 'no release since r2 reads body';
    await writeFile(
      file,
      `-- airlock:lint-ignore destructive-change-outside-contract ${reason}\nALTER TABLE notes DROP COLUMN body;\n`,
    );
    expectCode(await cli('migrate', 'hash'), 0);
    const passed = expectCode(await cli('migrate', 'lint'), 0);
    expect(passed.stdout).toContain(
      `suppressed: migrations/0003_drop_body.sql:2:19: destructive-change-outside-contract, because: ${reason}`,
    );
    expect(passed.stdout).toContain('✔ notes: 0 errors, 0 warnings, 1 suppressed in 1 file');

    // The applied files are context, not reported on; --all reports on them too.
    await writeFile(file, '-- airlock:contract\nALTER TABLE notes DROP COLUMN body;\n');
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'lint'), 0);
    const all = JSON.parse(expectCode(await cli('migrate', 'lint', '--all', '--json'), 0).stdout);
    expect(all.services[0].report.files).toBe(3);
  });

  it('lint --format sarif, github and json: one document on stdout, the summary on stderr', async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    await writeFile(
      path.join(migrations(project), '0003_drop_body.sql'),
      'ALTER TABLE notes DROP COLUMN body;\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);

    const sarif = expectCode(await cli('migrate', 'lint', '--format', 'sarif'), 1);
    const log = JSON.parse(sarif.stdout);
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0].results).toMatchObject([
      {
        ruleId: 'destructive-change-outside-contract',
        level: 'error',
        locations: [
          {
            physicalLocation: {
              artifactLocation: { uri: 'migrations/0003_drop_body.sql' },
              region: { startLine: 1 },
            },
          },
        ],
      },
    ]);
    expect(sarif.stderr).toContain('✖ notes: 1 error, 0 warnings, 0 suppressed in 1 file');

    const github = expectCode(await cli('migrate', 'lint', '--format', 'github'), 1);
    expect(github.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^::error file=migrations\/0003_drop_body\.sql,line=1,col=\d+,title=airlock lint%3A destructive-change-outside-contract::Column notes\.body is dropped .* See: docs\/lint-rules\.md#destructive-change-outside-contract$/,
      ),
    ]);

    const json = JSON.parse(expectCode(await cli('migrate', 'lint', '--format', 'json'), 1).stdout);
    expect(json).toMatchObject({ ok: false, errors: 1 });
    expect(json.services[0].report.findings[0].docs).toBe(
      'docs/lint-rules.md#destructive-change-outside-contract',
    );

    const unknown = expectCode(await cli('migrate', 'lint', '--format', 'xml'), 2);
    expect(unknown.stderr).toContain('Unknown lint output format "xml"');
  });

  it('apply --dry-run reports the failing migration and leaves the environment untouched', async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    const staging = await databaseFile(project, 'staging');
    // A row the next migration's unique index will trip over: only the data copy shows it.
    sqlite(staging, (db) => {
      const insert = db.prepare(
        "INSERT INTO notes (title, body, created_at) VALUES (?, '', '2025-01-01T00:00:00Z')",
      );
      insert.run('same');
      insert.run('same');
    });
    const before = await readFile(staging);
    await writeFile(
      path.join(migrations(project), '0003_add_pinned.sql'),
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
    );
    await writeFile(
      path.join(migrations(project), '0004_unique_titles.sql'),
      'CREATE UNIQUE INDEX notes_title ON notes (title);\n',
    );
    await writeFile(
      path.join(migrations(project), '0005_add_color.sql'),
      'ALTER TABLE notes ADD COLUMN color TEXT;\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);

    const dry = expectCode(await cli('migrate', 'apply', 'staging', '--dry-run'), 1);
    expect(dry.stdout).toContain('staging itself is not touched (no lock taken)');
    expect(dry.stdout).toContain('✔ 0003_add_pinned.sql would apply');
    expect(dry.stdout).toContain('✖ migrations/0004_unique_titles.sql would fail: Migration ');
    expect(dry.stdout).toContain('UNIQUE constraint failed: notes.title');
    expect(dry.stdout).toContain('not reached: 0005_add_color.sql');
    // staging is exactly as it was: same bytes, same ledger, no new column
    expect(await readFile(staging)).toEqual(before);
    expect(ledgerOf(staging)).toHaveLength(2);
    expect(columnsOf(staging, 'notes')).not.toContain('pinned');

    const json = JSON.parse(
      expectCode(await cli('migrate', 'apply', 'staging', '--dry-run', '--json'), 1).stdout,
    );
    expect(json.services[0]).toMatchObject({
      pending: ['0003_add_pinned.sql', '0004_unique_titles.sql', '0005_add_color.sql'],
      applied: [{ version: 3 }],
      failed: { code: 'MIGRATION_FAILED', file: expect.stringMatching(/0004_unique_titles\.sql$/) },
    });

    // The same from a release's files (what a deployment would run).
    project.commitFiles({}, 'Pinned notes and unique titles');
    expectCode(await cli('build'), 0);
    const fromRelease = expectCode(
      await cli('migrate', 'apply', 'staging', '--dry-run', '--release', 'r1'),
      1,
    );
    expect(fromRelease.stdout).toContain('files from release r1');
    expect(fromRelease.stdout).toContain('0004_unique_titles.sql would fail');

    // Without the duplicate, the dry run passes, and the real apply agrees.
    sqlite(staging, (db) => db.exec('DELETE FROM notes WHERE id = 2'));
    const ok = expectCode(await cli('migrate', 'apply', 'staging', '--dry-run'), 0);
    expect(ok.stdout).toContain('✔ 0005_add_color.sql would apply');
    expect(ledgerOf(staging)).toHaveLength(2);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    expect(ledgerOf(staging)).toHaveLength(5);
  });

  it('drift tells a manual ALTER TABLE on staging from a pending migration, exit 1', async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    expectCode(await cli('migrate', 'apply', 'production', '--yes'), 0);
    const same = expectCode(await cli('migrate', 'drift', 'staging', 'production'), 0);
    expect(same.stdout).toContain(
      '✔ notes: no drift; staging and production have the same schema.',
    );

    // A new migration on staging only: a difference, but an explained one.
    await writeFile(
      path.join(migrations(project), '0003_add_pinned.sql'),
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    const pending = expectCode(await cli('migrate', 'drift', 'staging', 'production'), 0);
    expect(pending.stdout).toContain(
      'ℹ staging has column notes.pinned (integer not null default 0) that production lacks: pending on production (0003_add_pinned.sql)',
    );
    expect(pending.stdout).not.toContain('✖');

    // Someone fixes something by hand on staging.
    const staging = await databaseFile(project, 'staging');
    sqlite(staging, (db) => db.exec('ALTER TABLE notes ADD COLUMN hotfix TEXT'));
    const drifted = expectCode(await cli('migrate', 'drift', 'staging', 'production'), 1);
    expect(drifted.stdout).toContain(
      '✖ drift: staging has column notes.hotfix (text) that none of its applied migrations creates: it was changed outside migrations',
    );
    expect(drifted.stdout).toContain('pending on production (0003_add_pinned.sql)');
    expect(drifted.stderr).toContain(
      '✖ 1 schema difference not explained by migrations (listed above).',
    );
    expect(drifted.stderr).toContain('airlock migrate create <name>');
    const json = JSON.parse(
      expectCode(await cli('migrate', 'drift', 'staging', 'production', '--json'), 1).stdout,
    );
    expect(json.error).toMatchObject({ code: 'MIGRATION_DRIFT' });
    expect(json.error.message).toContain('notes.hotfix');
    expect(json.services[0].findings).toEqual([
      expect.objectContaining({ environment: 'staging' }),
    ]);

    const itself = expectCode(await cli('migrate', 'drift', 'staging', 'staging'), 2);
    expect(itself.stderr).toContain('compare two different environments');
    const unknown = expectCode(await cli('migrate', 'drift', 'staging', 'prod'), 2);
    expect(unknown.stderr).toContain('→ Environments are: staging, production.');
  });

  it("adopt --from wrangler imports the d1_migrations the real wrangler wrote, and refuses what doesn't match", async () => {
    expectCode(await cli('migrate', 'hash'), 0);
    await writeFile(
      path.join(project.dir, 'wrangler.toml'),
      `name = "notes"
main = "src/server.js"
compatibility_date = "2025-01-01"

[[d1_databases]]
binding = "DB"
database_name = "notes-db"
database_id = "${D1_DATABASE_ID}"
migrations_dir = "migrations"
`,
    );
    const { stdout } = await run(WRANGLER, ['d1', 'migrations', 'apply', 'notes-db', '--local'], {
      cwd: project.dir,
      env: {
        ...process.env,
        CI: '1',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_LOG_PATH: path.join(project.dir, '.wrangler', 'logs'),
      },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/0002_add_notes_updated_at\.sql\s*│\s*✅/);
    const d1 = localD1DatabasePath({ projectDir: project.dir, databaseId: D1_DATABASE_ID });
    const staging = await databaseFile(project, 'staging');

    // wrangler's database is not staging's: adopting its ledger there would be a lie.
    const elsewhere = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'wrangler'), 1);
    expect(elsewhere.stderr).toContain(
      `staging's database (${staging}) is not the D1 database wrangler migrated (.wrangler/state/v3/d1/miniflare-D1DatabaseObject/`,
    );
    expect(elsewhere.stderr).toContain('the D1 database has table notes that staging');
    expect(existsSync(staging)).toBe(false);

    // staging takes over wrangler's database (the file and its write-ahead log).
    await mkdir(path.dirname(staging), { recursive: true });
    await copyFile(d1, staging);
    if (existsSync(`${d1}-wal`)) await copyFile(`${d1}-wal`, `${staging}-wal`);
    const dry = expectCode(
      await cli('migrate', 'adopt', 'staging', '--from', 'wrangler', '--dry-run'),
      0,
    );
    expect(dry.stdout).toContain(
      `notes on staging: wrangler's ledger (d1_migrations in ${staging}) (dry run: nothing is written):`,
    );
    expect(dry.stdout).toMatch(
      /0002 +0002_add_notes_updated_at\.sql +\d{4}-\d\d-\d\d [\d:]+ +adopted from wrangler/,
    );
    expect(dry.stdout).toContain('✔ Would adopt 2 migrations into staging');
    expect(
      sqlite(staging, (db) =>
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'airlock_migrations'").get(),
      ),
    ).toBeUndefined();

    const adopted = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'wrangler'), 0);
    expect(adopted.stdout).toContain(
      "✔ Adopted 2 migrations into staging's ledger without running them",
    );
    expect(ledgerOf(staging)).toEqual([
      expect.objectContaining({ version: 1, applied_by: 'adopted from wrangler' }),
      expect.objectContaining({ version: 2, applied_by: 'adopted from wrangler' }),
    ]);
    const history = JSON.parse(expectCode(await cli('history', 'staging', '--json'), 0).stdout);
    const event = history.events.find((e: { action: string }) => e.action === 'migrations.adopted');
    expect(event?.detail).toMatchObject({
      tool: 'wrangler',
      files: ['0001_create_notes.sql', '0002_add_notes_updated_at.sql'],
    });
    const again = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'wrangler'), 0);
    expect(again.stdout).toContain('0001_create_notes.sql: skipped (already in Airlock');

    // From now on Airlock runs only what is new.
    expectCode(await cli('migrate', 'create', 'add pinned'), 0);
    await appendFile(
      path.join(migrations(project), '0003_add_pinned.sql'),
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);
    const applied = expectCode(await cli('migrate', 'apply', 'staging'), 0);
    expect(applied.stdout).toContain('notes: 0003_add_pinned.sql');
    expect(applied.stdout).not.toContain('0001_create_notes.sql');
    expect(columnsOf(staging, 'notes')).toContain('pinned');

    // A ledger naming a file the folder does not have (renamed since): refused, nothing written.
    const production = await databaseFile(project, 'production');
    await mkdir(path.dirname(production), { recursive: true });
    sqlite(production, (db) => {
      for (const file of ['0001_create_notes.sql', '0002_add_notes_updated_at.sql']) {
        db.exec(readFileSync(path.join(migrations(project), file), 'utf8'));
      }
      db.exec(
        "CREATE TABLE d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL); INSERT INTO d1_migrations (name) VALUES ('0001_create_notes.sql'), ('0002_add_updated_at.sql')",
      );
    });
    const unconfirmed = expectCode(
      await cli('migrate', 'adopt', 'production', '--from', 'wrangler'),
      2,
    );
    expect(unconfirmed.stderr).toContain('production is a protected environment');
    const renamed = expectCode(
      await cli('migrate', 'adopt', 'production', '--from', 'wrangler', '--yes'),
      1,
    );
    expect(renamed.stdout).toContain(
      '✖ d1_migrations records 0002_add_updated_at.sql as applied, but the migrations directory has 0002_add_notes_updated_at.sql under that number',
    );
    expect(renamed.stderr).toContain(
      "✖ Refusing to adopt wrangler's ledger (1 problem, listed above); nothing was written.",
    );
    expect(
      sqlite(production, (db) =>
        db.prepare("SELECT name FROM sqlite_master WHERE name = 'airlock_migrations'").get(),
      ),
    ).toBeUndefined();

    const bad = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'flyway'), 2);
    expect(bad.stderr).toContain('cannot adopt migrations from "flyway".');
    expect(bad.stderr).toContain('→ `--from wrangler` reads the d1_migrations table');
  });
});

describeIfPostgres('airlock migrate (Postgres)', () => {
  let project: TestProject;
  let staging: TestDatabase;
  let production: TestDatabase;
  const cli = (...args: string[]) => project.cli(args);
  const folder = () => path.join(project.dir, 'migrations-postgres');

  async function sql(url: string, text: string, params: unknown[] = []) {
    const client = new Client({ connectionString: url });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query(text, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Scratch databases (`airlock_scratch_<pid>_<hex>`) on the test server. */
  const scratchDatabases = () =>
    withAdminClient(async (c) => {
      const { rows } = await c.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
        [SCRATCH_DATABASE_PREFIX],
      );
      return rows.map((r) => r.datname);
    });
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  let scratchBefore: Set<string>;

  beforeEach(async () => {
    scratchBefore = new Set(await scratchDatabases());
    staging = await createTestDatabase('airlock_cli_staging');
    production = await createTestDatabase('airlock_cli_production');
    project = await exampleProject();
    project.editConfig((doc) => {
      doc.setIn(['services', 'notes', 'database'], {
        engine: 'postgres',
        migrations: 'migrations-postgres',
      });
      doc.setIn(['environments', 'staging', 'services', 'notes', 'databaseUrl'], staging.url);
      doc.setIn(['environments', 'production', 'services', 'notes', 'databaseUrl'], production.url);
    });
    await rm(path.join(folder(), 'airlock.sum'), { force: true });
    expectCode(await cli('migrate', 'hash'), 0);
  });
  afterEach(async () => {
    try {
      // Every scratch database a (finished) airlock process made is gone; parallel test
      // files' live processes may still hold theirs.
      const leaked = (await scratchDatabases()).filter(
        (name) =>
          !scratchBefore.has(name) &&
          !alive(Number(name.slice(SCRATCH_DATABASE_PREFIX.length).split('_')[0])),
      );
      expect(leaked).toEqual([]);
    } finally {
      await project.cleanup();
      await staging.drop();
      await production.drop();
    }
  });

  it("adopt --from supabase imports Supabase's schema_migrations; drift then sees a manual change", async () => {
    // What `supabase db push` leaves: the tables, and its ledger with each file's statements.
    const texts: string[] = [];
    for (const file of ['0001_create_notes.sql', '0002_add_notes_updated_at.sql']) {
      const text = await readFile(path.join(folder(), file), 'utf8');
      texts.push(text);
      await sql(staging.url, text);
    }
    await sql(
      staging.url,
      `CREATE SCHEMA supabase_migrations;
       CREATE TABLE supabase_migrations.schema_migrations (
         version text NOT NULL PRIMARY KEY, statements text[], name text)`,
    );
    await sql(
      staging.url,
      `INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES
        ('20240101120000', 'create_notes', $1), ('20240215093000', 'add_notes_updated_at', $2)`,
      [[texts[0]], ['ALTER TABLE notes ADD COLUMN updated_at timestamptz NOT NULL']],
    );
    const noLedger = async () =>
      (await sql(staging.url, "SELECT to_regclass('airlock.migrations') AS t"))[0].t;

    // The recorded statements of 0002 differ from the file: refused, naming both.
    const refused = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'supabase'), 1);
    expect(refused.stdout).toContain(
      '✖ 0002_add_notes_updated_at.sql differs from the statements Supabase recorded for 20240215093000_add_notes_updated_at',
    );
    expect(refused.stderr).toContain('nothing was written');
    expect(await noLedger()).toBeNull();

    // The file that ran is restored, but Supabase knew it by another name: map it.
    await sql(
      staging.url,
      "UPDATE supabase_migrations.schema_migrations SET statements = $1, name = 'track_updates' WHERE version = '20240215093000'",
      [[texts[1]]],
    );
    const unmapped = expectCode(await cli('migrate', 'adopt', 'staging', '--from', 'supabase'), 1);
    expect(unmapped.stdout).toContain(
      'no migration file is named NNNN_track_updates.sql: rename the file, or map version 20240215093000 to it.',
    );
    const badMap = expectCode(
      await cli('migrate', 'adopt', 'staging', '--from', 'supabase', '--map', '0002'),
      2,
    );
    expect(badMap.stderr).toContain('--map 0002 is not <version>=<file>.');
    const map = ['--map', '20240215093000=0002_add_notes_updated_at.sql'];
    const dry = expectCode(
      await cli('migrate', 'adopt', 'staging', '--from', 'supabase', ...map, '--dry-run'),
      0,
    );
    expect(dry.stdout).toContain('supabase_migrations.schema_migrations in postgres://');
    expect(dry.stdout).toMatch(
      /0001 +0001_create_notes\.sql +2024-01-01 12:00:00 +adopted from supabase/,
    );
    expect(await noLedger()).toBeNull();

    const adopted = expectCode(
      await cli('migrate', 'adopt', 'staging', '--from', 'supabase', ...map),
      0,
    );
    expect(adopted.stdout).toContain("✔ Adopted 2 migrations into staging's ledger");
    const status = JSON.parse(
      expectCode(await cli('migrate', 'status', 'staging', '--json'), 0).stdout,
    );
    expect(status.services[0].applied.map((e: { appliedBy: string }) => e.appliedBy)).toEqual([
      'adopted from supabase',
      'adopted from supabase',
    ]);
    expect(status.services[0].pending).toEqual([]);

    // production runs the files itself; then the two agree, until someone edits staging by hand.
    expectCode(await cli('migrate', 'apply', 'production', '--yes'), 0);
    expectCode(await cli('migrate', 'drift', 'staging', 'production'), 0);
    await sql(staging.url, 'ALTER TABLE notes ADD COLUMN hotfix text');
    const drifted = expectCode(await cli('migrate', 'drift', 'staging', 'production'), 1);
    expect(drifted.stdout).toContain(
      '✖ drift: staging has column notes.hotfix (text) that none of its applied migrations creates',
    );
  });

  it('lint uses squawk on Postgres and apply --dry-run replays on a scratch database', async () => {
    await writeFile(
      path.join(folder(), '0003_index_title.sql'),
      'CREATE INDEX notes_title ON notes (title);\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);
    expectCode(await cli('migrate', 'apply', 'staging'), 0);
    await writeFile(
      path.join(folder(), '0004_bad.sql'),
      'ALTER TABLE notes ADD COLUMN pinned boolean;\nALTER TABLE nope ADD COLUMN x int;\n',
    );
    expectCode(await cli('migrate', 'hash'), 0);
    const lint = await cli('migrate', 'lint', '--all');
    expect(lint.stdout).toContain('(postgres)');
    expect(lint.stdout).toMatch(
      /migrations-postgres\/0003_index_title\.sql:1:1: \w+: require-concurrent-index-creation/,
    );
    const dry = expectCode(await cli('migrate', 'apply', 'staging', '--dry-run'), 1);
    expect(dry.stdout).toContain('(files from migrations-postgres; postgres copy');
    expect(dry.stdout).toContain('✖ migrations-postgres/0004_bad.sql would fail');
    expect(dry.stdout).toContain('relation "nope" does not exist');
    const columns = await sql(
      staging.url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes'",
    );
    expect(columns.map((c) => c.column_name)).not.toContain('pinned');
  });
});
