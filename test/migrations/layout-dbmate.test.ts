/**
 * Acceptance for the dbmate layout against dbmate itself (its binary package for this machine,
 * installed on first use into a cache folder: test/helpers/dbmate-binary.ts):
 * `dbmate new` writes the files (`<timestamp>_<name>.sql` with `-- migrate:up` / `-- migrate:down`
 * sections), `dbmate up` applies them on one database and Airlock (up sections only) on another,
 * and both schemas are equal. Then Airlock adopts `schema_migrations` on the first, applies one
 * new migration (writing dbmate's ledger row too), and `dbmate up` afterwards applies nothing.
 * SQLite and Postgres.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeSchema } from '../../src/migrations/introspect.ts';
import type { DatabaseLocation } from '../../src/migrations/migration-driver.ts';
import { readToolLedger } from '../../src/migrations/tool-ledger-read.ts';
import { dbmateBinary } from '../helpers/dbmate-binary.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { adoptFromTool, airlockApply, runInstalledTool } from './tool-round-trip.ts';

let binary: string;
beforeAll(async () => {
  binary = await dbmateBinary();
}, 200_000);
const itWithDbmate = it;

let dir: string;
const databases: TestDatabase[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-dbmate-'));
});
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
  await rm(dir, { recursive: true, force: true });
});

const dbmate = (url: string, args: string[]) =>
  runInstalledTool(
    binary,
    ['--url', url, '--migrations-dir', 'db/migrations', '--no-dump-schema', ...args],
    { cwd: dir },
  );

/** `dbmate new <name>`, then its sections filled in; dbmate numbers files by the second. */
async function create(url: string, name: string, up: string, down: string, upFlags = '') {
  await new Promise((r) => setTimeout(r, 1010 - (Date.now() % 1000)));
  await dbmate(url, ['new', name]);
  const folder = path.join(dir, 'db', 'migrations');
  const file = (await readdir(folder)).filter((f) => f.endsWith(`_${name}.sql`)).at(-1) as string;
  await writeFile(
    path.join(folder, file),
    `-- migrate:up${upFlags}\n${up}\n\n-- migrate:down\n${down}\n`,
  );
}

/** The round trip: `A` (at dbmate's `urlA`) migrated by dbmate, `B` by Airlock. */
async function roundTrip(
  urlA: string,
  A: DatabaseLocation,
  B: DatabaseLocation,
  steps: Array<[name: string, up: string, down: string, upFlags?: string]>,
  next: [name: string, up: string, down: string, upFlags?: string],
) {
  const folder = path.join(dir, 'db', 'migrations');
  const layout = { layout: 'dbmate' } as const;
  for (const [name, up, down, flags] of steps) await create(urlA, name, up, down, flags);
  expect(await dbmate(urlA, ['up'])).toMatch(/Applied: \d{14}_/);
  expect(await airlockApply(B, folder, layout, null)).toEqual(steps.map((s) => s[0]));
  expect(await describeSchema(B)).toEqual(await describeSchema(A));

  await adoptFromTool('dbmate', A, folder, layout, dir);
  await create(urlA, ...next);
  expect(await airlockApply(A, folder, layout, 'dbmate')).toEqual([next[0]]);
  expect(await readToolLedger('dbmate', A)).toHaveLength(steps.length + 1);
  const again = await dbmate(urlA, ['up']);
  expect(again).not.toMatch(/Applying/);
  expect(await readToolLedger('dbmate', A)).toHaveLength(steps.length + 1);
}

itWithDbmate(
  'dbmate on SQLite: files dbmate creates, up sections applied by dbmate and by Airlock alike; adopted; dbmate up afterwards applies nothing',
  async () => {
    await roundTrip(
      'sqlite:./a.sqlite',
      { engine: 'sqlite', url: path.join(dir, 'a.sqlite') },
      { engine: 'sqlite', url: path.join(dir, 'b.sqlite') },
      [
        [
          'create_notes',
          'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\nCREATE INDEX notes_body ON notes (body);',
          'DROP TABLE notes;',
        ],
        [
          'add_pinned',
          'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;',
          'ALTER TABLE notes DROP COLUMN pinned;',
        ],
      ],
      ['create_tags', 'CREATE TABLE tags (name TEXT PRIMARY KEY);', 'DROP TABLE tags;'],
    );
  },
  60_000,
);

describeIfPostgres('dbmate on Postgres', () => {
  itWithDbmate(
    'files dbmate creates (one without a transaction), applied by dbmate and by Airlock alike; adopted; dbmate up afterwards applies nothing',
    async () => {
      const [a, b] = [
        await createTestDatabase('airlock_dbm'),
        await createTestDatabase('airlock_dbm'),
      ];
      databases.push(a, b);
      const dbmateUrl = new URL(a.url);
      dbmateUrl.searchParams.set('sslmode', 'disable');
      await roundTrip(
        dbmateUrl.toString(),
        { engine: 'postgres', url: a.url },
        { engine: 'postgres', url: b.url },
        [
          [
            'create_users',
            "CREATE TYPE role AS ENUM ('member', 'admin');\nCREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, role role NOT NULL DEFAULT 'member');",
            'DROP TABLE users;\nDROP TYPE role;',
          ],
          [
            'index_role',
            'CREATE INDEX CONCURRENTLY users_role ON users (role);',
            'DROP INDEX users_role;',
            ' transaction:false',
          ],
        ],
        [
          'add_name',
          'ALTER TABLE users ADD COLUMN name text;',
          'ALTER TABLE users DROP COLUMN name;',
        ],
      );
    },
    60_000,
  );
});
