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
});
