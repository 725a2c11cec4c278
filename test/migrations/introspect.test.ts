/**
 * `describeSchema`, `compareSchemas` and `detectDrift` on real SQLite files and real Postgres:
 * equal schemas compare equal, a difference reads as a sentence, a manual `ALTER TABLE` on
 * staging is drift, and two environments that differ only by a pending migration are not.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeSchema } from '../../src/migrations/introspect.ts';
import type { DatabaseLocation, MigrationDriver } from '../../src/migrations/migration-driver.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { replaySchema } from '../../src/migrations/migration-replay.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { compareSchemas } from '../../src/migrations/schema-compare.ts';
import {
  detectDrift,
  driftError,
  type EnvironmentSchema,
} from '../../src/migrations/schema-drift.ts';
import type { SchemaSnapshot } from '../../src/migrations/schema-snapshot.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import { TEST_POSTGRES_URL } from '../helpers/postgres.ts';
import { caught, engines, type MigrationDir, migrationDir } from './engines.ts';
import {
  type EnvironmentDatabase,
  environmentDatabase,
  leakedScratchDatabases,
} from './scratch-helpers.ts';

// SQL both engines accept.
const NOTES = `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);
CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'draft'
);
CREATE INDEX notes_author_idx ON notes (author_id);
CREATE INDEX notes_drafts_idx ON notes (title) WHERE status = 'draft';
`;
const TAGS = 'CREATE TABLE tags (note_id INTEGER NOT NULL REFERENCES notes(id), tag TEXT);\n';
const ARCHIVED = 'ALTER TABLE notes ADD COLUMN archived INTEGER;\n';

function driverFor(location: DatabaseLocation): MigrationDriver {
  return location.engine === 'sqlite'
    ? new SqliteMigrationDriver(location.url)
    : new PostgresMigrationDriver(location.url);
}

/** `airlock migrate apply` of the files up to `upTo` on an environment; returns its ledger. */
async function migrate(location: DatabaseLocation, dir: string, upTo: number) {
  const driver = driverFor(location);
  try {
    const files = (await readMigrationDir(dir)).filter((f) => f.version <= upTo);
    await new Migrator(driver, files).apply({ appliedBy: 'tester', release: null });
    return await driver.readLedger();
  } finally {
    await driver.close();
  }
}

for (const engine of engines) {
  engine.describe(`introspection and drift on ${engine.name}`, () => {
    let files: MigrationDir;
    let staging: EnvironmentDatabase;
    let production: EnvironmentDatabase;
    let tmp: string;

    beforeEach(async () => {
      files = await migrationDir();
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_create_tags.sql', TAGS);
      await files.write('0003_add_archived.sql', ARCHIVED);
      staging = await environmentDatabase(engine.name);
      production = await environmentDatabase(engine.name);
      tmp = await mkdtemp(join(tmpdir(), 'airlock-drift-test-'));
    });

    afterEach(async () => {
      try {
        expect(await readdir(tmp)).toEqual([]);
        if (engine.name === 'postgres') expect(await leakedScratchDatabases()).toEqual([]);
      } finally {
        await rm(tmp, { recursive: true, force: true });
        await staging.dispose();
        await production.dispose();
        await files.remove();
      }
    });

    const replayOptions = () => ({ postgresUrl: TEST_POSTGRES_URL, tmpDir: tmp });

    async function environment(
      name: string,
      db: EnvironmentDatabase,
      upTo: number,
    ): Promise<EnvironmentSchema> {
      const ledger = await migrate(db.location, files.dir, upTo);
      return { name, schema: await describeSchema(db.location), ledger };
    }

    it('describes tables, columns, keys, indexes and foreign keys, without the ledger', async () => {
      await migrate(staging.location, files.dir, 2);
      const schema = await describeSchema(staging.location);
      expect(schema.engine).toBe(engine.name);
      expect(schema.tables.map((t) => t.name)).toEqual(['notes', 'tags', 'users']);
      const notes = schema.tables.find((t) => t.name === 'notes')!;
      expect(notes.columns).toEqual([
        { name: 'id', type: 'integer', nullable: engine.name === 'sqlite', default: null },
        { name: 'author_id', type: 'integer', nullable: false, default: null },
        { name: 'title', type: 'text', nullable: false, default: null },
        {
          name: 'status',
          type: 'text',
          nullable: false,
          default: engine.name === 'sqlite' ? "'draft'" : "'draft'::text",
        },
      ]);
      expect(notes.primaryKey).toEqual(['id']);
      expect(notes.indexes).toEqual([
        { name: 'notes_author_idx', unique: false, columns: ['author_id'], where: null },
        {
          name: 'notes_drafts_idx',
          unique: false,
          columns: ['title'],
          where: engine.name === 'sqlite' ? "status = 'draft'" : "status = 'draft'::text",
        },
      ]);
      expect(notes.foreignKeys).toEqual([
        {
          columns: ['author_id'],
          references: 'users',
          referencedColumns: ['id'],
          onUpdate: 'no action',
          onDelete: 'cascade',
        },
      ]);
      const users = schema.tables.find((t) => t.name === 'users')!;
      // a UNIQUE constraint's index is named as Postgres names it, on both engines
      expect(users.indexes).toEqual([
        { name: 'users_email_key', unique: true, columns: ['email'], where: null },
      ]);
    });

    it("leaves out other migrators' ledger tables (Kysely, Knex, Sequelize, MikroORM)", async () => {
      await files.write(
        '0004_other_migrators.sql',
        [
          'kysely_migration',
          'kysely_migration_lock',
          'knex_migrations',
          'knex_migrations_lock',
          '"SequelizeMeta"',
          'mikro_orm_migrations',
        ]
          .map((t) => `CREATE TABLE ${t} (name TEXT PRIMARY KEY);\n`)
          .join(''),
      );
      await migrate(staging.location, files.dir, 4);
      const schema = await describeSchema(staging.location);
      expect(schema.tables.map((t) => t.name)).toEqual(['notes', 'tags', 'users']);
    });

    it('gives equal snapshots for equal schemas, and sentences for differences', async () => {
      await migrate(staging.location, files.dir, 3);
      await migrate(production.location, files.dir, 2);
      const a = await describeSchema(staging.location);
      const b = await describeSchema(production.location);
      expect(compareSchemas(a, a)).toEqual([]);
      const replayed = await replaySchema(
        engine.name,
        (await readMigrationDir(files.dir)).filter((f) => f.version <= 3),
        replayOptions(),
      );
      expect(replayed).toEqual(a);
      const differences = compareSchemas(a, b, { a: 'staging', b: 'production' });
      expect(differences).toEqual([
        {
          object: 'column',
          name: 'notes.archived',
          table: 'notes',
          change: 'only-in-a',
          a: 'integer',
          b: null,
          message: 'staging has column notes.archived (integer) that production lacks',
        },
      ]);
      await production.exec('DROP INDEX notes_author_idx');
      await production.exec('CREATE TABLE audit (id INTEGER)');
      const more = compareSchemas(a, await describeSchema(production.location), {
        a: 'staging',
        b: 'production',
      });
      expect(more.map((d) => d.message)).toEqual([
        'production has table audit that staging lacks',
        'staging has column notes.archived (integer) that production lacks',
        'staging has index notes_author_idx (on notes (author_id)) that production lacks',
      ]);
    });

    it('two environments that differ only by a pending migration have not drifted', async () => {
      const result = await detectDrift(
        {
          a: await environment('staging', staging, 3),
          b: await environment('production', production, 2),
          files: await readMigrationDir(files.dir),
        },
        replayOptions(),
      );
      expect(result.drifted).toBe(false);
      expect(result.findings).toEqual([]);
      expect(result.problems).toEqual([]);
      expect(result.explainedByPending).toEqual([
        {
          difference: expect.objectContaining({
            object: 'column',
            name: 'notes.archived',
            message:
              'staging has column notes.archived (integer) that production lacks: pending on production (0003_add_archived.sql)',
          }),
          pendingOn: 'production',
          files: ['0003_add_archived.sql'],
        },
      ]);
    });

    it('reports a manual ALTER TABLE on staging as drift', async () => {
      await migrate(staging.location, files.dir, 2);
      await staging.exec('ALTER TABLE notes ADD COLUMN hotfix INTEGER');
      const result = await detectDrift(
        {
          a: await environment('staging', staging, 2),
          b: await environment('production', production, 2),
          files: await readMigrationDir(files.dir),
        },
        replayOptions(),
      );
      expect(result.drifted).toBe(true);
      expect(result.explainedByPending).toEqual([]);
      expect(result.findings).toEqual([
        {
          environment: 'staging',
          difference: expect.objectContaining({
            object: 'column',
            name: 'notes.hotfix',
            change: 'only-in-a',
            message:
              'staging has column notes.hotfix (integer) that none of its applied migrations creates: it was changed outside migrations',
          }),
        },
      ]);
      const error = driftError(result);
      expect(error.code).toBe('MIGRATION_DRIFT');
      expect(error.message).toContain('notes.hotfix');
      expect(error.hint).toContain('airlock migrate create');
      expect(driftError(result, 'drizzle').hint).toContain('created with drizzle-kit');
    });

    it('tells drift apart from a pending migration on the same table', async () => {
      // staging is ahead by 0003 (explained); production had its index dropped by hand (drift)
      await migrate(production.location, files.dir, 2);
      await production.exec('DROP INDEX notes_author_idx');
      const result = await detectDrift(
        {
          a: await environment('staging', staging, 3),
          b: await environment('production', production, 2),
          files: await readMigrationDir(files.dir),
        },
        replayOptions(),
      );
      expect(result.drifted).toBe(true);
      expect(result.findings.map((f) => `${f.environment}: ${f.difference.message}`)).toEqual([
        'production: production lacks index notes_author_idx (on notes (author_id)) that its applied migrations create: it was dropped or changed outside migrations',
      ]);
      expect(result.explainedByPending.map((p) => p.difference.name)).toEqual(['notes.archived']);
    });

    it('reports a column changed by hand as drift, naming both definitions', async () => {
      await migrate(staging.location, files.dir, 1);
      await migrate(production.location, files.dir, 1);
      if (engine.name === 'postgres') {
        await production.exec('ALTER TABLE notes ALTER COLUMN title DROP NOT NULL');
      } else {
        // SQLite cannot alter a column: the usual rebuild, done by hand
        await production.exec(`PRAGMA foreign_keys = OFF;
          CREATE TABLE notes_new (id INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title TEXT, status TEXT NOT NULL DEFAULT 'draft');
          INSERT INTO notes_new SELECT * FROM notes; DROP TABLE notes;
          ALTER TABLE notes_new RENAME TO notes;
          CREATE INDEX notes_author_idx ON notes (author_id);
          CREATE INDEX notes_drafts_idx ON notes (title) WHERE status = 'draft';`);
      }
      const result = await detectDrift(
        {
          a: await environment('staging', staging, 1),
          b: await environment('production', production, 1),
          files: await readMigrationDir(files.dir),
        },
        replayOptions(),
      );
      expect(result.findings.map((f) => f.difference.message)).toEqual([
        'column notes.title on production is text, but its applied migrations make it text not null: it was changed outside migrations',
      ]);
    });

    it('reports a ledger whose file changed as a problem, not as drift', async () => {
      const a = await environment('staging', staging, 3);
      const b = await environment('production', production, 3);
      await files.write('0003_add_archived.sql', `${ARCHIVED}-- edited\n`);
      const result = await detectDrift(
        { a, b, files: await readMigrationDir(files.dir) },
        replayOptions(),
      );
      expect(result.drifted).toBe(false);
      expect(result.problems.map((p) => `${p.environment} ${p.code} ${p.version}`)).toEqual([
        'staging MIGRATION_CHECKSUM_MISMATCH 3',
        'production MIGRATION_CHECKSUM_MISMATCH 3',
      ]);
    });

    it('names the file when an applied migration cannot be replayed', async () => {
      await files.write(
        '0004_needs_manual_table.sql',
        'ALTER TABLE manual ADD COLUMN x INTEGER;\n',
      );
      await staging.exec('CREATE TABLE manual (id INTEGER)');
      const error = await caught(
        detectDrift(
          {
            a: await environment('staging', staging, 4),
            b: await environment('production', production, 3),
            files: await readMigrationDir(files.dir),
          },
          replayOptions(),
        ),
      );
      expect(error.code).toBe('MIGRATION_SCRATCH_FAILED');
      expect(error.message).toMatch(/^Replaying 0004_needs_manual_table\.sql on an empty scratch/);
    });
  });
}

describe('describeSchema on SQLite', () => {
  it('reads a database file that does not exist as empty, without creating it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-describe-'));
    try {
      const empty: SchemaSnapshot = { engine: 'sqlite', schema: null, tables: [] };
      expect(await describeSchema({ engine: 'sqlite', url: join(dir, 'app.db') })).toEqual(empty);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
