/**
 * Isolation by identity: on first contact Airlock writes a claim (project, environment) into each
 * environment's database, and every later contact reads it back. A database claimed by another
 * environment is refused by every command, whatever URL reached it (`127.1`, `0.0.0.0`, an integer
 * address, a host alias, `?host=`): comparing URL text cannot see that two spellings are one
 * database, and a CI job that holds only its own environment's URL has nothing to compare with.
 * The claim sits beside the ledger: `airlock.claim` on Postgres, `airlock_claim` on SQLite (both
 * left out of schema snapshots and drift).
 */
import type { Client } from 'pg';
import { UserError } from '../errors.ts';
import { POSTGRES_LEDGER_SCHEMA } from './ledger.ts';

/** Who a database belongs to. */
export interface DatabaseClaim {
  project: string;
  environment: string;
}

/** SQLite: the claim table in the environment's database file. */
export const SQLITE_CLAIM_TABLE = 'airlock_claim';
/** Postgres: the claim table, in Airlock's own schema beside the ledger. */
export const POSTGRES_CLAIM_TABLE_NAME = 'claim';
const POSTGRES_CLAIM_TABLE = `${POSTGRES_LEDGER_SCHEMA}.${POSTGRES_CLAIM_TABLE_NAME}`;

/**
 * @throws UserError `DATABASE_CLAIMED` when `found` is another project's or environment's claim.
 */
function compare(found: DatabaseClaim | undefined, claim: DatabaseClaim, where: string): void {
  if (!found) return;
  if (found.project === claim.project && found.environment === claim.environment) return;
  const owner =
    found.project === claim.project
      ? `environment ${found.environment}`
      : `environment ${found.environment} of project ${found.project}`;
  throw new UserError(
    'DATABASE_CLAIMED',
    `The database ${where} given to ${claim.environment} belongs to ${owner}: environments never share a database, so nothing was done (a change meant for ${claim.environment} would have reached ${found.environment}'s data).`,
    {
      hint: `Give ${claim.environment} its own database (its URL may be another spelling of ${found.environment}'s: an alias of the host, 127.1, 0.0.0.0, ?host=). If this database really moved to ${claim.environment}, remove its claim first: DELETE FROM ${where.startsWith('postgres') ? POSTGRES_CLAIM_TABLE : SQLITE_CLAIM_TABLE};`,
      details: {
        environment: claim.environment,
        claimedBy: found.environment,
        claimedByProject: found.project,
      },
    },
  );
}

/**
 * Reads the claim of a Postgres database and, with `create`, writes `claim` when there is none.
 * @param where the database as shown in messages (password masked).
 * @throws UserError `DATABASE_CLAIMED` (see above).
 */
export async function claimPostgres(
  client: Client,
  claim: DatabaseClaim,
  where: string,
  options: { create: boolean },
): Promise<void> {
  // One query once claimed (every later contact); the table is made on the first.
  const read = async (): Promise<DatabaseClaim | undefined> => {
    try {
      const row = await client.query<DatabaseClaim>(
        `SELECT project, environment FROM ${POSTGRES_CLAIM_TABLE} WHERE id = 1`,
      );
      return row.rows[0];
    } catch (error) {
      // 42P01 undefined table, 3F000 undefined schema: never claimed.
      const code = (error as { code?: string }).code;
      if (code === '42P01' || code === '3F000') return undefined;
      throw error;
    }
  };
  const found = await read();
  if (found || !options.create) {
    compare(found, claim, where);
    return;
  }
  await client.query(
    `CREATE SCHEMA IF NOT EXISTS ${POSTGRES_LEDGER_SCHEMA};
     CREATE TABLE IF NOT EXISTS ${POSTGRES_CLAIM_TABLE} (
       id int PRIMARY KEY CHECK (id = 1),
       project text NOT NULL,
       environment text NOT NULL,
       claimed_at timestamptz NOT NULL DEFAULT now()
     );
     INSERT INTO ${POSTGRES_CLAIM_TABLE} (id, project, environment) VALUES (1, ${literal(claim.project)}, ${literal(claim.environment)}) ON CONFLICT (id) DO NOTHING`,
  );
  // Another process may have claimed it first: what is there now decides.
  compare(await read(), claim, where);
}

/** A SQL string literal (project and environment names are validated identifiers, but quote anyway). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Runs one SQL statement with `?` parameters and returns its rows: a SQLite file's connection, or
 * D1's HTTP API (the same SQL dialect).
 */
export type SqliteStatementRunner = (
  sql: string,
  params?: string[],
) => Promise<Record<string, unknown>[]>;

/**
 * The SQLite form of {@link claimPostgres}, over a SQLite file or a D1 database (`run`).
 * @throws UserError `DATABASE_CLAIMED`.
 */
export async function claimSqlite(
  run: SqliteStatementRunner,
  claim: DatabaseClaim,
  where: string,
  options: { create: boolean },
): Promise<void> {
  const read = async (): Promise<DatabaseClaim | undefined> => {
    const exists = await run(
      "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?",
      [SQLITE_CLAIM_TABLE],
    );
    if (exists.length === 0) return undefined;
    const [row] = await run(`SELECT project, environment FROM ${SQLITE_CLAIM_TABLE} WHERE id = 1`);
    return row ? { project: String(row.project), environment: String(row.environment) } : undefined;
  };
  const found = await read();
  if (found || !options.create) {
    compare(found, claim, where);
    return;
  }
  await run(
    `CREATE TABLE IF NOT EXISTS ${SQLITE_CLAIM_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), project TEXT NOT NULL, environment TEXT NOT NULL, claimed_at TEXT NOT NULL)`,
  );
  await run(
    `INSERT OR IGNORE INTO ${SQLITE_CLAIM_TABLE} (id, project, environment, claimed_at) VALUES (1, ?, ?, ?)`,
    [claim.project, claim.environment, new Date().toISOString()],
  );
  compare(await read(), claim, where);
}
