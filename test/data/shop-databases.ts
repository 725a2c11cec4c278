/**
 * The staging-data tests' shared setup: the notes example on two real Postgres databases of its
 * own (staging and production, dropped after the file), a shop schema committed as its
 * migrations, and the service's `data:` rules; plus `sql` and `migrate` on them.
 */
import { Client } from 'pg';
import { afterAll } from 'vitest';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import type { TestProject } from '../helpers/project.ts';

/** Runs one SQL text on `url` with a connection of its own; the rows of its last statement. */
export async function sql<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Applies the notes service's pending migrations to `environment`'s database. */
export async function migrate(ctx: AirlockContext, environment: string): Promise<void> {
  const database = ctx.config.environments[environment]!.services.notes!.database!;
  const driver = await ctx.databases.open(database);
  try {
    await new Migrator(driver, await readMigrationDir(database.migrationsDir)).apply({
      appliedBy: 'test',
      release: null,
    });
  } finally {
    await driver.close();
  }
}

/** Commits `schema` as the notes service's Postgres migrations and points both environments at their databases. */
export function configureShop(
  project: TestProject,
  schema: string,
  data: Record<string, unknown>,
  urls: { staging: string; production: string },
): void {
  project.commitFiles({ 'pgdata/0001_shop.sql': schema }, 'a shop schema');
  project.editConfig((doc) => {
    doc.setIn(['services', 'notes', 'database'], { engine: 'postgres', migrations: 'pgdata' });
    doc.setIn(['environments', 'staging', 'services', 'notes', 'databaseUrl'], urls.staging);
    doc.setIn(['environments', 'production', 'services', 'notes', 'databaseUrl'], urls.production);
    doc.setIn(['services', 'notes', 'data'], data);
  });
}

/**
 * `test` has `{ project, dbs }`: the example project configured by `configureShop` on two new
 * databases named after `prefix`. `databases` are dropped after the file (add more to it).
 */
export function shopTest(prefix: string, schema: string, data: Record<string, unknown>) {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of databases) await d.drop();
  });
  const test = projectTestWith().extend('dbs', async ({ project }) => {
    const staging = await createTestDatabase(prefix);
    const production = await createTestDatabase(prefix);
    databases.push(staging, production);
    configureShop(project, schema, data, { staging: staging.url, production: production.url });
    return { staging, production };
  });
  return { test, databases };
}
