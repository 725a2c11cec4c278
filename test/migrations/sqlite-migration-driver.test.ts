/**
 * SQLite-only behaviour of the migrator. The behaviour shared with Postgres (ordering, ledger,
 * checksums, rollback of a failing file, staging first) is in migrator-contract.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MigrationDriver } from '../../src/migrations/migration-driver.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import {
  SqliteMigrationDriver,
  sqlitePathFromUrl,
} from '../../src/migrations/sqlite-migration-driver.ts';
import { caught } from './engines.ts';

let root: string;
let dir: string;
let dbPath: string;
const drivers: SqliteMigrationDriver[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-sqlite-migrator-'));
  dir = join(root, 'migrations');
  dbPath = join(root, 'envs', 'staging', 'app.db');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, '0001_create_notes.sql'),
    'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n',
  );
});

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
  await rm(root, { recursive: true, force: true });
});

function driver(location = dbPath): SqliteMigrationDriver {
  const d = new SqliteMigrationDriver(location);
  drivers.push(d);
  return d;
}

function ledgerRows(): Array<{ version: number; applied_by: string }> {
  const db = new DatabaseSync(dbPath);
  try {
    return db.prepare('SELECT version, applied_by FROM airlock_migrations').all() as never;
  } finally {
    db.close();
  }
}

describe('SqliteMigrationDriver', () => {
  it('accepts a path, a file: URL or a sqlite: path, creating the parent directories', async () => {
    expect(sqlitePathFromUrl(pathToFileURL(dbPath).href)).toBe(dbPath);
    expect(sqlitePathFromUrl(`sqlite:${dbPath}`)).toBe(dbPath);
    const files = await readMigrationDir(dir);
    await new Migrator(driver(pathToFileURL(dbPath).href), files).apply({
      appliedBy: 'tester',
      release: null,
    });
    expect(ledgerRows().map((r) => r.version)).toEqual([1]);
  });

  it('has no lock(): two applies at once still never run a file twice', async () => {
    // BEGIN IMMEDIATE and the ledger check inside it serialise each file; the apply that
    // planned too early stops at "already applied" instead of waiting for the other.
    const files = await readMigrationDir(dir);
    const a = driver();
    const b = driver();
    expect((a as MigrationDriver).lock).toBeUndefined();
    const results = await Promise.allSettled([
      new Migrator(a, files).apply({ appliedBy: 'a', release: null }),
      new Migrator(b, files).apply({ appliedBy: 'b', release: null }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    const error = await caught(Promise.reject((results[1] as PromiseRejectedResult).reason));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('already applied (by a at ');
    expect(ledgerRows()).toEqual([{ version: 1, applied_by: 'a' }]);
  });
});
