/**
 * `airlock data refresh staging --from production` killed with SIGKILL in the middle of its
 * COPY, as a real child process on real Postgres: staging keeps exactly the rows it had (the
 * copy is one transaction, which Postgres rolls back when the dead client's connection drops),
 * and the next refresh runs at once (the dead process's environment lock is taken over, and
 * the takeover is audited) and leaves staging fully refreshed.
 *
 * SQLite needs no such test: its copy is one transaction in the same file (`copy-sqlite.ts`),
 * which SQLite's journal rolls back when the file is next opened after a crash.
 */
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { describeIfPostgres } from '../helpers/postgres.ts';
import { BIN } from '../helpers/project.ts';
import { migrate, shopTest, sql } from './shop-databases.ts';

const SALT = 'kill-test-salt-0123456789abcdef';
// Enough rows that the copy of the first table lasts well beyond the poll that catches it.
const USERS = 30_000;

const SCHEMA = `CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text,
  phone text
);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users (id), total int NOT NULL);
`;

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T | null> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const found = await probe();
    if (found !== null) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

const { test } = shopTest('airlock_data_kill', SCHEMA, {
  scrub: { 'users.email': 'email', 'users.name': 'fullName', 'users.phone': 'phone' },
  keep: ['users.id', 'orders.*'],
});

describeIfPostgres('data refresh killed midway', () => {
  test('SIGKILL during the COPY leaves staging as before; the next refresh takes the lock over and completes', async ({
    project,
    dbs,
  }) => {
    const { ctx } = await project.session();
    await migrate(ctx, 'production');
    await migrate(ctx, 'staging');
    await sql(
      dbs.production.url,
      `INSERT INTO users (email, name, phone) SELECT 'customer' || i || '@real.test', 'Real' || i || ' Person', '+1-555-' || lpad(i::text, 7, '0') FROM generate_series(1, ${USERS}) i;
       INSERT INTO orders (user_id, total) SELECT 1 + (i % ${USERS}), i FROM generate_series(1, 1000) i;`,
    );
    await sql(
      dbs.staging.url,
      "INSERT INTO users (email, name) VALUES ('staging-own-1@x.test', 'Own One'), ('staging-own-2@x.test', 'Own Two'); INSERT INTO orders (user_id, total) VALUES (1, 7)",
    );
    const stagingRows = async () => ({
      users: await sql(dbs.staging.url, 'SELECT id, email, name, phone FROM users ORDER BY id'),
      orders: await sql(dbs.staging.url, 'SELECT id, user_id, total FROM orders ORDER BY id'),
    });
    const before = await stagingRows();
    const env = { ...process.env, AIRLOCK_DATA_SALT: SALT, CI: '1', NO_COLOR: '1' };

    const child = spawn(
      process.execPath,
      [BIN, 'data', 'refresh', 'staging', '--from', 'production'],
      {
        cwd: project.dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    let exitCode: number | null | undefined;
    const exited = new Promise<void>((resolve) =>
      child.on('exit', (code) => {
        exitCode = code;
        resolve();
      }),
    );

    // Midway: staging's COPY has taken rows in (Postgres' progress view), not yet committed.
    const progress = await waitFor(async () => {
      if (exitCode !== undefined) return null;
      const [row] = await sql<{ rows: string }>(
        dbs.staging.url,
        `SELECT p.tuples_processed AS rows FROM pg_stat_progress_copy p JOIN pg_database d ON d.oid = p.datid WHERE d.datname = '${dbs.staging.name}' AND p.command = 'COPY FROM' AND p.tuples_processed > 0`,
      );
      return row ? Number(row.rows) : null;
    }, 60_000);
    expect(progress, `the refresh never reached its COPY; its output:\n${output}`).not.toBeNull();
    expect(progress).toBeLessThan(USERS);
    child.kill('SIGKILL');
    await exited;
    expect(exitCode).toBeNull(); // killed, not finished

    // Postgres ends the dead client's session and rolls its transaction back.
    const gone = await waitFor(async () => {
      const [row] = await sql<{ n: string }>(
        dbs.staging.url,
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '${dbs.staging.name}' AND pid <> pg_backend_pid()`,
      );
      return Number(row?.n) === 0 ? true : null;
    }, 10_000);
    expect(gone).toBe(true);
    expect(await stagingRows()).toEqual(before);

    // The next refresh is not blocked by the dead process's lock: it takes it over and completes.
    const again = await project.cli(['data', 'refresh', 'staging', '--from', 'production'], {
      env,
      timeoutMs: 120_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const [counts] = await sql<{ users: string; orders: string; real: string }>(
      dbs.staging.url,
      "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM users WHERE email LIKE '%@real.test' OR email LIKE 'staging-own%') AS real",
    );
    expect(counts).toEqual({ users: String(USERS), orders: '1000', real: '0' });
    const audit = await ctx.store.listAudit({ limit: 50 });
    expect(audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['lock.taken-over', 'data.refreshed']),
    );
  });
});
