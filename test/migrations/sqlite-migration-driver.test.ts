import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/errors.ts';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import { type MigrationFile, readMigrationDir } from '../../src/migrations/migration-files.ts';
import {
  checkAppliedOnPrevious,
  Migrator,
  notOnPreviousError,
  planMigrations,
} from '../../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';

let root: string;
let dir: string;
let dbPath: string;
const drivers: SqliteMigrationDriver[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-migrator-'));
  dir = join(root, 'migrations');
  dbPath = join(root, 'envs', 'staging', 'app.db');
});

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await rm(root, { recursive: true, force: true });
});

const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const UPDATED_AT = 'ALTER TABLE notes ADD COLUMN updated_at TEXT;\n';
const TAGS =
  'CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT NOT NULL);\n';

async function write(filename: string, sql: string): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, filename), sql);
}

function driver(path = dbPath): SqliteMigrationDriver {
  const d = new SqliteMigrationDriver(path);
  drivers.push(d);
  return d;
}

/** The CLI's flow: read the directory, then apply everything pending. */
async function migrate(path = dbPath, release: string | null = 'r1') {
  const files = await readMigrationDir(dir);
  return new Migrator(driver(path), files).apply({ appliedBy: 'tester', release });
}

/** Everything observable about a database: schema objects and the ledger, via its own connection. */
function snapshot(path = dbPath): { schema: unknown[]; ledger: unknown[] } {
  const db = new DatabaseSync(path);
  try {
    const schema = db
      .prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name')
      .all()
      .map((r) => ({ ...r }));
    const hasLedger = schema.some((r) => r.name === 'airlock_migrations');
    const ledger = hasLedger
      ? db
          .prepare('SELECT * FROM airlock_migrations ORDER BY version')
          .all()
          .map((r) => ({ ...r }))
      : [];
    return { schema, ledger };
  } finally {
    db.close();
  }
}

function tableNames(path = dbPath): string[] {
  return snapshot(path)
    .schema.filter((r) => (r as { type: string }).type === 'table')
    .map((r) => (r as { name: string }).name);
}

async function caught(promise: Promise<unknown>): Promise<AirlockError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AirlockError) return error;
    throw error;
  }
  throw new Error('expected an AirlockError, but nothing was thrown');
}

function sha(text: string): string {
  return createHash('sha256').update(Buffer.from(text)).digest('hex');
}

describe('readMigrationDir', () => {
  it('returns [] for a missing directory', async () => {
    expect(await readMigrationDir(join(root, 'nope'))).toEqual([]);
  });

  it('reads .sql files sorted by version with sha256 of the raw bytes, ignoring other files', async () => {
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await write('0001_create_notes.sql', NOTES);
    await write('README.md', '# not a migration');
    await write('.gitkeep', '');
    const files = await readMigrationDir(dir);
    expect(files.map((f) => [f.version, f.name, f.filename])).toEqual([
      [1, 'create_notes', '0001_create_notes.sql'],
      [2, 'add_updated_at', '0002_add_updated_at.sql'],
    ]);
    expect(files[0]!.path).toBe(join(dir, '0001_create_notes.sql'));
    expect(files[0]!.sql).toBe(NOTES);
    expect(files[0]!.sha256).toBe(sha(NOTES));
    expect(files[1]!.sha256).toBe(
      createHash('sha256')
        .update(await readFile(join(dir, '0002_add_updated_at.sql')))
        .digest('hex'),
    );
  });

  it('rejects a .sql file that is not named NNNN_name.sql, naming it', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write('2_Add-Tags.sql', TAGS);
    const error = await caught(readMigrationDir(dir));
    expect(error.code).toBe('MIGRATION_NAME_INVALID');
    expect(error.message).toContain(join(dir, '2_Add-Tags.sql'));
    expect(error.hint).toContain('airlock migrate create');
  });
});

describe('Migrator on a real SQLite file', () => {
  it('applies files in order, one ledger row each with the right checksum', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await write('0003_create_tags.sql', TAGS);
    const files = await readMigrationDir(dir);
    const events: string[] = [];
    const migrator = new Migrator(driver(), files);
    expect((await migrator.status()).pending.map((f) => f.version)).toEqual([1, 2, 3]);
    const result = await migrator.apply({
      appliedBy: 'alice',
      release: 'r7',
      onProgress: (file, phase, entry) =>
        events.push(`${phase} ${file.filename}${entry ? ` ${entry.version}` : ''}`),
    });
    expect(events).toEqual([
      'start 0001_create_notes.sql',
      'done 0001_create_notes.sql 1',
      'start 0002_add_updated_at.sql',
      'done 0002_add_updated_at.sql 2',
      'start 0003_create_tags.sql',
      'done 0003_create_tags.sql 3',
    ]);
    expect(result.applied.map((e) => e.version)).toEqual([1, 2, 3]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);

    const ledger = snapshot().ledger as Array<Record<string, unknown>>;
    expect(ledger.map((r) => [r.version, r.name, r.sha256, r.applied_by, r.release])).toEqual([
      [1, 'create_notes', sha(NOTES), 'alice', 'r7'],
      [2, 'add_updated_at', sha(UPDATED_AT), 'alice', 'r7'],
      [3, 'create_tags', sha(TAGS), 'alice', 'r7'],
    ]);
    for (const row of ledger) {
      expect(Number.isNaN(Date.parse(String(row.applied_at)))).toBe(false);
      expect(typeof row.duration_ms).toBe('number');
    }
    expect(tableNames()).toEqual(expect.arrayContaining(['notes', 'tags', 'airlock_migrations']));
    const db = new DatabaseSync(dbPath);
    const columns = db
      .prepare('SELECT name FROM pragma_table_info(?)')
      .all('notes')
      .map((r) => r.name);
    db.close();
    expect(columns).toEqual(['id', 'title', 'updated_at']);

    const plan = await migrator.status();
    expect(plan.pending).toEqual([]);
    expect(plan.problems).toEqual([]);
    expect(plan.applied.map((e: LedgerEntry) => e.sha256)).toEqual([
      sha(NOTES),
      sha(UPDATED_AT),
      sha(TAGS),
    ]);
  });

  it('is a no-op the second time', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await migrate();
    const before = snapshot();
    const again = await migrate(dbPath, 'r2');
    expect(again.applied).toEqual([]);
    expect(snapshot()).toEqual(before);
  });

  it('status on a fresh database creates nothing', async () => {
    await write('0001_create_notes.sql', NOTES);
    const plan = await new Migrator(driver(), await readMigrationDir(dir)).status();
    expect(plan.pending.map((f) => f.filename)).toEqual(['0001_create_notes.sql']);
    expect(tableNames()).toEqual([]);
  });

  it('refuses an edited applied file, naming it and both checksums, and changes nothing', async () => {
    await write('0001_create_notes.sql', NOTES);
    await migrate();
    const edited = `${NOTES}-- tweak\nALTER TABLE notes ADD COLUMN body TEXT;\n`;
    await write('0001_create_notes.sql', edited);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    const before = snapshot();
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
    expect(error.message).toContain(join(dir, '0001_create_notes.sql'));
    expect(error.message).toContain(sha(NOTES));
    expect(error.message).toContain(sha(edited));
    expect(error.hint).toContain('airlock migrate create');
    expect(snapshot()).toEqual(before);
  });

  it('refuses a gap, naming the file after it and the missing number, and changes nothing', async () => {
    await write('0001_create_notes.sql', NOTES);
    await migrate();
    await write('0003_create_tags.sql', TAGS);
    const before = snapshot();
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_GAP');
    expect(error.message).toContain(join(dir, '0003_create_tags.sql'));
    expect(error.message).toContain('0002 is missing');
    expect(error.details).toMatchObject({ missing: 2 });
    expect(snapshot()).toEqual(before);
  });

  it('refuses two files with one number, naming both, and changes nothing', async () => {
    await write('0001_create_notes.sql', NOTES);
    await migrate();
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await write('0002_create_tags.sql', TAGS);
    const before = snapshot();
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_DUPLICATE');
    expect(error.message).toContain(join(dir, '0002_add_updated_at.sql'));
    expect(error.message).toContain(join(dir, '0002_create_tags.sql'));
    expect(snapshot()).toEqual(before);
  });

  it('refuses when an applied file is gone', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await migrate();
    await unlink(join(dir, '0002_add_updated_at.sql'));
    const before = snapshot();
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_MISSING_FILE');
    expect(error.message).toContain('0002_add_updated_at.sql');
    expect(snapshot()).toEqual(before);
  });

  it('rolls back a failing file completely and stops there', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write(
      '0002_create_broken.sql',
      'CREATE TABLE half_done (id INTEGER PRIMARY KEY);\nCREATE TABL oops (x);\n',
    );
    await write('0003_create_tags.sql', TAGS);
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain(join(dir, '0002_create_broken.sql'));
    expect(error.message).toContain('syntax error');
    expect((error.details.applied as LedgerEntry[]).map((e) => e.version)).toEqual([1]);

    const tables = tableNames();
    expect(tables).toContain('notes');
    expect(tables).not.toContain('half_done');
    expect(tables).not.toContain('tags');
    expect((snapshot().ledger as Array<{ version: number }>).map((r) => r.version)).toEqual([1]);

    // Fixing the failed (never recorded) file is allowed, and the rest then runs.
    await write('0002_create_broken.sql', 'CREATE TABLE half_done (id INTEGER PRIMARY KEY);\n');
    const retry = await migrate();
    expect(retry.applied.map((e) => e.version)).toEqual([2, 3]);
    expect(tableNames()).toEqual(expect.arrayContaining(['half_done', 'tags']));
  });

  it('a second process racing on the same version fails cleanly instead of running it twice', async () => {
    await write('0001_create_notes.sql', NOTES);
    const files = await readMigrationDir(dir);
    const a = new Migrator(driver(), files);
    const b = new SqliteMigrationDriver(dbPath);
    drivers.push(b);
    const planB = await new Migrator(b, files).status();
    await a.apply({ appliedBy: 'a', release: null });
    const error = await caught(b.applyFile(planB.pending[0]!, { appliedBy: 'b', release: null }));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('already applied');
    expect((snapshot().ledger as Array<{ applied_by: string }>).map((r) => r.applied_by)).toEqual([
      'a',
    ]);
  });

  it('accepts a file: URL as the database location', async () => {
    await write('0001_create_notes.sql', NOTES);
    const { pathToFileURL } = await import('node:url');
    await migrate(pathToFileURL(dbPath).href);
    expect(tableNames()).toContain('notes');
  });
});

describe('staging first: checkAppliedOnPrevious', () => {
  it('lists files not applied on the previous environment or applied with another checksum', async () => {
    const staging = join(root, 'staging.db');
    const production = join(root, 'production.db');
    await write('0001_create_notes.sql', NOTES);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    await migrate(staging);
    await write('0003_create_tags.sql', TAGS);

    const files = await readMigrationDir(dir);
    const stagingLedger = await driver(staging).readLedger();
    const prodPlan = await new Migrator(driver(production), files).status();
    expect(prodPlan.pending.map((f) => f.version)).toEqual([1, 2, 3]);
    const missing = checkAppliedOnPrevious(prodPlan.pending, stagingLedger);
    expect(missing.map((m) => [m.file.filename, m.reason])).toEqual([
      ['0003_create_tags.sql', 'not-applied'],
    ]);

    // The file staging ran is not the file production would run.
    const edited: MigrationFile[] = files.map((f) =>
      f.version === 2 ? { ...f, sha256: sha('something else') } : f,
    );
    expect(
      checkAppliedOnPrevious(edited, stagingLedger).map((m) => [m.file.version, m.reason]),
    ).toEqual([
      [2, 'checksum-differs'],
      [3, 'not-applied'],
    ]);
    expect(checkAppliedOnPrevious(files.slice(0, 2), stagingLedger)).toEqual([]);

    const error = notOnPreviousError(missing, { environment: 'production', previous: 'staging' });
    expect(error.code).toBe('MIGRATION_NOT_ON_PREVIOUS');
    expect(error.message).toContain('0003_create_tags.sql (not applied on staging)');
    expect(error.hint).toContain('airlock deploy staging');
  });
});

describe('planMigrations', () => {
  it('is pure: the same inputs give the same plan and are not mutated', async () => {
    await write('0001_create_notes.sql', NOTES);
    await write('0002_add_updated_at.sql', UPDATED_AT);
    const files = await readMigrationDir(dir);
    const ledger: LedgerEntry[] = [
      {
        version: 1,
        name: 'create_notes',
        sha256: sha(NOTES),
        appliedAt: '2026-01-01T00:00:00.000Z',
        appliedBy: 'ci',
        durationMs: 3,
        release: 'r1',
      },
    ];
    const frozenFiles = structuredClone(files);
    const frozenLedger = structuredClone(ledger);
    const plan = planMigrations(files, ledger);
    expect(plan.applied).toEqual(ledger);
    expect(plan.pending.map((f) => f.version)).toEqual([2]);
    expect(plan.problems).toEqual([]);
    expect(planMigrations(files, ledger)).toEqual(plan);
    expect(files).toEqual(frozenFiles);
    expect(ledger).toEqual(frozenLedger);
  });
});
