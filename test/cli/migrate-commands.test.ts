/**
 * `airlock migrate hash | create | lint | apply --dry-run | drift` and airlock.sum checks as
 * users run them: real child processes of bin/airlock.js on a copy of the notes example (a
 * git repository), real SQLite.
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliResult, exampleProject, type TestProject } from '../helpers/project.ts';

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
    const unknown = expectCode(await cli('migrate', 'drift', 'staging', 'prod'), 1);
    expect(unknown.stderr).toContain('→ Environments are: staging, production.');
  });
});
