/**
 * Postgres-only behaviour of the migrator: the ledger's shape, `-- airlock:no-transaction`,
 * error positions, `lock_timeout` / `statement_timeout`, and the migration lock that makes
 * concurrent applies serialise. The behaviour shared with SQLite is in
 * migrator-contract.test.ts.
 */
import { join } from 'node:path';
import { Client } from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import {
  isNoTransactionMigration,
  MIGRATION_LOCK_KEY,
  PostgresMigrationDriver,
  type PostgresMigrationDriverOptions,
} from '../../src/migrations/postgres-migration-driver.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  openConnections,
  type TestDatabase,
} from '../helpers/postgres.ts';
import { caught, type MigrationDir, migrationDir } from './engines.ts';

const NOTES = 'CREATE TABLE notes (id integer PRIMARY KEY, title text NOT NULL);\n';

describe('isNoTransactionMigration', () => {
  it('finds the marker on a line of its own, anywhere in the file', () => {
    expect(isNoTransactionMigration('-- airlock:no-transaction\nCREATE INDEX …;')).toBe(true);
    expect(isNoTransactionMigration('-- Migration 0002\n  --airlock:no-transaction  \r\n')).toBe(
      true,
    );
    expect(isNoTransactionMigration('SELECT 1; -- airlock:no-transaction\n')).toBe(false);
    expect(isNoTransactionMigration('-- airlock:no-transactions please\n')).toBe(false);
  });

  it('uses a stable advisory-lock key', () => {
    expect(MIGRATION_LOCK_KEY).toBe(BigInt.asIntN(64, MIGRATION_LOCK_KEY));
    expect(MIGRATION_LOCK_KEY).toBe(-1756307370987612095n);
  });
});

describe('PostgresMigrationDriver without a server', () => {
  it('fails with MIGRATION_DATABASE_UNREACHABLE, never showing the password', async () => {
    const driver = new PostgresMigrationDriver('postgres://app:s3cret@127.0.0.1:1/app');
    try {
      const error = await caught(driver.readLedger());
      expect(error.code).toBe('MIGRATION_DATABASE_UNREACHABLE');
      expect(error.message).toContain('postgres://app:***@127.0.0.1:1/app');
      expect(error.hint).toContain('airlock migrate status');
      expect(JSON.stringify(error.toJSON())).not.toContain('s3cret');
    } finally {
      await driver.close();
    }
  });
});

describeIfPostgres('PostgresMigrationDriver', () => {
  let db: TestDatabase;
  let files: MigrationDir;
  let admin: Client;
  const drivers: PostgresMigrationDriver[] = [];
  const clients: Client[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('airlock_mig');
    files = await migrationDir();
    admin = await connect();
  });

  afterEach(async () => {
    try {
      for (const d of drivers.splice(0)) await d.close();
      for (const c of clients.splice(0)) await c.end();
      expect(await openConnections(db.name)).toBe(0);
    } finally {
      await db.drop();
      await files.remove();
    }
  });

  /** A plain session on the test database (closed after the test). */
  async function connect(): Promise<Client> {
    const client = new Client({ connectionString: db.url });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  }

  function driver(options: PostgresMigrationDriverOptions = {}): PostgresMigrationDriver {
    const d = new PostgresMigrationDriver(db.url, options);
    drivers.push(d);
    return d;
  }

  async function migrate(on = driver()) {
    return new Migrator(on, await readMigrationDir(files.dir)).apply({
      appliedBy: 'tester',
      release: 'r1',
    });
  }

  async function rows<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await admin.query(sql, params)).rows as T[];
  }

  async function ledgerVersions(): Promise<number[]> {
    const [exists] = await rows<{ t: string | null }>(
      "SELECT to_regclass('airlock.migrations')::text AS t",
    );
    if (!exists?.t) return [];
    return (await rows<{ version: number }>('SELECT version FROM airlock.migrations')).map(
      (r) => r.version,
    );
  }

  async function tableExists(name: string): Promise<boolean> {
    const [r] = await rows<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
    return r?.t != null;
  }

  it('keeps its ledger as airlock.migrations with the documented columns', async () => {
    await files.write('0001_create_notes.sql', NOTES);
    await migrate();
    expect(
      await rows(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_schema = 'airlock' AND table_name = 'migrations' ORDER BY ordinal_position`,
      ),
    ).toEqual([
      { column_name: 'version', data_type: 'integer', is_nullable: 'NO' },
      { column_name: 'name', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'sha256', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'applied_at', data_type: 'timestamp with time zone', is_nullable: 'NO' },
      { column_name: 'applied_by', data_type: 'text', is_nullable: 'NO' },
      { column_name: 'duration_ms', data_type: 'integer', is_nullable: 'NO' },
      { column_name: 'release', data_type: 'text', is_nullable: 'YES' },
    ]);
    const [pk] = await rows<{ def: string }>(
      "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'airlock.migrations'::regclass AND contype = 'p'",
    );
    expect(pk?.def).toBe('PRIMARY KEY (version)');
    // The migration lock is released after the apply, though the driver is still open.
    expect(await rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")).toEqual([]);
  });

  it('reading the ledger of a fresh database creates no schema', async () => {
    expect(await driver().readLedger()).toEqual([]);
    expect(await rows("SELECT 1 FROM pg_namespace WHERE nspname = 'airlock'")).toEqual([]);
  });

  it('reports the line and column of the error in the file', async () => {
    await files.write(
      '0001_create_notes.sql',
      `-- notes\n${NOTES}CREATE INDEX notes_title ON notes (title);\nINSERT INTO notes VALUES (1, 'a') RETURNING nope;\n`,
    );
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toBe(
      `Migration ${join(files.dir, '0001_create_notes.sql')} failed at line 4, column 45: column "nope" does not exist`,
    );
    expect(error.details).toMatchObject({ line: 4, column: 45, postgresCode: '42703' });
    // Releases are built from commits: the fix is re-hashed, committed and deployed (the
    // pipeline names the environment), not applied again from the working tree.
    expect(error.hint).toBe(
      "Nothing from 0001_create_notes.sql was kept (it ran in one transaction with its ledger row, now rolled back). Fix 0001_create_notes.sql, then run `airlock migrate hash` (it records the file's new checksum in airlock.sum), commit both, and deploy again (`airlock deploy <env>`).",
    );
    expect(await tableExists('notes')).toBe(false);
    expect(await ledgerVersions()).toEqual([]);
  });

  it('refuses a transactional file that runs its own BEGIN/COMMIT, before running it', async () => {
    await files.write('0001_create_notes.sql', `BEGIN;\n${NOTES}COMMIT;\n`);
    const error = await caught(migrate());
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('controls its own transaction (line 1: BEGIN)');
    expect(error.hint).toContain('-- airlock:no-transaction');
    expect(await tableExists('notes')).toBe(false);
  });

  describe('-- airlock:no-transaction', () => {
    const CONCURRENT_INDEX = [
      '-- Build the index without blocking writes (squawk: require-concurrent-index-creation).',
      'CREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);',
      "CREATE UNIQUE INDEX CONCURRENTLY notes_id_title_idx ON notes (id, title) WHERE title <> ';';",
      '',
    ].join('\n');

    it('runs CREATE INDEX CONCURRENTLY, statement by statement, then records the file', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_index_titles.sql', `-- airlock:no-transaction\n${CONCURRENT_INDEX}`);
      const result = await migrate();
      expect(result.applied.map((e) => e.version)).toEqual([1, 2]);
      expect(
        await rows(
          "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'notes\\_%\\_idx' ORDER BY 1",
        ),
      ).toEqual([
        { relname: 'notes_id_title_idx', indisvalid: true },
        { relname: 'notes_title_idx', indisvalid: true },
      ]);
      expect(await ledgerVersions()).toEqual([1, 2]);
    });

    it('without the marker, the same file fails with a message that says to add it', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_index_titles.sql', CONCURRENT_INDEX);
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain('0002_index_titles.sql failed');
      expect(error.message).toContain(
        'CREATE INDEX CONCURRENTLY cannot run inside a transaction block',
      );
      expect(error.hint).toContain('-- airlock:no-transaction');
      expect(await ledgerVersions()).toEqual([1]);
      expect(await rows("SELECT 1 FROM pg_class WHERE relname = 'notes_title_idx'")).toEqual([]);
    });

    it('a failure midway names the statement and leaves the earlier ones applied, with no ledger row', async () => {
      await files.write(
        '0001_setup.sql',
        [
          '-- airlock:no-transaction',
          NOTES.trim(),
          "INSERT INTO notes VALUES (1, 'first;');",
          '',
          'CREATE INDEX CONCURRENTLY notes_title_idx',
          '  ON notes (no_such_column);',
          "INSERT INTO notes VALUES (2, 'never');",
        ].join('\n'),
      );
      const error = await caught(migrate());
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain(
        '0001_setup.sql failed at statement 3 of 4 (line 5: CREATE INDEX CONCURRENTLY notes_title_idx): column "no_such_column" does not exist',
      );
      expect(error.details).toMatchObject({ statement: 3, appliedStatements: 2, line: 5 });
      expect(error.hint).toContain('its first 2 statements stay applied');
      expect(error.hint).toContain(
        'Make the file safe to run again (IF NOT EXISTS / IF EXISTS), then run `airlock migrate hash`',
      );
      expect(error.hint).toContain('INVALID index');
      // Postgres could not roll back what ran outside a transaction.
      expect(await rows('SELECT id, title FROM notes')).toEqual([{ id: 1, title: 'first;' }]);
      expect(await ledgerVersions()).toEqual([]);

      // Made re-runnable, it applies.
      await files.write(
        '0001_setup.sql',
        [
          '-- airlock:no-transaction',
          'CREATE TABLE IF NOT EXISTS notes (id integer PRIMARY KEY, title text NOT NULL);',
          "INSERT INTO notes VALUES (1, 'first;') ON CONFLICT DO NOTHING;",
          'CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);',
        ].join('\n'),
      );
      expect((await migrate()).applied.map((e) => e.version)).toEqual([1]);
      expect(await ledgerVersions()).toEqual([1]);
    });
  });

  it('maps an error in a no-transaction statement to its line and column in the file', async () => {
    await files.write(
      '0001_select.sql',
      "-- airlock:no-transaction\nSELECT 1;\n/* 😀 */ SELECT 'é😀', 2,\n  FROM nowhere;\n",
    );
    const error = await caught(migrate());
    expect(error.message).toContain(
      `0001_select.sql failed at statement 2 of 2 (line 3: SELECT 'é😀', 2,), at line 4, column 3: syntax error at or near "FROM"`,
    );
    expect(error.details).toMatchObject({ line: 4, column: 3, postgresCode: '42601' });
    expect(error.hint).toContain('its first statement stays applied');
  });

  it('lock_timeout: a migration waiting on a lock another session holds fails fast', async () => {
    await files.write('0001_create_notes.sql', NOTES);
    await migrate();
    const blocker = await connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM notes'); // holds ACCESS SHARE until the transaction ends
    await files.write('0002_add_body.sql', 'ALTER TABLE notes ADD COLUMN body text;\n');

    const started = performance.now();
    // statement_timeout only so that a missing lock_timeout fails here rather than hangs.
    const error = await caught(migrate(driver({ lockTimeoutMs: 200, statementTimeoutMs: 5000 })));
    const elapsed = performance.now() - started;
    await blocker.query('ROLLBACK');

    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('0002_add_body.sql');
    expect(error.message).toContain('lock timeout');
    expect(error.hint).toContain('lock_timeout (200 ms)');
    expect(error.details).toMatchObject({ postgresCode: '55P03' });
    expect(elapsed).toBeLessThan(3000);
    expect(await ledgerVersions()).toEqual([1]);
    expect(
      await rows("SELECT 1 FROM information_schema.columns WHERE column_name = 'body'"),
    ).toEqual([]);
  });

  it('statement_timeout: a statement running too long is cancelled and rolled back', async () => {
    await files.write('0001_slow.sql', `${NOTES}SELECT pg_sleep(5);\n`);
    const started = performance.now();
    const error = await caught(migrate(driver({ statementTimeoutMs: 200 })));
    expect(performance.now() - started).toBeLessThan(3000);
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('statement timeout');
    expect(error.hint).toContain('statement_timeout is 200 ms');
    expect(await tableExists('notes')).toBe(false);
  });

  it('two applies started at once on one database run each file exactly once', async () => {
    await files.write('0001_create_notes.sql', `${NOTES}SELECT pg_sleep(0.2);\n`);
    await files.write(
      '0002_index_titles.sql',
      '-- airlock:no-transaction\nCREATE INDEX CONCURRENTLY notes_title_idx ON notes (title);\n',
    );
    await files.write('0003_add_body.sql', 'ALTER TABLE notes ADD COLUMN body text;\n');
    const migrationFiles = await readMigrationDir(files.dir);
    const run = (by: string) =>
      new Migrator(driver(), migrationFiles).apply({ appliedBy: by, release: null });

    const [a, b] = await Promise.all([run('a'), run('b')]);

    // One ran everything; the other waited for the lock, then found nothing pending.
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 3]);
    const ledger = await rows<{ version: number; applied_by: string }>(
      'SELECT version, applied_by FROM airlock.migrations ORDER BY version',
    );
    expect(ledger.map((r) => r.version)).toEqual([1, 2, 3]);
    expect(new Set(ledger.map((r) => r.applied_by)).size).toBe(1);
    expect(await rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")).toEqual([]);
  });

  it('gives up with MIGRATION_LOCKED, naming the holder, when another process keeps the lock', async () => {
    await files.write('0001_create_notes.sql', NOTES);
    const holder = driver();
    const release = await holder.lock();
    const [holderPid] = await rows<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'airlock migrate'",
      [db.name],
    );

    const started = performance.now();
    const error = await caught(migrate(driver({ migrationLockTimeoutMs: 300 })));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(error.code).toBe('MIGRATION_LOCKED');
    expect(error.message).toContain(`Another process (pid ${holderPid?.pid}, "airlock migrate"`);
    expect(error.hint).toContain(`pg_terminate_backend(${holderPid?.pid})`);
    expect(await tableExists('notes')).toBe(false);

    await release();
    await release(); // idempotent
    expect((await migrate()).applied.map((e) => e.version)).toEqual([1]);
  });

  describe('stopped by its signal (Ctrl-C)', () => {
    const SLOW = 'SELECT pg_sleep(5)';
    const TAGS = 'CREATE TABLE tags (id integer PRIMARY KEY);';

    /** The last statement of each of the drivers' sessions, `running` or not. */
    async function sessions(running = true): Promise<string[]> {
      return (
        await rows<{ query: string }>(
          `SELECT query FROM pg_stat_activity WHERE datname = $1 AND application_name = 'airlock migrate'${running ? " AND state = 'active'" : ''}`,
          [db.name],
        )
      ).map((r) => r.query);
    }
    const running = () => sessions(true);
    const sleeping = async () => (await running()).some((q) => q.includes(SLOW));

    /** Starts migrating, presses Ctrl-C once `ready` holds; the error and how long it took. */
    async function interrupted(ready: () => Promise<boolean>) {
      const interrupt = new AbortController();
      const applying = caught(
        new Migrator(driver(), await readMigrationDir(files.dir)).apply({
          appliedBy: 'tester',
          release: 'r1',
          signal: interrupt.signal,
        }),
      );
      const deadline = Date.now() + 5000;
      while (!(await ready())) {
        if (Date.now() > deadline) throw new Error('the migration never got there');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const pressed = performance.now();
      interrupt.abort(new Error('interrupted by Ctrl-C'));
      const error = await applying;
      return { error, tookMs: performance.now() - pressed };
    }

    it('cancels the statement of a transactional file: nothing of it kept, no ledger row', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      await files.write('0002_slow_tags.sql', `${SLOW};\n${TAGS}\n`);
      const { error, tookMs } = await interrupted(sleeping);

      expect(tookMs).toBeLessThan(1000); // not the 5 s of pg_sleep
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toBe(
        `Migration ${join(files.dir, '0002_slow_tags.sql')} was cancelled by Ctrl-C: nothing of 0002_slow_tags.sql was applied.`,
      );
      expect(error.hint).toContain('0002_slow_tags.sql is still pending');
      expect(error.details).toMatchObject({ cancelled: true, version: 2, postgresCode: '57014' });
      expect((error.details.applied as { version: number }[]).map((e) => e.version)).toEqual([1]);
      expect(await running()).toEqual([]);
      expect(await tableExists('tags')).toBe(false);
      expect(await ledgerVersions()).toEqual([1]);
      expect(await rows("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")).toEqual([]);
    });

    it('stops a no-transaction file at its running statement, saying what stays applied', async () => {
      await files.write(
        '0001_slow_setup.sql',
        ['-- airlock:no-transaction', NOTES.trim(), `${SLOW};`, TAGS, ''].join('\n'),
      );
      const { error, tookMs } = await interrupted(sleeping);

      expect(tookMs).toBeLessThan(1000);
      expect(error.message).toBe(
        `Migration ${join(files.dir, '0001_slow_setup.sql')} was cancelled by Ctrl-C at statement 2 of 3 (line 3: ${SLOW}).`,
      );
      expect(error.hint).toContain(
        'so what ran of it cannot be rolled back: its first statement stays applied, and no ledger row was written.',
      );
      expect(error.details).toMatchObject({ cancelled: true, statement: 2, appliedStatements: 1 });
      expect(await running()).toEqual([]);
      expect(await tableExists('notes')).toBe(true);
      expect(await tableExists('tags')).toBe(false);
      expect(await ledgerVersions()).toEqual([]);
    });

    it('stops waiting for the migration lock', async () => {
      await files.write('0001_create_notes.sql', NOTES);
      const release = await driver().lock();
      // Both sessions tried the lock: the holder got it, the other one waits.
      const { error, tookMs } = await interrupted(
        async () =>
          (await sessions(false)).filter((q) => q.includes('pg_try_advisory_lock')).length === 2,
      );

      expect(tookMs).toBeLessThan(1000); // not the 60 s of migrationLockTimeoutMs
      expect(error.message).toBe(
        'Migrations stopped by Ctrl-C while waiting for the migration lock: no migration ran.',
      );
      expect(error.details).toMatchObject({ cancelled: true });
      expect(await tableExists('notes')).toBe(false);
      await release();
    });
  });

  it('survives its session being terminated: the next call fails, nothing crashes', async () => {
    const d = driver();
    expect(await d.readLedger()).toEqual([]);
    const release = await d.lock();
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'airlock migrate'",
      [db.name],
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const error = await caught(d.readLedger());
    expect(error.code).toBe('MIGRATION_DATABASE_UNREACHABLE');
    expect(error.message).toContain('Lost the connection to Postgres');
    await release(); // the lock went with the session
    await d.close();
  });
});
