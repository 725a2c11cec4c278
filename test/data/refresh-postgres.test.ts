/**
 * `airlock data refresh staging --from production` on real Postgres databases: a scrubbed copy
 * (pg_dump of staging holds none of production's emails, names and phone numbers), deterministic
 * pseudonyms, foreign keys, unique constraints and sequences that still hold, fail-closed
 * coverage, and the refusals (production as a target by name and by claim, schema mismatch). A
 * copy stopped midway leaves staging as it was.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect } from 'vitest';
import { refreshData } from '../../src/data/refresh.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import type { TestProject } from '../helpers/project.ts';
import { migrate, shopTest, sql } from './shop-databases.ts';

const SALT = 'test-salt-0123456789abcdef';
const USERS = 300;
const emailOf = (i: number) => `customer${i}.real@gmail-seeded.test`;
const nameOf = (i: number) => `Realname${i} Seededson`;
const phoneOf = (i: number) => `+1-555-01${String(i).padStart(4, '0')}`;

const SCHEMA = `CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text,
  phone text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id serial PRIMARY KEY,
  user_id int NOT NULL REFERENCES users (id),
  note text,
  total int NOT NULL
);
CREATE TABLE sessions (token text PRIMARY KEY, user_id int REFERENCES users (id));
`;

let saltBefore: string | undefined;
beforeAll(() => {
  saltBefore = process.env.AIRLOCK_DATA_SALT;
  process.env.AIRLOCK_DATA_SALT = SALT;
});
afterAll(() => {
  if (saltBefore === undefined) delete process.env.AIRLOCK_DATA_SALT;
  else process.env.AIRLOCK_DATA_SALT = saltBefore;
});

const { test, databases } = shopTest('airlock_data', SCHEMA, {
  scrub: {
    'users.email': 'email',
    'users.name': 'fullName',
    'users.phone': 'phone',
    'orders.note': 'null',
  },
  keep: ['users.id', 'users.created_at', 'orders.id', 'orders.user_id', 'orders.total'],
  exclude: ['sessions'],
});

async function seedProduction(url: string): Promise<void> {
  await sql(
    url,
    `INSERT INTO users (email, name, phone) SELECT 'customer' || i || '.real@gmail-seeded.test', 'Realname' || i || ' Seededson', '+1-555-01' || lpad(i::text, 4, '0') FROM generate_series(1, ${USERS}) i;
     INSERT INTO orders (user_id, note, total) SELECT 1 + (i % ${USERS}), 'deliver to Realname' || i, i FROM generate_series(1, ${USERS * 2}) i;
     INSERT INTO sessions (token, user_id) VALUES ('prod-session-token-77', 1);`,
  );
}

/** Both databases migrated, production filled, one row of staging's own; the session's context. */
async function migratedAndSeeded(
  project: TestProject,
  dbs: { staging: TestDatabase; production: TestDatabase },
  stagingEmail: string,
): Promise<AirlockContext> {
  const { ctx } = await project.session();
  await migrate(ctx, 'production');
  await migrate(ctx, 'staging');
  await seedProduction(dbs.production.url);
  await sql(dbs.staging.url, `INSERT INTO users (email) VALUES ('${stagingEmail}')`);
  return ctx;
}

describeIfPostgres('data refresh on Postgres', () => {
  test('copies production into staging scrubbed: nothing personal in pg_dump, same pseudonyms twice, keys hold', async ({
    project,
    dbs,
  }) => {
    const ctx = await migratedAndSeeded(project, dbs, 'old-staging-row@x.test');

    const [result] = await refreshData(ctx, { target: 'staging', source: 'production' });
    expect(result?.tables.map((t) => [t.table, t.rows])).toEqual([
      ['users', USERS],
      ['orders', USERS * 2],
    ]);
    const dump = execFileSync('pg_dump', ['--data-only', dbs.staging.url], { encoding: 'utf8' });
    expect(dump).toContain('@example.com');
    let found = 0;
    for (let i = 1; i <= USERS; i++)
      for (const value of [emailOf(i), nameOf(i), phoneOf(i)]) if (dump.includes(value)) found++;
    expect(found).toBe(0);
    expect(dump).not.toContain('gmail-seeded');
    expect(dump).not.toContain('Seededson');
    expect(dump).not.toContain('deliver to');
    expect(dump).not.toContain('prod-session-token-77');
    expect(dump).not.toContain('old-staging-row');

    // Keys and constraints hold; the next insert gets a fresh id.
    const [joined] = await sql<{ n: string }>(
      dbs.staging.url,
      'SELECT count(*) AS n FROM orders o JOIN users u ON u.id = o.user_id',
    );
    expect(Number(joined?.n)).toBe(USERS * 2);
    const [distinct] = await sql<{ n: string }>(
      dbs.staging.url,
      'SELECT count(DISTINCT email) AS n FROM users',
    );
    expect(Number(distinct?.n)).toBe(USERS);
    const [next] = await sql<{ id: number }>(
      dbs.staging.url,
      "INSERT INTO users (email) VALUES ('new@example.com') RETURNING id",
    );
    expect(next?.id).toBe(USERS + 1);

    // Deterministic: a second refresh gives the same pseudonyms.
    const before = await sql<{ id: number; email: string; name: string }>(
      dbs.staging.url,
      'SELECT id, email, name FROM users WHERE id <= 300 ORDER BY id',
    );
    await refreshData(ctx, { target: 'staging', source: 'production' });
    const after = await sql(dbs.staging.url, 'SELECT id, email, name FROM users ORDER BY id');
    expect(after).toEqual(before);

    // The audit log has the row counts.
    const events = (await ctx.store.listAudit({ limit: 100 })).filter(
      (e) => e.action === 'data.refreshed',
    );
    expect(events.length).toBe(2);
    expect(events[0]?.detail).toMatchObject({ source: 'production', rows: { users: USERS } });
  });

  test('refuses: an uncovered column, production as the target, a schema mismatch; a stopped copy keeps staging', async ({
    project,
    dbs,
  }) => {
    const ctx = await migratedAndSeeded(project, dbs, 'kept-staging@x.test');
    const stagingRows = () => sql(dbs.staging.url, 'SELECT email FROM users ORDER BY id');
    const original = await stagingRows();

    await expect(
      refreshData(ctx, { target: 'production', source: 'staging' }),
    ).rejects.toMatchObject({
      code: 'DATA_TARGET_REFUSED',
      message: expect.stringContaining('last environment'),
    });

    // A migration only production ran.
    await sql(dbs.production.url, 'SELECT 1');
    project.commitFiles(
      { 'pgdata/0002_ssn.sql': 'ALTER TABLE users ADD COLUMN ssn text;\n' },
      'a new personal column',
    );
    const { ctx: next } = await project.session();
    await migrate(next, 'production');
    await expect(
      refreshData(next, { target: 'staging', source: 'production' }),
    ).rejects.toMatchObject({
      code: 'DATA_SCHEMA_MISMATCH',
      message: expect.stringContaining('ssn'),
    });
    // Both on it now, but no rule covers the new column: fail closed, naming it.
    await migrate(next, 'staging');
    await expect(
      refreshData(next, { target: 'staging', source: 'production' }),
    ).rejects.toMatchObject({
      code: 'DATA_COLUMN_UNCOVERED',
      message: expect.stringContaining('users.ssn'),
    });
    expect(await stagingRows()).toEqual(original);

    // Stopped midway (the second table): the transaction rolls back, staging is as it was.
    project.editConfig((doc) => {
      doc.setIn(['services', 'notes', 'data', 'scrub', 'users.ssn'], 'null');
    });
    const { ctx: covered } = await project.session();
    const stop = new AbortController();
    await expect(
      refreshData(covered, {
        target: 'staging',
        source: 'production',
        signal: stop.signal,
        onProgress: (_s, table) => {
          if (table === 'orders') stop.abort(new Error('stopped by the test'));
        },
      }),
    ).rejects.toThrow();
    expect(await stagingRows()).toEqual(original);
    const failed = (await covered.store.listAudit({ limit: 100 })).filter(
      (e) => e.action === 'data.refresh-failed',
    );
    expect(failed.length).toBe(1);

    // Staging's URL names a database production claimed (a production database moved, or an
    // alias of its host the URL text cannot show): refused by the claim, before any write.
    const claimed = await createTestDatabase('airlock_data');
    databases.push(claimed);
    const productionDb = covered.config.environments.production!.services.notes!.database!;
    await (await covered.databases.open({ ...productionDb, url: claimed.url })).close();
    await sql(
      claimed.url,
      "CREATE TABLE marker (x text); INSERT INTO marker VALUES ('production data')",
    );
    project.editConfig((doc) => {
      doc.setIn(['environments', 'staging', 'services', 'notes', 'databaseUrl'], claimed.url);
    });
    const { ctx: aliased } = await project.session();
    await expect(
      refreshData(aliased, { target: 'staging', source: 'production' }),
    ).rejects.toMatchObject({
      code: 'DATABASE_CLAIMED',
      message: expect.stringContaining('belongs to environment production'),
    });
    expect(await sql(claimed.url, 'SELECT x FROM marker')).toEqual([{ x: 'production data' }]);
  });
});
