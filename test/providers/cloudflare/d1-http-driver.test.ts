/**
 * The remote D1 migration driver over the D1 HTTP API, against a FAKE D1 API (real HTTP on
 * 127.0.0.1, real SQLite files; test/fakes/cloudflare/fake-d1-api.ts): the migrator contract
 * that SQLite and Postgres pass, then what is D1's own (the lock row, the request shape,
 * refused tokens, D1's refusal of explicit transactions, account ids).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ResolvedDatabase } from '../../../src/config/resolve.ts';
import { hasCode } from '../../../src/errors.ts';
import type { LedgerEntry } from '../../../src/migrations/ledger.ts';
import type { MigrationDriver } from '../../../src/migrations/migration-driver.ts';
import { readMigrationDir } from '../../../src/migrations/migration-files.ts';
import { Migrator } from '../../../src/migrations/migrator.ts';
import {
  D1HttpMigrationDriver,
  type D1HttpMigrationDriverOptions,
  LOCK_TABLE,
  openRemoteD1Driver,
} from '../../../src/providers/cloudflare/d1-http-driver.ts';
import { type FakeD1Api, startFakeD1Api } from '../../fakes/cloudflare/fake-d1-api.ts';
import {
  caught,
  type EngineDatabase,
  type MigrationDir,
  migrationDir,
} from '../../migrations/engines.ts';
import { describeMigratorContract } from '../../migrations/migrator-contract.ts';

let api: FakeD1Api;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'airlock-fake-d1-'));
  api = await startFakeD1Api(root);
});
afterAll(async () => {
  await api?.close();
  await rm(root, { recursive: true, force: true });
});

function driverOn(databaseId: string, options: Partial<D1HttpMigrationDriverOptions> = {}) {
  return new D1HttpMigrationDriver({
    accountId: api.accountId,
    databaseId,
    apiToken: api.token,
    baseUrl: api.baseUrl,
    lockPollMs: 20,
    ...options,
  });
}

/** Reads a fake database's file directly: never through the driver under test. */
function readDb<T>(databaseId: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(api.file(databaseId));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function tablesOf(databaseId: string): string[] {
  return readDb(databaseId, (db) =>
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all()
      .map((r) => String(r.name)),
  );
}

function ledgerOf(databaseId: string): LedgerEntry[] {
  if (!tablesOf(databaseId).includes('airlock_migrations')) return [];
  return readDb(databaseId, (db) =>
    db
      .prepare('SELECT * FROM airlock_migrations ORDER BY version')
      .all()
      .map((r) => ({
        version: Number(r.version),
        name: String(r.name),
        sha256: String(r.sha256),
        appliedAt: new Date(String(r.applied_at)).toISOString(),
        appliedBy: String(r.applied_by),
        durationMs: Number(r.duration_ms),
        release: r.release === null ? null : String(r.release),
      })),
  );
}

describeMigratorContract({
  name: 'remote D1 (D1 HTTP API, fake)',
  describe,
  ledgerTable: 'airlock_migrations',
  async create(): Promise<EngineDatabase> {
    const id = api.createDatabase();
    const drivers: MigrationDriver[] = [];
    return {
      driver() {
        const d = driverOn(id);
        drivers.push(d);
        return d;
      },
      tables: async () => tablesOf(id),
      columns: async (table) =>
        readDb(id, (db) =>
          db
            .prepare('SELECT name FROM pragma_table_info(?)')
            .all(table)
            .map((r) => String(r.name)),
        ),
      ledger: async () => ledgerOf(id),
      snapshot: async () => ({
        schema: readDb(id, (db) =>
          db
            .prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name')
            .all()
            .map((r) => ({ ...r })),
        ),
        ledger: ledgerOf(id),
      }),
      async dispose() {
        for (const d of drivers.splice(0)) await d.close();
      },
    };
  },
});

describe('D1HttpMigrationDriver (against the fake D1 API)', () => {
  let files: MigrationDir;
  let id: string;
  const drivers: D1HttpMigrationDriver[] = [];
  const open = (options: Partial<D1HttpMigrationDriverOptions> = {}) => {
    const d = driverOn(id, options);
    drivers.push(d);
    return d;
  };

  beforeEach(async () => {
    files = await migrationDir();
    id = api.createDatabase();
  });
  afterEach(async () => {
    for (const d of drivers.splice(0)) await d.close();
    await files.remove();
  });

  it('sends one batch per file: ledger table, the ledger row first, then the file; bearer token', async () => {
    await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    const from = api.requests.length;
    await new Migrator(open(), await readMigrationDir(files.dir)).apply({
      appliedBy: 'ci',
      release: 'r1',
    });
    const sent = api.requests.slice(from);
    expect(sent.every((r) => r.auth === 'valid')).toBe(true);
    expect(sent.every((r) => r.path.endsWith(`/d1/database/${id}/query`))).toBe(true);
    const apply = sent.find((r) => JSON.stringify(r.body).includes('CREATE TABLE notes'))?.body as {
      batch: { sql: string; params?: string[] }[];
    };
    const sqls = apply.batch.map((s) => s.sql);
    expect(sqls[0]).toMatch(/^SELECT CASE WHEN EXISTS \(SELECT 1 FROM airlock_migration_lock/);
    expect(sqls[1]).toMatch(/^CREATE TABLE IF NOT EXISTS airlock_migrations/);
    expect(sqls[2]).toMatch(/^INSERT INTO airlock_migrations/);
    expect(sqls[3]).toBe('CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    expect(apply.batch[2]?.params?.slice(0, 2)).toEqual(['1', 'create_notes']);
    // The lock was taken and dropped: nothing of it is left.
    expect(tablesOf(id)).toEqual(['airlock_migrations', 'notes']);
    expect(ledgerOf(id)[0]).toMatchObject({ version: 1, appliedBy: 'ci', release: 'r1' });
  });

  it('claims the database for its environment: a second environment bound to the same database_id is refused', async () => {
    await open().claim({ project: 'shop', environment: 'staging' }, { create: true });
    // Staging again (any later contact) is fine; the claim is one row beside the ledger.
    await open().claim({ project: 'shop', environment: 'staging' }, { create: true });
    expect(tablesOf(id)).toEqual(['airlock_claim']);
    // Production's job holds only its own token and binding: the claim alone tells it apart.
    const error = await caught(
      open().claim({ project: 'shop', environment: 'production' }, { create: true }),
    );
    expect(error.code).toBe('DATABASE_CLAIMED');
    expect(error.message).toContain(`D1 database ${id}`);
    expect(error.message).toContain('belongs to environment staging');
  });

  it('refuses explicit transactions as D1 does, keeping nothing of the file', async () => {
    await files.write('0001_with_begin.sql', 'BEGIN TRANSACTION;\nCREATE TABLE t (x);\nCOMMIT;\n');
    const error = await caught(
      new Migrator(open(), await readMigrationDir(files.dir)).apply({
        appliedBy: 'ci',
        release: null,
      }),
    );
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('0001_with_begin.sql');
    expect(error.message).toContain('state.storage.transaction()');
    expect(tablesOf(id)).toEqual([]);
  });

  it('a second process waits for the lock, then finds nothing left to apply', async () => {
    await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    await files.write('0002_create_tags.sql', 'CREATE TABLE tags (note_id INTEGER);\n');
    const migrationFiles = await readMigrationDir(files.dir);
    const [a, b] = await Promise.all([
      new Migrator(open(), migrationFiles).apply({ appliedBy: 'a', release: null }),
      new Migrator(open(), migrationFiles).apply({ appliedBy: 'b', release: null }),
    ]);
    const counts = [a.applied.length, b.applied.length].sort();
    expect(counts).toEqual([0, 2]);
    expect(ledgerOf(id).map((e) => e.version)).toEqual([1, 2]);
    expect(tablesOf(id)).not.toContain(LOCK_TABLE);
  });

  it('names the holder when the lock stays taken, and takes over an expired one', async () => {
    const holder = open({ lockTtlMs: 60_000 });
    const release = await holder.lock();
    const waiting = open({ lockWaitMs: 150 });
    const error = await caught(waiting.lock());
    expect(error.code).toBe('MIGRATION_LOCKED');
    expect(error.message).toMatch(
      /another process \(.+:\d+:[0-9a-f]{8}\) has held the migration lock since/,
    );
    await release();
    expect(tablesOf(id)).not.toContain(LOCK_TABLE);

    // A holder that died: its row expires by D1's clock, and the next process takes it over.
    const dead = open({ lockTtlMs: 1_000 });
    await dead.lock();
    await dead.close(); // stops renewing, as a killed process would
    const next = open({ lockWaitMs: 5_000 });
    const started = Date.now();
    const unlock = await next.lock();
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    // The dead holder's late writes are refused: its guard no longer matches.
    await files.write('0001_create_notes.sql', 'CREATE TABLE notes (id INTEGER PRIMARY KEY);\n');
    const [file] = await readMigrationDir(files.dir);
    const late = await caught(dead.applyFile(file!, { appliedBy: 'dead', release: null }));
    expect(late.code).toBe('MIGRATION_LOCKED');
    expect(tablesOf(id)).not.toContain('notes');
    await unlock();
    expect(tablesOf(id)).toEqual([]);
  });

  it('a refused token is PROVIDER_AUTH and never appears in the error', async () => {
    const driver = open({ apiToken: 'wrong-token-5b1e9c' });
    const error = await caught(driver.readLedger());
    expect(hasCode(error, 'PROVIDER_AUTH')).toBe(true);
    expect(error.message).toContain('Authentication error [code: 10000]');
    expect(JSON.stringify(error.toJSON())).not.toContain('wrong-token-5b1e9c');
  });

  it('an unreachable API and a server error are MIGRATION_DATABASE_UNREACHABLE', async () => {
    const offline = open({ baseUrl: 'http://127.0.0.1:9/client/v4', requestTimeoutMs: 2_000 });
    expect((await caught(offline.readLedger())).code).toBe('MIGRATION_DATABASE_UNREACHABLE');
    api.failNext(500, {
      result: null,
      success: false,
      errors: [{ code: 7500, message: 'Internal error' }],
      messages: [],
    });
    const error = await caught(open().readLedger());
    expect(error.code).toBe('MIGRATION_DATABASE_UNREACHABLE');
    expect(error.message).toContain('HTTP 500: Internal error [code: 7500]');
  });
});

describe('openRemoteD1Driver', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-d1-open-'));
    await writeFile(
      path.join(dir, 'wrangler.toml'),
      'name = "w"\naccount_id = "from-wrangler-file"\n[[d1_databases]]\nbinding = "DB"\ndatabase_id = "db-1"\n[env.production]\naccount_id = "prod-account"\n[[env.production.d1_databases]]\nbinding = "DB"\ndatabase_id = "db-2"\n',
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const database = (
    wranglerEnv: string | null,
    accountId: string | null = null,
  ): ResolvedDatabase => ({
    engine: 'd1',
    environment: wranglerEnv ?? 'staging',
    d1: {
      environment: wranglerEnv ?? 'staging',
      binding: 'DB',
      wranglerConfig: path.join(dir, 'wrangler.toml'),
      serviceDir: dir,
      wranglerEnv,
      mode: 'remote',
      persistDir: dir,
      accountId,
    },
    migrationsDir: dir,
    migrations: 'migrations',
    layout: { layout: 'airlock' },
    toolLedger: false,
    migrate: 'before-switch',
    url: 'd1:staging/web',
    display: 'd1 DB (remote)',
    lockTimeoutMs: 1,
    statementTimeoutMs: 1,
    drift: 'block',
  });

  it('needs CLOUDFLARE_API_TOKEN', async () => {
    const error = await caught(
      openRemoteD1Driver(
        database(null),
        { databaseId: 'db-1', file: path.join(dir, 'wrangler.toml') },
        {},
      ),
    );
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.hint).toContain('CLOUDFLARE_API_TOKEN');
    // Without an account: the way to run it all on this machine.
    expect(error.hint).toContain('`cloudflare: { mode: local }`');
  });

  it('takes CLOUDFLARE_API_TOKEN_<ENV> over CLOUDFLARE_API_TOKEN, never another environment’s', async () => {
    const target = { databaseId: 'db-2', file: path.join(dir, 'wrangler.toml') };
    const error = await caught(
      openRemoteD1Driver(database('production'), target, { CLOUDFLARE_API_TOKEN_STAGING: 's' }),
    );
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.message).toContain('CLOUDFLARE_API_TOKEN_PRODUCTION or CLOUDFLARE_API_TOKEN');
    const driver = await openRemoteD1Driver(database('production'), target, {
      CLOUDFLARE_API_TOKEN_PRODUCTION: 'p',
      CLOUDFLARE_ACCOUNT_ID_PRODUCTION: 'prod-only-account',
    });
    await driver.close();
    expect(driver.endpoint).toContain('/accounts/prod-only-account/');
  });

  it('takes the account from airlock.yaml, then CLOUDFLARE_ACCOUNT_ID, then the wrangler environment', async () => {
    const target = { databaseId: 'db-2', file: path.join(dir, 'wrangler.toml') };
    const endpoint = async (db: ResolvedDatabase, env: Record<string, string>) => {
      const driver = (await openRemoteD1Driver(db, target, env)) as D1HttpMigrationDriver;
      await driver.close();
      return driver.endpoint;
    };
    const token = { CLOUDFLARE_API_TOKEN: 't' };
    const both = { ...token, CLOUDFLARE_ACCOUNT_ID: 'from-env' };
    expect(await endpoint(database('production', 'from-yaml'), both)).toBe(
      'https://api.cloudflare.com/client/v4/accounts/from-yaml/d1/database/db-2/query',
    );
    expect(await endpoint(database('production'), both)).toContain('/accounts/from-env/');
    expect(await endpoint(database('production'), token)).toContain('/accounts/prod-account/');
    expect(await endpoint(database(null), token)).toContain('/accounts/from-wrangler-file/');
    expect(
      await endpoint(database(null), {
        ...token,
        CLOUDFLARE_API_BASE_URL: 'http://api.test/client/v4',
      }),
    ).toBe('http://api.test/client/v4/accounts/from-wrangler-file/d1/database/db-2/query');
  });
});
