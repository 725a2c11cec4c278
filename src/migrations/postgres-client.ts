/**
 * Short-lived Postgres connections for work beside a migration driver's own session: reading a
 * schema, making and dropping scratch databases, reading another tool's ledger. And the error's
 * SQLSTATE, which messages about a Postgres failure need (the URL in them goes through
 * `redactUrl` of src/secrets/redact.ts).
 */

import { Client } from 'pg';
import { UserError } from '../errors.ts';
import { redactUrl } from '../secrets/redact.ts';

/**
 * Runs `fn` on a new `pg.Client` to `url`, then closes it.
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` when it cannot connect.
 */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'airlock (scratch)',
  });
  client.on('error', () => {}); // a dying server must not crash the process
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new UserError(
      'MIGRATION_DATABASE_UNREACHABLE',
      `Could not connect to ${redactUrl(url)}: ${(error as Error).message}`,
      {
        hint: 'Check that the server is running and that the URL (host, port, database, user) is right.',
        details: { url: redactUrl(url) },
        cause: error,
      },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** `url` with its database (path) replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

/**
 * The `code` of an error (Postgres's SQLSTATE such as `23505` on a `pg` `DatabaseError`, or a
 * Node.js code such as `ECONNREFUSED`), or null when it has none.
 */
export function errorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}
