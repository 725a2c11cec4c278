/**
 * An environment's Postgres database that cannot be reached, opened through the session's
 * databases (real Postgres: the server answers, the database does not exist): the error says
 * whose database it is and which variable its URL came from, and never shows the password.
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import type { ResolvedDatabase } from '../../src/config/resolve.ts';
import { AirlockError } from '../../src/errors.ts';
import { createDatabases } from '../../src/pipeline/databases.ts';
import { describeIfPostgres, TEST_POSTGRES_URL } from '../helpers/postgres.ts';

describeIfPostgres('an environment database that cannot be reached', () => {
  const url = new URL(TEST_POSTGRES_URL);
  url.password = 'Sup3rSecretPW';
  url.pathname = `/airlock_missing_${randomBytes(4).toString('hex')}`;
  const database = {
    engine: 'postgres',
    environment: 'production',
    url: url.href,
    display: url.href.replace('Sup3rSecretPW', '***'),
    variables: ['PROD_DATABASE_URL'],
    lockTimeoutMs: 5_000,
    statementTimeoutMs: 60_000,
    toolLedger: false,
    layout: { layout: 'airlock' },
    migrationsDir: '/nonexistent/migrations',
    migrations: 'migrations',
    migrate: 'before-switch',
    drift: 'block',
  } as unknown as ResolvedDatabase;

  for (const how of ['open', 'readLedger'] as const) {
    it(`names the environment and the variable (${how}), never the password`, async () => {
      const databases = createDatabases([], 'project-x');
      const error = await databases[how](database).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(AirlockError);
      const e = error as AirlockError;
      expect(e.code).toBe('MIGRATION_DATABASE_UNREACHABLE');
      expect(e.message).toMatch(
        /^production's database \(its URL is read from \$PROD_DATABASE_URL\): cannot connect to Postgres at postgres:\/\/\S+:\*\*\*@/,
      );
      expect(e.hint).toContain('`airlock migrate status production`');
      expect(e.details).toMatchObject({
        environment: 'production',
        variables: ['PROD_DATABASE_URL'],
      });
      expect(
        JSON.stringify({ message: e.message, hint: e.hint, details: e.details }),
      ).not.toContain('Sup3rSecretPW');
    });
  }
});
