/**
 * `dryRunMigrations` on real SQLite files and real Postgres: a failing migration is caught on
 * the scratch copy while the environment's schema and ledger stay exactly as they were; a
 * passing dry run reports what would apply; nothing is left behind (scratch folders, scratch
 * databases, sessions) and no password shows.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { dryRunMigrations } from '../../src/migrations/dry-run.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { caught, engines, type MigrationDir, migrationDir } from './engines.ts';
import {
  type EnvironmentDatabase,
  environmentDatabase,
  FAKE_PASSWORD,
  leakedScratchDatabases,
  withFakePassword,
} from './scratch-helpers.ts';

const NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const SEED = "INSERT INTO notes (id, title) VALUES (1, 'a'), (2, 'b');\n";
const PINNED = 'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n';
const TAGS = 'CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT);\n';
/** Fails on both engines: the table does not exist in the copied schema. */
const MISSING_TABLE = 'ALTER TABLE notez ADD COLUMN archived INTEGER;\n';

for (const engine of engines) {
  engine.describe(`dryRunMigrations on ${engine.name}`, () => {
    let files: MigrationDir;
    let db: EnvironmentDatabase;
    let tmp: string;

    /** `airlock migrate apply` for real, on the environment. */
    async function migrate() {
      const { url } = db.location;
      const driver =
        engine.name === 'sqlite'
          ? new SqliteMigrationDriver(url)
          : new PostgresMigrationDriver(url);
      try {
        return await new Migrator(driver, await readMigrationDir(files.dir)).apply({
          appliedBy: 'tester',
          release: 'r1',
        });
      } finally {
        await driver.close();
      }
    }

    beforeEach(async () => {
      files = await migrationDir();
      db = await environmentDatabase(engine.name);
      tmp = await mkdtemp(join(tmpdir(), 'airlock-dry-run-test-'));
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_seed.sql', SEED);
      await migrate();
    });

    afterEach(async () => {
      try {
        // nothing left behind: no scratch folder, no scratch database
        expect(await readdir(tmp)).toEqual([]);
        if (engine.name === 'postgres') expect(await leakedScratchDatabases()).toEqual([]);
      } finally {
        await rm(tmp, { recursive: true, force: true });
        await db.dispose();
        await files.remove();
      }
    });

    it('catches a failing migration and leaves the environment untouched', async () => {
      await files.write('0003_add_pinned.sql', PINNED);
      await files.write('0004_archive.sql', MISSING_TABLE);
      await files.write('0005_create_tags.sql', TAGS);
      const before = await db.snapshot();
      const database = db.location;
      const result = await dryRunMigrations(database, await readMigrationDir(files.dir), {
        tmpDir: tmp,
      });
      expect(result.pending).toEqual([
        '0003_add_pinned.sql',
        '0004_archive.sql',
        '0005_create_tags.sql',
      ]);
      expect(result.applied.map((e) => e.version)).toEqual([3]);
      expect(result.failed).toMatchObject({
        file: join(files.dir, '0004_archive.sql'),
        code: 'MIGRATION_FAILED',
      });
      expect(result.failed?.message).toMatch(/0004_archive\.sql failed.*notez/);
      expect(result.durationMs).toBeGreaterThan(0);
      expect(await db.snapshot()).toEqual(before);
    });

    it('catches a migration the copied schema refuses (a second primary key)', async () => {
      await files.write('0003_add_pk.sql', 'ALTER TABLE notes ADD PRIMARY KEY (title);\n');
      const before = await db.snapshot();
      const result = await dryRunMigrations(db.location, await readMigrationDir(files.dir), {
        tmpDir: tmp,
      });
      expect(result.failed?.file).toBe(join(files.dir, '0003_add_pk.sql'));
      expect(result.failed?.code).toBe('MIGRATION_FAILED');
      expect(result.applied).toEqual([]);
      expect(await db.snapshot()).toEqual(before);
    });

    it('reports what a passing dry run would apply, and applying for real then does that', async () => {
      await files.write('0003_add_pinned.sql', PINNED);
      await files.write('0004_create_tags.sql', TAGS);
      const before = await db.snapshot();
      const migrationFiles = await readMigrationDir(files.dir);
      const result = await dryRunMigrations(db.location, migrationFiles, {
        tmpDir: tmp,
        appliedBy: 'dry-runner',
        release: 'r2',
      });
      expect(result.failed).toBeNull();
      expect(result.pending).toEqual(['0003_add_pinned.sql', '0004_create_tags.sql']);
      expect(result.applied).toMatchObject([
        { version: 3, name: 'add_pinned', appliedBy: 'dry-runner', release: 'r2' },
        { version: 4, name: 'create_tags', appliedBy: 'dry-runner', release: 'r2' },
      ]);
      expect(await db.snapshot()).toEqual(before);
      const real = await migrate();
      expect(real.applied.map((e) => e.version)).toEqual([3, 4]);
    });

    it('reports nothing pending as a passing dry run with nothing applied', async () => {
      const result = await dryRunMigrations(db.location, await readMigrationDir(files.dir), {
        tmpDir: tmp,
      });
      expect(result).toMatchObject({ pending: [], applied: [], failed: null });
    });

    it('reports an applied file edited since as the checksum problem apply would stop on', async () => {
      await files.write('0002_seed.sql', `${SEED}-- edited\n`);
      const result = await dryRunMigrations(db.location, await readMigrationDir(files.dir), {
        tmpDir: tmp,
      });
      expect(result.failed).toMatchObject({
        code: 'MIGRATION_CHECKSUM_MISMATCH',
        file: join(files.dir, '0002_seed.sql'),
      });
    });

    if (engine.name === 'sqlite') {
      it('copies a WAL database with its latest commits, data included', async () => {
        // A row committed in WAL mode is (until a checkpoint) only in the -wal file.
        const path = db.location.url;
        const writer = new DatabaseSync(path);
        try {
          writer.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0');
          writer.exec("INSERT INTO notes (id, title) VALUES (3, 'a')");
          const mainFile = await readFile(path);
          // a unique index over duplicate titles fails on the copy, because the copy has the rows
          await files.write(
            '0003_unique_title.sql',
            'CREATE UNIQUE INDEX notes_title ON notes (title);\n',
          );
          const result = await dryRunMigrations(
            { engine: 'sqlite', url: `file://${path}` },
            await readMigrationDir(files.dir),
            { tmpDir: tmp },
          );
          expect(result.failed?.message).toMatch(/UNIQUE constraint failed/);
          expect(await readFile(path)).toEqual(mainFile);
        } finally {
          writer.close();
        }
      });

      it('dry-runs a database file that does not exist yet without creating it', async () => {
        const missing = join(tmp, 'nowhere', 'app.db');
        const result = await dryRunMigrations(
          { engine: 'sqlite', url: missing },
          await readMigrationDir(files.dir),
          { tmpDir: tmp },
        );
        expect(result).toMatchObject({
          pending: ['0001_create_notes.sql', '0002_seed.sql'],
          failed: null,
        });
        expect(await readdir(tmp)).toEqual([]);
      });
    }

    if (engine.name === 'postgres') {
      it('never shows the password, and uses and drops a scratch database', async () => {
        await files.write('0003_archive.sql', MISSING_TABLE);
        const database = db.location;
        const result = await dryRunMigrations(
          { engine: 'postgres', url: withFakePassword(database.url) },
          await readMigrationDir(files.dir),
        );
        expect(result.scratch).toMatch(
          /^postgres:\/\/postgres:\*\*\*@.*\/airlock_scratch_\d+_[0-9a-f]{8}$/,
        );
        expect(JSON.stringify(result)).not.toContain(FAKE_PASSWORD);
        expect(result.failed?.code).toBe('MIGRATION_FAILED');
      });

      it('fails clearly, naming postgresql-client, when pg_dump is missing', async () => {
        await files.write('0003_add_pinned.sql', PINNED);
        const database = db.location;
        const error = await caught(
          dryRunMigrations(
            { engine: 'postgres', url: withFakePassword(database.url) },
            await readMigrationDir(files.dir),
            { pgDump: '/nonexistent/pg_dump' },
          ),
        );
        expect(error.code).toBe('MIGRATION_SCRATCH_FAILED');
        expect(error.message).toContain('/nonexistent/pg_dump was not found on PATH');
        expect(error.hint).toContain('postgresql-client');
        expect(JSON.stringify(error.toJSON())).not.toContain(FAKE_PASSWORD);
      });

      it('copies only the schemas asked for', async () => {
        const database = db.location;
        await files.write(
          '0003_other_schema.sql',
          'CREATE SCHEMA reports;\nCREATE TABLE reports.daily (day date);\n',
        );
        await migrate();
        await files.write('0004_use_it.sql', 'ALTER TABLE reports.daily ADD COLUMN n integer;\n');
        const all = await dryRunMigrations(database, await readMigrationDir(files.dir));
        expect(all.failed).toBeNull();
        const publicOnly = await dryRunMigrations(database, await readMigrationDir(files.dir), {
          schemas: ['public'],
        });
        expect(publicOnly.failed?.message).toMatch(/schema "reports" does not exist/);
      });
    }
  });
}
