/**
 * The migrator contract: one spec, run unchanged on every engine (Kysely runs each test on
 * every dialect): SQLite and Postgres here (migrator-contract.test.ts), Cloudflare's remote D1
 * through its HTTP API in test/providers/cloudflare. Engine-specific behaviour lives in
 * sqlite-migration-driver.test.ts and postgres-migration-driver.test.ts.
 */
import { createHash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { LedgerEntry } from '../../src/migrations/ledger.ts';
import type { MigrationDriver } from '../../src/migrations/migration-driver.ts';
import { type MigrationFile, readMigrationDir } from '../../src/migrations/migration-files.ts';
import {
  checkAppliedOnPrevious,
  Migrator,
  notOnPreviousError,
} from '../../src/migrations/migrator.ts';
import {
  caught,
  type Engine,
  type EngineDatabase,
  type MigrationDir,
  migrationDir,
} from './engines.ts';

// SQL both engines accept.
const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const UPDATED_AT = 'ALTER TABLE notes ADD COLUMN updated_at TEXT;\n';
const TAGS =
  'CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT NOT NULL);\n';
const BROKEN = 'CREATE TABLE half_done (id INTEGER PRIMARY KEY);\nCREATE TABL oops (x);\n';

function sha(text: string): string {
  return createHash('sha256').update(Buffer.from(text)).digest('hex');
}

/** An engine the contract runs on: the test engines, or a driver's own (e.g. remote D1). */
export type MigratorContractEngine = Pick<Engine, 'describe' | 'ledgerTable' | 'create'> & {
  name: string;
};

export function describeMigratorContract(engine: MigratorContractEngine): void {
  engine.describe(`Migrator contract on ${engine.name}`, () => {
    let files: MigrationDir;
    let db: EngineDatabase;
    const extra: EngineDatabase[] = [];

    beforeEach(async () => {
      files = await migrationDir();
      db = await engine.create();
    });

    afterEach(async () => {
      for (const other of extra.splice(0)) await other.dispose();
      await db?.dispose();
      await files?.remove();
    });

    /** The CLI's flow: read the directory, then apply everything pending. */
    async function migrate(on: EngineDatabase = db, release: string | null = 'r1') {
      return new Migrator(on.driver(), await readMigrationDir(files.dir)).apply({
        appliedBy: 'tester',
        release,
      });
    }

    it('applies files in order, one ledger row each with its checksum', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      await files.write('0003_create_tags.sql', TAGS);
      const driver = db.driver();
      const migrator = new Migrator(driver, await readMigrationDir(files.dir));
      expect((await migrator.status()).pending.map((f) => f.version)).toEqual([1, 2, 3]);
      const events: string[] = [];
      const before = Date.now();
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
      expect(result.durationMs).toBeGreaterThanOrEqual(0);

      // What the driver returned is exactly what is stored, read over another connection.
      const ledger = await db.ledger();
      expect(result.applied).toEqual(ledger);
      expect(await driver.readLedger()).toEqual(ledger);
      expect(ledger.map((e) => [e.version, e.name, e.sha256, e.appliedBy, e.release])).toEqual([
        [1, 'create_notes', sha(NOTES), 'alice', 'r7'],
        [2, 'add_updated_at', sha(UPDATED_AT), 'alice', 'r7'],
        [3, 'create_tags', sha(TAGS), 'alice', 'r7'],
      ]);
      for (const entry of ledger) {
        expect(Date.parse(entry.appliedAt)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(entry.appliedAt)).toBeLessThanOrEqual(Date.now() + 1000);
        expect(Number.isInteger(entry.durationMs)).toBe(true);
      }
      expect(await db.tables()).toEqual(
        expect.arrayContaining(['notes', 'tags', engine.ledgerTable]),
      );
      expect(await db.columns('notes')).toEqual(['id', 'title', 'updated_at']);

      const plan = await migrator.status();
      expect(plan.pending).toEqual([]);
      expect(plan.problems).toEqual([]);
      expect(plan.applied).toEqual(ledger);
    });

    it('is a no-op the second time', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      await migrate();
      const before = await db.snapshot();
      const again = await migrate(db, 'r2');
      expect(again.applied).toEqual([]);
      expect(await db.snapshot()).toEqual(before);
    });

    it('reads the ledger of a fresh database as [] and creates nothing', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      const driver = db.driver();
      expect(await driver.readLedger()).toEqual([]);
      const plan = await new Migrator(driver, await readMigrationDir(files.dir)).status();
      expect(plan.pending.map((f) => f.filename)).toEqual(['0001_create_notes.sql']);
      expect(await db.tables()).toEqual([]);
    });

    it('records a file of comments only (a fresh `airlock migrate create`)', async () => {
      await files.write('0001_nothing_yet.sql', '-- Migration 0001_nothing_yet.sql\n-- TODO\n');
      const result = await migrate();
      expect(result.applied.map((e) => e.name)).toEqual(['nothing_yet']);
      expect(await db.tables()).toEqual([engine.ledgerTable]);
    });

    it('refuses an edited applied file, naming it and both checksums, and changes nothing', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await migrate();
      const edited = `${NOTES}-- tweak\nALTER TABLE notes ADD COLUMN body TEXT;\n`;
      await files.write('0001_create_notes.sql', edited);
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      const before = await db.snapshot();
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
      expect(error.message).toContain(join(files.dir, '0001_create_notes.sql'));
      expect(error.message).toContain(sha(NOTES));
      expect(error.message).toContain(sha(edited));
      expect(error.hint).toContain('airlock migrate create');
      expect(await db.snapshot()).toEqual(before);
    });

    it('refuses a gap, naming the file after it and the missing number, and changes nothing', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await migrate();
      await files.write('0003_create_tags.sql', TAGS);
      const before = await db.snapshot();
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_GAP');
      expect(error.message).toContain(join(files.dir, '0003_create_tags.sql'));
      expect(error.message).toContain('0002 is missing');
      expect(error.details).toMatchObject({ missing: 2 });
      expect(await db.snapshot()).toEqual(before);
    });

    it('refuses two files with one number, naming both, and changes nothing', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await migrate();
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      await files.write('0002_create_tags.sql', TAGS);
      const before = await db.snapshot();
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_DUPLICATE');
      expect(error.message).toContain(join(files.dir, '0002_add_updated_at.sql'));
      expect(error.message).toContain(join(files.dir, '0002_create_tags.sql'));
      expect(await db.snapshot()).toEqual(before);
    });

    it('refuses when an applied file is gone, and changes nothing', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      await migrate();
      await unlink(join(files.dir, '0002_add_updated_at.sql'));
      const before = await db.snapshot();
      const missing = await caught(migrate());
      expect(missing.code).toBe('MIGRATION_MISSING_FILE');
      expect(missing.message).toContain('0002_add_updated_at.sql');
      expect(await db.snapshot()).toEqual(before);
    });

    it('rolls a failing file back completely (no table, no ledger row) and stops there', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_create_broken.sql', BROKEN);
      await files.write('0003_create_tags.sql', TAGS);
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain(join(files.dir, '0002_create_broken.sql'));
      expect(error.message).toContain('syntax error');
      // The fix ships as a release built from a commit: re-hashed, committed, deployed.
      expect(error.hint).toContain(
        "0002_create_broken.sql, then run `airlock migrate hash` (it records the file's new checksum in airlock.sum), commit both, and deploy again",
      );
      expect(error.hint).not.toContain('airlock migrate apply');
      expect((error.details.applied as LedgerEntry[]).map((e) => e.version)).toEqual([1]);

      const tables = await db.tables();
      expect(tables).toContain('notes');
      expect(tables).not.toContain('half_done');
      expect(tables).not.toContain('tags');
      expect((await db.ledger()).map((e) => e.version)).toEqual([1]);

      // Fixing the failed (never recorded) file is allowed, and the rest then runs.
      await files.write(
        '0002_create_broken.sql',
        'CREATE TABLE half_done (id INTEGER PRIMARY KEY);\n',
      );
      const retry = await migrate();
      expect(retry.applied.map((e) => e.version)).toEqual([2, 3]);
      expect(await db.tables()).toEqual(expect.arrayContaining(['half_done', 'tags']));
    });

    it('a failing first file leaves the database exactly as it was (not even a ledger table)', async () => {
      await files.write('0001_create_broken.sql', BROKEN);
      const before = await db.snapshot();
      expect((await caught(migrate())).code).toBe('MIGRATION_FAILED');
      expect(await db.snapshot()).toEqual(before);
      expect(await db.tables()).toEqual([]);
    });

    it('a driver that planned before another process applied refuses to run the file twice', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      const migrationFiles = await readMigrationDir(files.dir);
      const late: MigrationDriver = db.driver();
      const latePlan = await new Migrator(late, migrationFiles).status();
      await new Migrator(db.driver(), migrationFiles).apply({ appliedBy: 'a', release: null });
      const error = await caught(
        late.applyFile(latePlan.pending[0]!, { appliedBy: 'b', release: null }),
      );
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain('already applied');
      expect((await db.ledger()).map((e) => e.appliedBy)).toEqual(['a']);
    });

    it('records a file as applied without running it (migrate resolve), and only once', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await migrate();
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      const second = (await readMigrationDir(files.dir))[1] as MigrationFile;
      const driver = db.driver();
      expect(driver.recordFile).toBeTypeOf('function');
      const entry = await driver.recordFile?.(second, { appliedBy: 'ops', release: null });
      expect(entry).toMatchObject({
        version: 2,
        name: 'add_updated_at',
        sha256: sha(UPDATED_AT),
        appliedBy: 'ops',
        durationMs: 0,
        release: null,
      });
      expect((await db.ledger()).map((e) => [e.version, e.durationMs])).toEqual([
        [1, expect.any(Number)],
        [2, 0],
      ]);
      // Its SQL did not run.
      expect(await db.columns('notes')).toEqual(['id', 'title']);
      const again = await caught(
        db.driver().recordFile?.(second, { appliedBy: 'ops', release: null }) ?? Promise.resolve(),
      );
      expect(again.code).toBe('MIGRATION_FAILED');
      expect((await db.ledger()).map((e) => e.appliedBy)).toEqual(['tester', 'ops']);
    });

    it('staging first: checkAppliedOnPrevious compares with the previous environment', async () => {
      const production = await engine.create();
      extra.push(production);
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_add_updated_at.sql', UPDATED_AT);
      await migrate(db); // staging
      await files.write('0003_create_tags.sql', TAGS);

      const all = await readMigrationDir(files.dir);
      const stagingLedger = await db.driver().readLedger();
      const prodPlan = await new Migrator(production.driver(), all).status();
      expect(prodPlan.pending.map((f) => f.version)).toEqual([1, 2, 3]);
      const missing = checkAppliedOnPrevious(prodPlan.pending, stagingLedger);
      expect(missing.map((m) => [m.file.filename, m.reason])).toEqual([
        ['0003_create_tags.sql', 'not-applied'],
      ]);

      // The file staging ran is not the file production would run.
      const edited: MigrationFile[] = all.map((f) =>
        f.version === 2 ? { ...f, sha256: sha('something else') } : f,
      );
      expect(
        checkAppliedOnPrevious(edited, stagingLedger).map((m) => [m.file.version, m.reason]),
      ).toEqual([
        [2, 'checksum-differs'],
        [3, 'not-applied'],
      ]);
      expect(checkAppliedOnPrevious(all.slice(0, 2), stagingLedger)).toEqual([]);

      const error = notOnPreviousError(missing, { environment: 'production', previous: 'staging' });
      expect(error.code).toBe('MIGRATION_NOT_ON_PREVIOUS');
      expect(error.message).toContain('0003_create_tags.sql (not applied on staging)');
      expect(error.hint).toContain('airlock deploy staging');
      expect(await production.tables()).toEqual([]);
    });
  });
}
