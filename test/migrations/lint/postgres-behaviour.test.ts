/**
 * What the Postgres rules claim, shown on a real server: files applied by Airlock's own
 * `PostgresMigrationDriver` (one transaction per file, or none with `-- airlock:no-transaction`),
 * each also linted, so a rule and the behaviour it is about cannot drift apart.
 */
import { Client } from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { lintMigrations } from '../../../src/migrations/lint/lint-migrations.ts';
import type { MigrationFile } from '../../../src/migrations/migration-files.ts';
import { Migrator } from '../../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../../src/migrations/postgres-migration-driver.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  type TestDatabase,
} from '../../helpers/postgres.ts';
import { caught } from '../engines.ts';
import { migrations } from './helpers.ts';

const NOTES =
  'CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL);\n';

describeIfPostgres('Postgres lint rules on a real server', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase('airlock_lint');
  });

  afterEach(async () => {
    await db.drop();
  });

  async function apply(files: MigrationFile[]): Promise<void> {
    const driver = new PostgresMigrationDriver(db.url);
    try {
      await new Migrator(driver, files).apply({ appliedBy: 'test', release: null });
    } finally {
      await driver.close();
    }
  }

  async function query(sql: string): Promise<unknown[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  const rules = async (files: MigrationFile[], version: number) =>
    (await lintMigrations(files, { engine: 'postgres', only: [version] })).findings.map(
      (f) => f.rule,
    );

  it('statement-needs-no-transaction: a one-statement CREATE INDEX CONCURRENTLY file fails in Airlock’s transaction', async () => {
    const files = migrations(
      NOTES,
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n',
    );
    const error = await caught(apply(files));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.details.postgresCode).toBe('25001');
    expect(await rules(files, 2)).toEqual(['statement-needs-no-transaction']);
  });

  it('the same statement marked -- airlock:no-transaction applies, and lints clean', async () => {
    const files = migrations(
      NOTES,
      '-- airlock:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n',
    );
    await apply(files);
    expect(
      await query("SELECT indexname FROM pg_indexes WHERE tablename = 'notes' ORDER BY 1"),
    ).toEqual([{ indexname: 'notes_pkey' }, { indexname: 'notes_title_idx' }]);
    expect(await rules(files, 2)).toEqual([]);
  });

  it('adding-required-field: passes on an empty table, fails once it has rows', async () => {
    const files = migrations(NOTES, 'ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL;\n');
    expect(await rules(files, 2)).toEqual(['adding-required-field']);
    await apply(files.slice(0, 1));
    await query("INSERT INTO notes (title) VALUES ('a')");
    const error = await caught(apply(files));
    expect(error.details.postgresCode).toBe('23502'); // not_null_violation
    expect(error.message).toContain('contains null values');
  });

  it('transaction-nesting: Airlock refuses a transactional file with its own BEGIN/COMMIT', async () => {
    const files = migrations(NOTES, 'BEGIN;\nALTER TABLE notes ADD COLUMN body text;\nCOMMIT;\n');
    const error = await caught(apply(files));
    expect(error.message).toContain('controls its own transaction');
    expect(await rules(files, 2)).toEqual(['transaction-nesting', 'transaction-nesting']);
  });

  const findings = async (files: MigrationFile[], version: number) =>
    (await lintMigrations(files, { engine: 'postgres', only: [version] })).findings.map(
      (f) => `${f.rule}@${f.line}:${f.col}`,
    );

  it('create-if-not-exists-then-drop: where the table already exists, the file drops the live one with its rows', async () => {
    const files = migrations(
      'CREATE TABLE IF NOT EXISTS cache (k text PRIMARY KEY, v text);\nDROP TABLE cache;\n',
    );
    await query(
      "CREATE TABLE cache (k text PRIMARY KEY, v text); INSERT INTO cache VALUES ('a', '1')",
    );
    await apply(files);
    expect(await query("SELECT to_regclass('cache') AS t")).toEqual([{ t: null }]);
    expect(await findings(files, 1)).toEqual(['create-if-not-exists-then-drop@2:1']);
  });

  it('create-if-not-exists-then-drop passes without IF NOT EXISTS: the file then fails loudly instead', async () => {
    const files = migrations(
      'CREATE TABLE cache (k text PRIMARY KEY, v text);\nDROP TABLE cache;\n',
    );
    expect(await findings(files, 1)).toEqual([]);
    await query(
      "CREATE TABLE cache (k text PRIMARY KEY, v text); INSERT INTO cache VALUES ('a', '1')",
    );
    const error = await caught(apply(files));
    expect(error.details.postgresCode).toBe('42P07'); // duplicate_table
    expect(await query('SELECT count(*)::int AS n FROM cache')).toEqual([{ n: 1 }]);
  });

  it('DROP SCHEMA … CASCADE and TRUNCATE destroy rows: destructive outside a contract migration', async () => {
    const setup = `${NOTES}CREATE SCHEMA archive;\nCREATE TABLE archive.old_notes (id bigint);\n`;
    const sql = 'TRUNCATE notes;\nDROP SCHEMA archive CASCADE;\n';
    const files = migrations(setup, sql);
    expect(await findings(files, 2)).toEqual([
      'destructive-change-outside-contract@1:1',
      'destructive-change-outside-contract@2:1',
    ]);
    await apply(files.slice(0, 1));
    await query("INSERT INTO notes (title) VALUES ('a'); INSERT INTO archive.old_notes VALUES (1)");
    await apply(files);
    expect(await query('SELECT count(*)::int AS n FROM notes')).toEqual([{ n: 0 }]);
    expect(await query("SELECT to_regclass('archive.old_notes') AS t")).toEqual([{ t: null }]);
    const report = await lintMigrations(files, { engine: 'postgres', only: [2] });
    expect(report.destructive.map((d) => `${d.kind}:${d.table}`)).toEqual([
      'truncate-table:notes',
      'drop-schema:archive',
    ]);
  });

  it('the same in a contract migration passes; DROP SCHEMA without CASCADE is not destructive', async () => {
    const files = migrations(
      NOTES,
      '-- airlock:contract\nTRUNCATE notes;\nCREATE SCHEMA scratch;\nDROP SCHEMA scratch;\n',
    );
    expect(await findings(files, 2)).toEqual([]);
    const report = await lintMigrations(files, { engine: 'postgres', only: [2] });
    expect(report.destructive.map((d) => `${d.kind}:${d.contract}`)).toEqual([
      'truncate-table:true',
    ]);
  });

  it('DROP VIEW, TYPE, FUNCTION and TRIGGER are destructive; dropped and created again, they are replaced', async () => {
    const setup = `${NOTES}CREATE VIEW titles AS SELECT title FROM notes;
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
`;
    const drops =
      'DROP VIEW titles;\nDROP TRIGGER notes_touch ON notes;\nDROP FUNCTION touch();\nDROP TYPE mood;\n';
    const files = migrations(setup, drops);
    expect(await findings(files, 2)).toEqual(
      [1, 2, 3, 4].map((l) => `destructive-change-outside-contract@${l}:1`),
    );
    await apply(files);
    expect(await query("SELECT to_regclass('titles') AS v, to_regtype('mood') AS t")).toEqual([
      { v: null, t: null },
    ]);
    const replaced = migrations(
      setup,
      `DROP VIEW titles;\nCREATE VIEW titles AS SELECT upper(title) AS title FROM notes;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
DROP TRIGGER IF EXISTS notes_touch ON notes;
CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch();
`,
    );
    expect(await findings(replaced, 2)).toEqual([]);
  });

  it('ALTER TABLE ONLY public.notes DROP COLUMN title names the column', async () => {
    const files = migrations(
      `${NOTES}ALTER TABLE notes ADD COLUMN body text;\n`,
      'ALTER TABLE ONLY public.notes DROP COLUMN title;\n',
    );
    const report = await lintMigrations(files, { engine: 'postgres', only: [2] });
    expect(report.findings.map((f) => f.rule)).toEqual(['destructive-change-outside-contract']);
    expect(report.findings[0]!.message).toMatch(
      /^Column notes\.title is dropped outside a contract migration/,
    );
    expect(report.destructive).toMatchObject([
      { kind: 'drop-column', table: 'notes', column: 'title' },
    ]);
    await apply(files);
    expect(
      await query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' ORDER BY ordinal_position",
      ),
    ).toEqual([{ column_name: 'id' }, { column_name: 'body' }]);
  });
});
