/**
 * Least-privilege roles for the Postgres state store (`airlock state grant`): the role CI and
 * laptops run Airlock with may read and write Airlock's tables, but may only INSERT and SELECT
 * audit events (no UPDATE, DELETE or TRUNCATE) and may not delete the chain's head row. The
 * tables stay owned by the role that created them (the first `airlock` run, or a migration after
 * an upgrade): only that owner can drop the guards, which the hash chain then exposes.
 */
import { sql } from 'kysely';
import { KyselyStateStore } from './kysely-state-store.ts';
import type { StateStore } from './state-store.ts';

/** A role name Postgres accepts unquoted: lowercase letters, digits, `_`. */
export const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The statements, in order, that create (if missing) and grant role `role` on schema `schema`.
 * @throws Error when `role` or `schema` is not a plain lowercase name (callers check first).
 */
export function stateGrantStatements(schema: string, role: string): string[] {
  if (!ROLE_NAME.test(role) || !ROLE_NAME.test(schema))
    throw new Error(`not a plain name: ${role} / ${schema}`);
  const s = `"${schema}"`;
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} NOLOGIN; END IF; END $$`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${role}`,
    `GRANT USAGE ON SCHEMA ${s} TO ${role}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${role}`,
    `REVOKE UPDATE, DELETE, TRUNCATE ON ${s}."audit_events" FROM ${role}`,
    `REVOKE DELETE, TRUNCATE ON ${s}."audit_head" FROM ${role}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${role}`,
  ];
}

/**
 * Runs the statements on the store's database, in one transaction.
 * @throws the database's error, e.g. when the connected role may not create roles.
 */
export async function applyStateGrants(store: StateStore, statements: string[]): Promise<void> {
  if (!(store instanceof KyselyStateStore)) throw new Error('not a Kysely state store');
  await store.db.transaction().execute(async (trx) => {
    for (const statement of statements) await sql.raw(statement).execute(trx);
  });
}
