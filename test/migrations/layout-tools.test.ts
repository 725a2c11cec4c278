/**
 * Acceptance per layout, against the real tool: migrations written by the tool (or in its
 * documented format), applied by the tool on one database and by Airlock on another, with the
 * same schema; then Airlock adopts the tool's ledger on the first, applies one new migration
 * (writing the tool's ledger row too), and the tool run again has nothing to do. One test per
 * tool; each Postgres test makes its own databases and drops them.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { adoptLedger } from '../../src/migrations/adopt.ts';
import { describeSchema } from '../../src/migrations/introspect.ts';
import { localD1DatabasePath } from '../../src/migrations/local-d1-database.ts';
import type { DatabaseLocation } from '../../src/migrations/migration-driver.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import type { MigrationFolderLayout } from '../../src/migrations/migration-layouts.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { adoptFromTool, airlockApply, runInstalledTool } from './tool-round-trip.ts';

let dir: string;
const databases: TestDatabase[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-layout-tools-'));
});
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
  await rm(dir, { recursive: true, force: true });
});

/** Adopts `tool`'s ledger on `location` (its schema checked) and expects every file adopted. */
const adopt = (
  tool: 'postgrator' | 'node-pg-migrate',
  location: DatabaseLocation,
  folder: string,
  layout: MigrationFolderLayout,
) => adoptFromTool(tool, location, folder, layout, dir);

describeIfPostgres('tools on Postgres', () => {
  it('postgrator: NNN.do files (undo ignored), applied by postgrator and by Airlock alike; adopted; postgrator afterwards runs nothing', async () => {
    const [a, b] = [
      await createTestDatabase('airlock_pgr'),
      await createTestDatabase('airlock_pgr'),
    ];
    databases.push(a, b);
    const folder = path.join(dir, 'migrations');
    await mkdir(folder);
    await writeFile(
      path.join(folder, '001.do.create_orders.sql'),
      'CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);\n',
    );
    await writeFile(path.join(folder, '001.undo.create_orders.sql'), 'DROP TABLE orders;\n');
    await writeFile(
      path.join(folder, '003.do.add_note.sql'),
      'ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX orders_total ON orders (total);\n',
    );
    const { default: Postgrator } = await import('postgrator');
    const postgrator = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const tool = new Postgrator({
          migrationPattern: `${folder}/*`,
          driver: 'pg',
          database: new URL(url).pathname.slice(1),
          execQuery: (query: string) => client.query(query),
        });
        return (await tool.migrate()).map((m: { filename: string }) => path.basename(m.filename));
      } finally {
        await client.end();
      }
    };
    const layout = { layout: 'postgrator' } as const;
    expect(await postgrator(a.url)).toEqual(['001.do.create_orders.sql', '003.do.add_note.sql']);
    expect(await airlockApply({ engine: 'postgres', url: b.url }, folder, layout, null)).toEqual([
      'create_orders',
      'add_note',
    ]);
    const A = { engine: 'postgres', url: a.url } as const;
    expect(await describeSchema(A)).toEqual(
      await describeSchema({ engine: 'postgres', url: b.url }),
    );

    await adopt('postgrator', A, folder, layout);
    await writeFile(
      path.join(folder, '004.do.add_paid.sql'),
      'ALTER TABLE orders ADD COLUMN paid boolean;\n',
    );
    expect(await airlockApply(A, folder, layout, 'postgrator')).toEqual(['add_paid']);
    expect(await postgrator(a.url)).toEqual([]);
  });

  it('node-pg-migrate: SQL files it creates, up sections applied by it and by Airlock alike; adopted; node-pg-migrate afterwards runs nothing', async () => {
    const [a, b] = [
      await createTestDatabase('airlock_npm'),
      await createTestDatabase('airlock_npm'),
    ];
    databases.push(a, b);
    const folder = path.join(dir, 'migrations');
    const tool = (args: string[], url?: string) =>
      runInstalledTool('node-pg-migrate', [...args, '-m', folder], {
        cwd: dir,
        env: url ? { DATABASE_URL: url } : {},
      });
    const create = async (name: string, up: string, down: string) => {
      await tool(['create', name, '--migration-file-language', 'sql']);
      const file = (await readdir(folder))
        .filter((f) => f.endsWith(`_${name.replaceAll('_', '-')}.sql`))
        .at(-1) as string;
      await writeFile(
        path.join(folder, file),
        `-- Up Migration\n${up}\n\n-- Down Migration\n${down}\n`,
      );
      // its prefix is the creation time in ms: keep two files apart
      await new Promise((r) => setTimeout(r, 5));
    };
    await create(
      'create_users',
      'CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL);',
      'DROP TABLE users;',
    );
    await create(
      'add_name',
      'ALTER TABLE users ADD COLUMN name text;',
      'ALTER TABLE users DROP COLUMN name;',
    );
    const layout = { layout: 'node-pg-migrate' } as const;
    await tool(['up'], a.url);
    expect(await airlockApply({ engine: 'postgres', url: b.url }, folder, layout, null)).toEqual([
      'create-users',
      'add-name',
    ]);
    const A = { engine: 'postgres', url: a.url } as const;
    expect(await describeSchema(A)).toEqual(
      await describeSchema({ engine: 'postgres', url: b.url }),
    );

    await adopt('node-pg-migrate', A, folder, layout);
    await create(
      'add_age',
      'ALTER TABLE users ADD COLUMN age int;',
      'ALTER TABLE users DROP COLUMN age;',
    );
    expect(await airlockApply(A, folder, layout, 'node-pg-migrate')).toEqual(['add-age']);
    const again = await tool(['up'], a.url);
    expect(again).toMatch(/No migrations to run/i);
  });
});

it('wrangler (D1 local): files wrangler numbers from 0000, applied by wrangler and by Airlock alike; adopted; wrangler afterwards has nothing to apply', async () => {
  const databaseId = '6f0c5f0e-7b8a-4a39-9d1e-1b2c3d4e5f60';
  await writeFile(
    path.join(dir, 'wrangler.toml'),
    `name = "w"\nmain = "src/index.js"\ncompatibility_date = "2025-01-01"\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "w-db"\ndatabase_id = "${databaseId}"\nmigrations_dir = "migrations"\n`,
  );
  const folder = path.join(dir, 'migrations');
  await mkdir(folder);
  // wrangler's own numbering and free-form names
  await writeFile(
    path.join(folder, '0000_Create-Notes.sql'),
    'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n',
  );
  await writeFile(
    path.join(folder, '0002_pin.sql'),
    'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
  );
  const wrangler = () =>
    runInstalledTool('wrangler', ['d1', 'migrations', 'apply', 'w-db', '--local'], {
      cwd: dir,
      env: {
        CI: '1',
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_LOG_PATH: path.join(dir, 'logs'),
      },
      timeoutMs: 90_000,
    });
  const first = await wrangler();
  expect(first).toMatch(/0002_pin\.sql\s*│\s*✅/);
  const layout = { layout: 'wrangler' } as const;
  const D1 = {
    engine: 'sqlite',
    url: localD1DatabasePath({ projectDir: dir, databaseId }),
  } as const;
  const other = { engine: 'sqlite', url: path.join(dir, 'airlock.sqlite') } as const;
  expect(await airlockApply(other, folder, layout, null)).toEqual(['Create-Notes', 'pin']);
  expect(await describeSchema(D1)).toEqual(await describeSchema(other));

  const files = await readMigrationDir(folder, layout);
  const adopted = await adoptLedger({ tool: 'wrangler', sqlitePath: D1.url }, D1, files, {
    tmpDir: dir,
  });
  expect(adopted.problems).toEqual([]);
  expect(adopted.adopted).toHaveLength(2);
  await writeFile(
    path.join(folder, '0003_tags.sql'),
    'CREATE TABLE tags (name TEXT PRIMARY KEY);\n',
  );
  expect(await airlockApply(D1, folder, layout, 'wrangler')).toEqual(['tags']);
  const again = await wrangler();
  expect(again).toMatch(/No migrations to apply/);
}, 180_000);
