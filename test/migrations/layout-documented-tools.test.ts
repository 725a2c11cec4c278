/**
 * Acceptance for the layouts whose tool does not run from npm here (the Prisma CLI, goose and
 * the Supabase CLI fetch native binaries): files written byte for byte as the tool writes them,
 * and the tool's apply replaced by a LABELLED FAKE that follows its documented behaviour on a
 * real database: run each pending file, then record it in the tool's own table as the tool
 * does (the same DDL, the same row). The round trip is the same as for the tools that run
 * (layout-tools.test.ts): the fake on one database and Airlock on another give one schema,
 * Airlock adopts the tool's ledger, applies one new file (writing the tool's row too), and the
 * tool's own rule for what is pending then finds nothing.
 *
 * Sources: Prisma's `_prisma_migrations` (migration engine, `migrate deploy` applies folders
 * without a finished, not rolled back row of that name, and warns on a changed checksum, the
 * sha256 of migration.sql); goose's `goose_db_version` (version 0 first; a version is applied
 * when its latest row says so); the Supabase CLI's `supabase_migrations.schema_migrations`
 * (`pkg/migration/history.go`: version, statements, name; `db push` applies versions without a
 * row).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { adoptLedger } from '../../src/migrations/adopt.ts';
import { describeSchema } from '../../src/migrations/introspect.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { splitSqlStatements } from '../../src/migrations/sql-split.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { adoptFromTool, airlockApply } from './tool-round-trip.ts';

let dir: string;
const databases: TestDatabase[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'airlock-documented-tools-'));
});
afterEach(async () => {
  await Promise.all(databases.splice(0).map((d) => d.drop()));
  await rm(dir, { recursive: true, force: true });
});

async function write(folder: string, file: string, text: string): Promise<void> {
  await mkdir(path.dirname(path.join(folder, file)), { recursive: true });
  await writeFile(path.join(folder, file), text);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

it('prisma on SQLite (fake `prisma migrate deploy`): folders as prisma writes them, applied alike; adopted; afterwards nothing pending and every checksum matches', async () => {
  const folder = path.join(dir, 'prisma', 'migrations');
  await write(folder, 'migration_lock.toml', 'provider = "sqlite"\n');
  await write(
    folder,
    '20240101120000_init/migration.sql',
    '-- CreateTable\nCREATE TABLE "User" (\n    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,\n    "email" TEXT NOT NULL,\n    "name" TEXT\n);\n\n-- CreateIndex\nCREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
  );
  /** FAKE `prisma migrate deploy`: what the migration engine does on SQLite. */
  const prismaDeploy = async (file: string): Promise<string[]> => {
    const db = new DatabaseSync(file);
    try {
      db.exec(
        'CREATE TABLE IF NOT EXISTS "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME, "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME, "started_at" DATETIME NOT NULL DEFAULT current_timestamp, "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)',
      );
      const rows = db
        .prepare(
          'SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
        )
        .all() as Array<{ migration_name: string; checksum: string }>;
      const done = new Map(rows.map((r) => [r.migration_name, r.checksum]));
      const ran: string[] = [];
      for (const f of await readMigrationDir(folder, { layout: 'prisma' })) {
        const name = f.filename.replace('/migration.sql', '');
        const bytes = await readFile(f.path);
        const checksum = done.get(name);
        if (checksum !== undefined) {
          // prisma warns "was modified after it was applied" when these differ
          expect(checksum).toBe(sha256(bytes));
          continue;
        }
        db.exec(bytes.toString('utf8'));
        const now = new Date().toISOString();
        db.prepare(
          'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
        ).run(randomUUID(), sha256(bytes), now, name, now);
        ran.push(name);
      }
      return ran;
    } finally {
      db.close();
    }
  };
  const layout = { layout: 'prisma' } as const;
  const A = { engine: 'sqlite', url: path.join(dir, 'a.sqlite') } as const;
  const B = { engine: 'sqlite', url: path.join(dir, 'b.sqlite') } as const;
  expect(await prismaDeploy(A.url)).toEqual(['20240101120000_init']);
  expect(await airlockApply(B, folder, layout, null)).toEqual(['init']);
  expect(await describeSchema(B)).toEqual(await describeSchema(A));

  await adoptFromTool('prisma', A, folder, layout, dir);
  await write(
    folder,
    '20240201090000_add_posts/migration.sql',
    '-- CreateTable\nCREATE TABLE "Post" (\n    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,\n    "title" TEXT NOT NULL,\n    "authorId" INTEGER NOT NULL,\n    CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User" ("id") ON DELETE RESTRICT ON UPDATE CASCADE\n);\n',
  );
  expect(await airlockApply(A, folder, layout, 'prisma')).toEqual(['add_posts']);
  expect(await prismaDeploy(A.url)).toEqual([]);
});

it('goose on SQLite (fake `goose up`): files as goose writes them, up sections applied alike; adopted; afterwards nothing pending', async () => {
  const folder = path.join(dir, 'migrations');
  await write(
    folder,
    '20240101120000_create_users.sql',
    '-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n-- +goose StatementEnd\n\n-- +goose Down\n-- +goose StatementBegin\nDROP TABLE users;\n-- +goose StatementEnd\n',
  );
  /** FAKE `goose sqlite3 <file> up`: goose's table, version 0 first, then each pending up. */
  const gooseUp = async (file: string): Promise<number[]> => {
    const db = new DatabaseSync(file);
    try {
      const exists = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'")
        .get();
      if (!exists) {
        db.exec(
          "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))",
        );
        db.exec('INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, 1)');
      }
      const latest = db
        .prepare(
          'SELECT version_id, is_applied FROM goose_db_version g WHERE id = (SELECT MAX(id) FROM goose_db_version h WHERE h.version_id = g.version_id)',
        )
        .all() as Array<{ version_id: number; is_applied: number }>;
      const applied = new Set(latest.filter((r) => r.is_applied).map((r) => Number(r.version_id)));
      const ran: number[] = [];
      for (const f of await readMigrationDir(folder, { layout: 'goose' })) {
        if (applied.has(f.version)) continue;
        db.exec('BEGIN');
        db.exec(f.sql);
        db.prepare('INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)').run(
          f.version,
        );
        db.exec('COMMIT');
        ran.push(f.version);
      }
      return ran;
    } finally {
      db.close();
    }
  };
  const layout = { layout: 'goose' } as const;
  const A = { engine: 'sqlite', url: path.join(dir, 'a.sqlite') } as const;
  const B = { engine: 'sqlite', url: path.join(dir, 'b.sqlite') } as const;
  expect(await gooseUp(A.url)).toEqual([20240101120000]);
  expect(await airlockApply(B, folder, layout, null)).toEqual(['create_users']);
  expect(await describeSchema(B)).toEqual(await describeSchema(A));

  await adoptFromTool('goose', A, folder, layout, dir);
  await write(
    folder,
    '20240201090000_add_name.sql',
    '-- +goose Up\nALTER TABLE users ADD COLUMN name TEXT;\n\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n',
  );
  expect(await airlockApply(A, folder, layout, 'goose')).toEqual(['add_name']);
  expect(await gooseUp(A.url)).toEqual([]);
});

describeIfPostgres('supabase on Postgres', () => {
  it('(fake `supabase db push`): timestamped files with free names, applied alike; adopted; afterwards nothing pending', async () => {
    const [a, b] = [
      await createTestDatabase('airlock_sbd'),
      await createTestDatabase('airlock_sbd'),
    ];
    databases.push(a, b);
    const folder = path.join(dir, 'supabase', 'migrations');
    await write(
      folder,
      '20240101120000_create-profiles.sql',
      'create table public.profiles (\n  id uuid primary key default gen_random_uuid(),\n  username text unique\n);\n\nalter table public.profiles enable row level security;\n',
    );
    /** FAKE `supabase db push`: the CLI's history table, then each version without a row. */
    const dbPush = async (url: string): Promise<string[]> => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('CREATE SCHEMA IF NOT EXISTS supabase_migrations');
        await client.query(
          'CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)',
        );
        await client.query(
          'ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]',
        );
        await client.query(
          'ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text',
        );
        const { rows } = await client.query<{ version: string }>(
          'SELECT version FROM supabase_migrations.schema_migrations',
        );
        const applied = new Set(rows.map((r) => r.version));
        const ran: string[] = [];
        for (const f of await readMigrationDir(folder, { layout: 'supabase' })) {
          const version = f.filename.slice(0, 14);
          if (applied.has(version)) continue;
          const statements = splitSqlStatements(f.sql).map((s) => s.text);
          await client.query('BEGIN');
          for (const s of statements) await client.query(s);
          await client.query(
            'INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ($1, $2, $3)',
            [version, f.name, statements],
          );
          await client.query('COMMIT');
          ran.push(f.filename);
        }
        return ran;
      } finally {
        await client.end();
      }
    };
    const layout = { layout: 'supabase' } as const;
    const A = { engine: 'postgres', url: a.url } as const;
    const B = { engine: 'postgres', url: b.url } as const;
    expect(await dbPush(a.url)).toEqual(['20240101120000_create-profiles.sql']);
    expect(await airlockApply(B, folder, layout, null)).toEqual(['create-profiles']);
    expect(await describeSchema(B)).toEqual(await describeSchema(A));

    const files = await readMigrationDir(folder, layout);
    const adopted = await adoptLedger({ tool: 'supabase', url: a.url }, A, files);
    expect(adopted.problems).toEqual([]);
    expect(adopted.adopted).toHaveLength(1);
    await write(
      folder,
      '20240201090000_Add_Bio.sql',
      'alter table public.profiles add column bio text;\n',
    );
    expect(await airlockApply(A, folder, layout, 'supabase')).toEqual(['Add_Bio']);
    expect(await dbPush(a.url)).toEqual([]);
  });
});
