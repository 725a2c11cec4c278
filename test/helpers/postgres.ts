/**
 * Real Postgres for tests (DESIGN.md principle 6). The server is
 * `AIRLOCK_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres` (trust
 * auth); its user must be allowed to CREATE DATABASE. Each test makes its own database with
 * `createTestDatabase` and drops it afterwards, so tests never share state and can run in
 * parallel.
 *
 * When nothing answers, `describeIfPostgres` skips its suite locally (with a warning saying
 * what is needed) but fails it in CI (`process.env.CI` set), so a CI without Postgres can
 * never pass by skipping.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { describe, it } from 'vitest';

/** The admin connection string of the test server. */
export const TEST_POSTGRES_URL =
  process.env.AIRLOCK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** `TEST_POSTGRES_URL` for messages, without its password. */
export const TEST_POSTGRES_SHOWN = withDatabase(TEST_POSTGRES_URL, null, true);

/** What the Postgres tests need, for skip and failure messages. */
export const POSTGRES_NEEDED = `a Postgres server at ${TEST_POSTGRES_SHOWN} whose user may CREATE DATABASE (locally: trust auth, e.g. \`docker run -e POSTGRES_HOST_AUTH_METHOD=trust -p 5432:5432 postgres:15\`), or AIRLOCK_TEST_POSTGRES_URL set to one`;

/** Runs `fn` on a fresh admin connection to the test server, then closes it. */
export async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: TEST_POSTGRES_URL,
    connectionTimeoutMillis: 3000,
    application_name: 'airlock tests (admin)',
  });
  client.on('error', () => {}); // a dying server must not crash the test process
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let probe: Promise<string | null> | undefined;

/** Why the test server cannot be used (its error message), or null when it answers. Cached. */
export function postgresProblem(): Promise<string | null> {
  probe ??= withAdminClient((c) => c.query('SELECT 1')).then(
    () => null,
    (error: unknown) =>
      (error instanceof Error && error.message) ||
      String((error as { code?: unknown })?.code ?? error),
  );
  return probe;
}

/** True when the test server answers. */
export async function postgresAvailable(): Promise<boolean> {
  return (await postgresProblem()) === null;
}

// Probed once per test file at import, so `describeIfPostgres` can decide synchronously.
const problemAtImport = await postgresProblem();

/** A database of its own for one test. */
export interface TestDatabase {
  /** Database name, e.g. `airlock_mig_3f9a0c12d4e5`. */
  name: string;
  /** Connection string to it (the test server's, with this database). */
  url: string;
  /** Drops it, ending any connection still open (`WITH (FORCE)`). Idempotent. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database named `<prefix>_<12 random hex>` on the test server.
 * `prefix` is lowercase letters, digits and `_` (e.g. `airlock_mig`).
 */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
    throw new Error(`createTestDatabase: bad prefix ${JSON.stringify(prefix)}`);
  }
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  // template0 is pristine and accepts no connections, so a session on template1 cannot block us.
  await withAdminClient((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE template0`));
  return {
    name,
    url: withDatabase(TEST_POSTGRES_URL, name, false),
    drop: () =>
      withAdminClient(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

/**
 * Sessions connected to database `name` (other than admin ones), after waiting up to
 * `timeoutMs` for closed ones to go (a backend exits shortly after its client hangs up).
 * Tests assert 0 to prove they leak no connection.
 */
export async function openConnections(name: string, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await withAdminClient(async (c) => {
      const { rows } = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      return rows[0]?.n ?? 0;
    });
    if (n === 0 || Date.now() > deadline) return n;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * `describe` for a suite that needs the test server: runs it when Postgres answers; otherwise
 * skips it with a warning saying what is needed, or, in CI, replaces it with one failing test
 * that says so. `options.timeout` (ms) is each test's timeout.
 */
export function describeIfPostgres(
  name: string,
  fn: () => void,
  options: { timeout?: number } = {},
): void {
  if (problemAtImport === null) {
    describe(name, options, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs Postgres', () => {
        throw new Error(
          `Postgres did not answer (${problemAtImport}). CI must provide ${POSTGRES_NEEDED}.`,
        );
      });
    });
  } else {
    console.warn(
      `Skipping "${name}": Postgres did not answer (${problemAtImport}). These tests need ${POSTGRES_NEEDED}.`,
    );
    describe.skip(`${name} (skipped: needs Postgres at ${TEST_POSTGRES_SHOWN})`, fn);
  }
}

/** `url` with its database replaced by `database` (when given) and, if `redact`, no password. */
function withDatabase(url: string, database: string | null, redact: boolean): string {
  const parsed = new URL(url);
  if (database !== null) parsed.pathname = `/${database}`;
  if (redact && parsed.password) parsed.password = '***';
  return parsed.href;
}
