/**
 * Co-existence with drizzle-kit 1.x's ledger, on real SQLite and Postgres. drizzle-kit 1.x (the
 * `<timestamp>_<name>/migration.sql` folders) records `name` and `applied_at` in
 * `__drizzle_migrations` and runs every folder whose name has no row (drizzle-orm 1.0's
 * `getMigrationsToRun`), so a row Airlock writes without the name would make it run the file
 * again. The tables below are created with drizzle-orm 1.0's own DDL (its `migrate()`); the
 * pinned drizzle-kit (0.31, the journal layout) is run by layout-drizzle-kit-*.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readToolLedger } from '../../src/migrations/tool-ledger-read.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { adoptFromTool, airlockApply } from './tool-round-trip.ts';

let dir: string;
const databases: TestDatabase[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-tool-ledgers-'));
});
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
  await rm(dir, { recursive: true, force: true });
});

const layout = { layout: 'drizzle' } as const;
const FIRST = '20240101120000_init';
const SECOND = '20240301093000_add_posts';

/** drizzle-kit 1.x's folders: `FIRST`, and `SECOND` when `both`. */
async function writeFolders(both: boolean): Promise<string> {
  const folder = path.join(dir, 'drizzle');
  const write = async (name: string, sql: string) => {
    await mkdir(path.join(folder, name), { recursive: true });
    await writeFile(path.join(folder, name, 'migration.sql'), sql);
  };
  await write(
    FIRST,
    'CREATE TABLE "users" (\n\t"id" integer PRIMARY KEY NOT NULL,\n\t"email" text NOT NULL\n);\n',
  );
  if (both) {
    await write(
      SECOND,
      'CREATE TABLE "posts" (\n\t"id" integer PRIMARY KEY NOT NULL,\n\t"title" text NOT NULL\n);\n',
    );
  }
  return folder;
}

/** What drizzle-kit 1.x would run: the folders without a row of that name. */
function pendingForDrizzleV1(names: Array<string | null>, folders: string[]): string[] {
  const recorded = new Set(names.filter((n) => n !== null));
  return folders.filter((f) => !recorded.has(f));
}

it('SQLite: a fresh database gets drizzle-kit 1.x’s table, each row named after its folder', async () => {
  const folder = await writeFolders(true);
  const url = path.join(dir, 'a.sqlite');
  expect(await airlockApply({ engine: 'sqlite', url }, folder, layout, 'drizzle')).toEqual([
    'init',
    'add_posts',
  ]);
  const db = new DatabaseSync(url);
  try {
    const columns = db.prepare("SELECT name FROM pragma_table_info('__drizzle_migrations')").all();
    expect(columns.map((c) => c.name)).toEqual(['id', 'hash', 'created_at', 'name', 'applied_at']);
    const rows = db
      .prepare('SELECT name, created_at, applied_at FROM __drizzle_migrations ORDER BY id')
      .all();
    expect(rows.map((r) => [r.name, Number(r.created_at)])).toEqual([
      [FIRST, Date.UTC(2024, 0, 1, 12, 0, 0)],
      [SECOND, Date.UTC(2024, 2, 1, 9, 30, 0)],
    ]);
    expect(rows.every((r) => typeof r.applied_at === 'string')).toBe(true);
    expect(
      pendingForDrizzleV1(
        rows.map((r) => r.name as string | null),
        [FIRST, SECOND],
      ),
    ).toEqual([]);
  } finally {
    db.close();
  }
});

it('SQLite: adopting a database drizzle-kit 1.x migrated, then applying the next folder, names its row', async () => {
  const url = path.join(dir, 'a.sqlite');
  let folder = await writeFolders(false);
  // what drizzle-orm 1.0's migrate() leaves after running FIRST
  const db = new DatabaseSync(url);
  db.exec(
    'CREATE TABLE `__drizzle_migrations` (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric, name text, applied_at TEXT)',
  );
  db.exec(
    'CREATE TABLE `users` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`email` text NOT NULL\n);',
  );
  const hash = createHash('sha256')
    .update(await readFile(path.join(folder, FIRST, 'migration.sql')))
    .digest('hex');
  db.prepare(
    'INSERT INTO `__drizzle_migrations` (hash, created_at, name, applied_at) VALUES (?, ?, ?, ?)',
  ).run(hash, Date.UTC(2024, 0, 1, 12, 0, 0), FIRST, new Date().toISOString());
  db.close();

  await adoptFromTool('drizzle', { engine: 'sqlite', url }, folder, layout, dir);
  folder = await writeFolders(true);
  expect(await airlockApply({ engine: 'sqlite', url }, folder, layout, 'drizzle')).toEqual([
    'add_posts',
  ]);
  const after = new DatabaseSync(url, { readOnly: true });
  try {
    const names = after.prepare('SELECT name FROM __drizzle_migrations ORDER BY id').all();
    expect(names.map((r) => r.name)).toEqual([FIRST, SECOND]);
  } finally {
    after.close();
  }
  expect(await readToolLedger('drizzle', { engine: 'sqlite', url })).toHaveLength(2);
});

describeIfPostgres('drizzle-kit 1.x on Postgres', () => {
  it('an existing 1.x table gets named rows; a fresh database gets the 1.x table', async () => {
    const [a, b] = [await createTestDatabase('airlock_tl'), await createTestDatabase('airlock_tl')];
    databases.push(a, b);
    const folder = await writeFolders(true);
    // drizzle-orm 1.0's migrate() DDL, before it ran anything
    const client = new pg.Client({ connectionString: a.url });
    await client.connect();
    try {
      await client.query('CREATE SCHEMA drizzle');
      await client.query(
        'CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint, name text, applied_at timestamp with time zone DEFAULT now())',
      );
    } finally {
      await client.end();
    }
    for (const url of [a.url, b.url]) {
      expect(await airlockApply({ engine: 'postgres', url }, folder, layout, 'drizzle')).toEqual([
        'init',
        'add_posts',
      ]);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const { rows } = await c.query<{ name: string | null; created_at: string; at: boolean }>(
          'SELECT name, created_at, applied_at IS NOT NULL AS at FROM drizzle.__drizzle_migrations ORDER BY id',
        );
        expect(rows.map((r) => [r.name, Number(r.created_at), r.at])).toEqual([
          [FIRST, Date.UTC(2024, 0, 1, 12, 0, 0), true],
          [SECOND, Date.UTC(2024, 2, 1, 9, 30, 0), true],
        ]);
        expect(
          pendingForDrizzleV1(
            rows.map((r) => r.name),
            [FIRST, SECOND],
          ),
        ).toEqual([]);
      } finally {
        await c.end();
      }
    }
  });
});
