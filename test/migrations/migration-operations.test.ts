/**
 * The operations behind `airlock migrate status|apply --dry-run|create|hash|lint|drift` and the
 * local D1 source of `adopt`, on real SQLite files: each returns the typed result the CLI
 * renders (test/cli/migrate-commands.test.ts covers the rendering).
 */
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { createMigration } from '../../src/migrations/create-migration.ts';
import { dryRunPending } from '../../src/migrations/dry-run-pending.ts';
import type { EnvironmentDatabase } from '../../src/migrations/environment-database.ts';
import { environmentDrift, mergeDrift } from '../../src/migrations/environment-drift.ts';
import { hashMigrations } from '../../src/migrations/hash-migrations.ts';
import { readSumFile, writeSumFile } from '../../src/migrations/integrity.ts';
import { lintPendingMigrations } from '../../src/migrations/lint-pending.ts';
import { localD1Source } from '../../src/migrations/local-d1-source.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { migrationStatus } from '../../src/migrations/migration-status.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { verifiedMigrationFiles } from '../../src/migrations/verified-migration-files.ts';
import { caught, type MigrationDir, migrationDir } from './engines.ts';

let files: MigrationDir;
/** staging's and production's databases: SQLite files beside the migrations folder. */
let staging: EnvironmentDatabase;
let production: EnvironmentDatabase;
const fileOf = (db: EnvironmentDatabase) => join(files.dir, '..', `${db.environment}.db`);

function sqliteEnvironment(environment: string, root: string): EnvironmentDatabase {
  const file = join(root, `${environment}.db`);
  return {
    environment,
    async readLedger() {
      const driver = new SqliteMigrationDriver(file);
      try {
        return await driver.readLedger();
      } finally {
        await driver.close();
      }
    },
    location: async () => ({ engine: 'sqlite', url: file }),
  };
}

/** Applies the folder's migrations up to `version` to `db`. */
async function applyUpTo(db: EnvironmentDatabase, version: number): Promise<void> {
  const driver = new SqliteMigrationDriver(fileOf(db));
  try {
    const all = await readMigrationDir(files.dir);
    await new Migrator(
      driver,
      all.filter((f) => f.version <= version),
    ).apply({ appliedBy: 'tester', release: null });
  } finally {
    await driver.close();
  }
}

beforeEach(async () => {
  files = await migrationDir();
  await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
  await files.write('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN title TEXT;\n');
  await writeSumFile(files.dir);
  staging = sqliteEnvironment('staging', join(files.dir, '..'));
  production = sqliteEnvironment('production', join(files.dir, '..'));
});

afterEach(async () => {
  await files.remove();
});

describe('migrationStatus', () => {
  it('lists applied then pending files, and pending ones the previous environment lacks', async () => {
    await applyUpTo(staging, 1);
    await applyUpTo(production, 1);
    const status = await migrationStatus(
      await verifiedMigrationFiles(files.dir),
      production,
      staging,
    );
    expect(status.rows.map((r) => [r.version, r.state, r.notOnPrevious])).toEqual([
      [1, 'applied', null],
      [2, 'pending', 'not-applied'],
    ]);
    expect(status.pending.map((f) => f.filename)).toEqual(['0002_add_title.sql']);
    expect(status.problems).toEqual([]);
  });

  it('reports an applied file edited since as `edited`, with its problem', async () => {
    await applyUpTo(staging, 2);
    await files.write('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN body TEXT;\n');
    const status = await migrationStatus(await readMigrationDir(files.dir), staging, null);
    expect(status.rows.map((r) => r.state)).toEqual(['applied', 'edited']);
    expect(status.problems.map((p) => p.code)).toEqual(['MIGRATION_CHECKSUM_MISMATCH']);
  });
});

describe('dryRunPending', () => {
  it('replays on a copy, and says apply would refuse files staging has not run', async () => {
    await applyUpTo(staging, 1);
    const result = await dryRunPending(
      await verifiedMigrationFiles(files.dir),
      production,
      staging,
      { appliedBy: 'tester', release: null },
    );
    expect(result.applied.map((e) => e.version)).toEqual([1, 2]);
    expect(result.failed).toBeNull();
    expect(result.notOnPrevious.map((n) => n.file.version)).toEqual([2]);
    expect(result.refusal?.code).toBe('MIGRATION_NOT_ON_PREVIOUS');
    expect(await production.readLedger()).toEqual([]); // the environment is untouched
  });
});

describe('createMigration and hashMigrations', () => {
  it('create numbers the next file and records it in airlock.sum', async () => {
    const { file, sum } = await createMigration(files.dir, 'Add tags');
    expect(file).toBe(join(files.dir, '0003_add_tags.sql'));
    expect((await readSumFile(files.dir))?.files.map((f) => f.filename)).toContain(
      '0003_add_tags.sql',
    );
    expect(sum).toBe(join(files.dir, 'airlock.sum'));
  });

  it('hash says what changed, names environments that ran the old content, skips unreadable ones', async () => {
    await applyUpTo(staging, 2);
    await files.write('0002_add_title.sql', 'ALTER TABLE notes ADD COLUMN body TEXT;\n');
    await files.write('0003_add_tags.sql', 'CREATE TABLE tags (id INTEGER PRIMARY KEY);\n');
    const unreachable: EnvironmentDatabase = {
      environment: 'production',
      readLedger: () => Promise.reject(new UserError('MIGRATION_DATABASE_UNREACHABLE', 'down')),
      location: () => Promise.reject(new Error('not used')),
    };
    const update = await hashMigrations(files.dir, [staging, unreachable]);
    expect(update).toMatchObject({
      files: 3,
      added: ['0003_add_tags.sql'],
      changed: ['0002_add_title.sql'],
      removed: [],
      replaced: null,
      appliedElsewhere: [{ file: '0002_add_title.sql', environment: 'staging' }],
    });
    expect(await verifiedMigrationFiles(files.dir)).toHaveLength(3);
  });

  it('hash rewrites a sum file with merge conflict markers and says so', async () => {
    await writeFile(join(files.dir, 'airlock.sum'), '<<<<<<< HEAD\nv1 abc\n=======\n>>>>>>> b\n');
    const update = await hashMigrations(files.dir, []);
    expect(update.replaced).toBe('merge-conflict');
    expect(await verifiedMigrationFiles(files.dir)).toHaveLength(2);
  });
});

describe('lintPendingMigrations', () => {
  it('lints what the environment has not run, nothing when it ran everything, or all', async () => {
    await files.write('0003_drop_title.sql', 'ALTER TABLE notes DROP COLUMN title;\n');
    const all = await readMigrationDir(files.dir);
    await applyUpTo(staging, 2);
    const pending = await lintPendingMigrations(all, 'sqlite', staging);
    expect(pending.only).toEqual([3]);
    expect(pending.report?.files).toBe(1);
    expect(pending.report?.errors).toBeGreaterThan(0);

    const none = await lintPendingMigrations(all.slice(0, 2), 'sqlite', staging);
    expect(none).toEqual({ only: [], report: null });

    const every = await lintPendingMigrations(all, 'sqlite', null);
    expect(every.only).toBeNull();
    expect(every.report?.files).toBe(3);
  });

  it('explains an unreachable ledger and offers --all', async () => {
    const down: EnvironmentDatabase = {
      environment: 'staging',
      readLedger: () =>
        Promise.reject(new UserError('MIGRATION_DATABASE_UNREACHABLE', 'cannot connect')),
      location: () => Promise.reject(new Error('not used')),
    };
    const error = await caught(
      lintPendingMigrations(await readMigrationDir(files.dir), 'sqlite', down),
    );
    expect(error.code).toBe('MIGRATION_DATABASE_UNREACHABLE');
    expect(error.hint).toContain('airlock migrate lint --all');
  });
});

describe('environmentDrift', () => {
  it('tells a change made outside migrations from a pending migration', async () => {
    await applyUpTo(staging, 2);
    await applyUpTo(production, 1);
    const migrations = await verifiedMigrationFiles(files.dir);
    const clean = await environmentDrift(staging, production, migrations);
    expect(clean.drifted).toBe(false);
    expect(clean.explainedByPending.map((p) => p.pendingOn)).toEqual(['production']);

    const db = new DatabaseSync(fileOf(production));
    db.exec('CREATE TABLE manual (id INTEGER);');
    db.close();
    const drifted = await environmentDrift(staging, production, migrations);
    expect(drifted.drifted).toBe(true);
    expect(drifted.findings.map((f) => f.environment)).toEqual(['production']);

    const merged = mergeDrift([clean, drifted]);
    expect(merged.drifted).toBe(true);
    expect(merged.findings).toEqual(drifted.findings);
    expect(merged.explainedByPending).toHaveLength(
      clean.explainedByPending.length + drifted.explainedByPending.length,
    );
  });
});

describe('localD1Source', () => {
  it("takes the given file, and refuses one whose schema is not the environment's", async () => {
    await applyUpTo(staging, 2);
    const own = fileOf(staging);
    const copy = join(files.dir, '..', 'd1-copy.sqlite');
    await copyFile(own, copy);
    const options = { projectDir: files.dir, own, environment: 'staging', cwd: files.dir };
    expect(await localD1Source({ ...options, given: copy })).toBe(copy);

    await applyUpTo(production, 1);
    const error = await caught(localD1Source({ ...options, given: fileOf(production) }));
    expect(error.code).toBe('MIGRATION_ADOPT_MISMATCH');
    expect(error.message).toContain('Nothing was written.');
  });

  it('without --d1-database, looks for wrangler’s database under the project', async () => {
    const error = await caught(
      localD1Source({
        projectDir: files.dir,
        own: fileOf(staging),
        given: undefined,
        environment: 'staging',
        cwd: files.dir,
      }),
    );
    expect(error.code).toBe('MIGRATION_ADOPT_SOURCE_NOT_FOUND');
  });
});
