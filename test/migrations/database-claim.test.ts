/**
 * Isolation by identity: a database claimed by one environment is refused for another, whatever
 * URL reaches it — a process that holds only production's URL (as a CI job for production does)
 * still finds that the database is staging's.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedDatabase } from '../../src/config/resolve.ts';
import { databaseIdentity } from '../../src/config/resolve-databases.ts';
import { UserError } from '../../src/errors.ts';
import { createDatabases } from '../../src/pipeline/databases.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';

function database(
  environment: string,
  engine: 'postgres' | 'sqlite',
  url: string,
): ResolvedDatabase {
  return {
    engine,
    environment,
    migrationsDir: '/nonexistent/migrations',
    migrations: 'migrations',
    layout: { layout: 'airlock' },
    toolLedger: false,
    migrate: 'before-switch',
    url,
    display: url,
    lockTimeoutMs: 5000,
    statementTimeoutMs: 60000,
    drift: 'block',
  };
}

async function refusal(run: () => Promise<unknown>): Promise<UserError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('the database was accepted');
}

/** Another spelling of the same database: `127.0.0.1` of `url` replaced by `host` (or `?host=`). */
function spelled(url: string, how: string): string {
  const u = new URL(url);
  if (how === '?host=') {
    u.hostname = 'db-alias.invalid';
    return `${u.href}${u.search ? '&' : '?'}host=127.0.0.1`;
  }
  u.hostname = how;
  return u.href;
}

describe('database identity of a URL', () => {
  it('reads every spelling of the loopback host and ?host= as one host', () => {
    const base = databaseIdentity('postgres://app@127.0.0.1:5432/app');
    for (const host of ['localhost', '127.1', '0.0.0.0', '2130706433', '0x7f.1', '127.0.0.2'])
      expect(databaseIdentity(`postgres://app@${host}:5432/app`), host).toBe(base);
    expect(databaseIdentity('postgres://app@alias.internal:5432/app?host=127.0.0.1')).toBe(base);
    expect(databaseIdentity('postgres://app@127.0.0.1:5432/other')).not.toBe(base);
  });
});

describeIfPostgres('claims on Postgres', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('airlock_claim');
  });
  afterAll(() => db?.drop());

  it("refuses staging's database to production under every spelling, in a process that holds only production's URL", async () => {
    const staging = createDatabases([], 'notes');
    const driver = await staging.open(database('staging', 'postgres', db.url));
    await driver.close();
    // Staging again: its own claim.
    await (await staging.open(database('staging', 'postgres', db.url))).close();
    for (const how of ['127.1', '0.0.0.0', '2130706433', '?host=']) {
      // A separate session, as a CI job for production would be: it knows no other URL.
      const production = createDatabases([], 'notes');
      const url = spelled(db.url, how);
      const error = await refusal(() => production.open(database('production', 'postgres', url)));
      expect(error.code, how).toBe('DATABASE_CLAIMED');
      expect(error.message).toMatch(/given to production belongs to environment staging/);
      const read = await refusal(() =>
        production.readLedger(database('production', 'postgres', url)),
      );
      expect(read.code).toBe('DATABASE_CLAIMED');
    }
    // Another project's environment of the same name is refused too.
    const other = await refusal(() =>
      createDatabases([], 'billing').open(database('staging', 'postgres', db.url)),
    );
    expect(other.message).toMatch(/environment staging of project notes/);
  });

  it("refuses a state store in an environment's application database", async () => {
    await (
      await createDatabases([], 'notes').open(database('staging', 'postgres', db.url))
    ).close();
    const error = await refusal(() => PostgresStateStore.open({ url: spelled(db.url, '127.1') }));
    expect(error.code).toBe('STATE_IN_APPLICATION_DATABASE');
    expect(error.message).toMatch(/application database of environment staging/);
  });
});

describe('claims on SQLite', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-claim-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a production file that is a symbolic link to staging's", async () => {
    mkdirSync(path.join(dir, 'staging'));
    mkdirSync(path.join(dir, 'production'));
    const stagingFile = path.join(dir, 'staging', 'app.db');
    const productionFile = path.join(dir, 'production', 'app.db');
    const databases = createDatabases([], 'notes');
    await (
      await databases.open(database('staging', 'sqlite', pathToFileURL(stagingFile).href))
    ).close();
    symlinkSync(stagingFile, productionFile);
    const error = await refusal(() =>
      databases.open(database('production', 'sqlite', pathToFileURL(productionFile).href)),
    );
    expect(error.code).toBe('DATABASE_CLAIMED');
  });
});
