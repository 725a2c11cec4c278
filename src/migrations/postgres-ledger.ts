/**
 * Airlock's ledger on Postgres: the table `airlock.migrations` (schema `airlock`, out of the
 * application's `public`), `version integer primary key, name text, sha256 text, applied_at
 * timestamptz, applied_by text, duration_ms integer, release text` (`version` becomes `bigint` when a timestamped
 * layout's version does not fit an `integer`: `widenPostgresLedger`) — Flyway's
 * `flyway_schema_history` and Atlas's revisions table, reduced to what Airlock reads. The SQL
 * that reads and writes it, for `PostgresMigrationDriver`, dry runs and ledger adoption.
 */

import type { Client } from 'pg';
import { UserError } from '../errors.ts';
import { type LedgerEntry, POSTGRES_LEDGER_SCHEMA, POSTGRES_LEDGER_TABLE } from './ledger.ts';
import type { MigrationFile } from './migration-files.ts';
import { errorCode } from './postgres-client.ts';

/** The ledger schema and table's DDL. Idempotent. */
export const CREATE_POSTGRES_LEDGER = `CREATE SCHEMA IF NOT EXISTS ${POSTGRES_LEDGER_SCHEMA};
CREATE TABLE IF NOT EXISTS ${POSTGRES_LEDGER_TABLE} (
  version integer PRIMARY KEY,
  name text NOT NULL,
  sha256 text NOT NULL,
  applied_at timestamptz NOT NULL,
  applied_by text NOT NULL,
  duration_ms integer NOT NULL,
  release text
)`;

/**
 * Widens a ledger made before timestamped layouts (`version integer`) to `bigint`, so a
 * `20240101000000_init.sql` version fits. A no-op (one catalogue read) once it is `bigint`.
 */
export async function widenPostgresLedger(client: Client): Promise<void> {
  const { rows } = await client.query<{ data_type: string }>(
    `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'migrations' AND column_name = 'version'`,
    [POSTGRES_LEDGER_SCHEMA],
  );
  if (rows[0]?.data_type === 'integer') {
    await client.query(`ALTER TABLE ${POSTGRES_LEDGER_TABLE} ALTER COLUMN version TYPE bigint`);
  }
}

/** The largest Postgres `integer`. */
export const MAX_INTEGER = 2_147_483_647;

/**
 * Creates the ledger when missing; widens an old `integer` one when `version` needs `bigint`.
 */
export async function ensurePostgresLedger(client: Client, version: number): Promise<void> {
  if (!(await postgresLedgerExists(client))) await client.query(CREATE_POSTGRES_LEDGER);
  if (version > MAX_INTEGER) await widenPostgresLedger(client);
}

interface LedgerRow {
  version: number;
  name: string;
  sha256: string;
  applied_at: Date;
  applied_by: string;
  duration_ms: number;
  release: string | null;
}

/** True when `airlock.migrations` exists in the database `client` is on. */
export async function postgresLedgerExists(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ present: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [POSTGRES_LEDGER_TABLE],
  );
  return rows[0]?.present === true;
}

/** Every row of `airlock.migrations` (which must exist), sorted by version. */
export async function readPostgresLedger(client: Client): Promise<LedgerEntry[]> {
  const { rows } = await client.query<LedgerRow>(
    `SELECT version, name, sha256, applied_at, applied_by, duration_ms, release FROM ${POSTGRES_LEDGER_TABLE} ORDER BY version`,
  );
  return rows.map(toEntry);
}

/** Inserts one row into `airlock.migrations` (which must exist). */
export async function insertPostgresLedgerRow(client: Client, entry: LedgerEntry): Promise<void> {
  await client.query(
    `INSERT INTO ${POSTGRES_LEDGER_TABLE} (version, name, sha256, applied_at, applied_by, duration_ms, release) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      entry.version,
      entry.name,
      entry.sha256,
      entry.appliedAt,
      entry.appliedBy,
      entry.durationMs,
      entry.release,
    ],
  );
}

/**
 * Throws when `file`'s version is in the ledger already (a lost race).
 *
 * @throws UserError `MIGRATION_FAILED` naming who applied it and when.
 */
export async function refuseIfApplied(client: Client, file: MigrationFile): Promise<void> {
  const { rows } = await client.query<LedgerRow>(
    `SELECT * FROM ${POSTGRES_LEDGER_TABLE} WHERE version = $1`,
    [file.version],
  );
  const row = rows[0];
  if (row) throw alreadyApplied(file, row.applied_by, row.applied_at.toISOString());
}

/**
 * Inserts `file`'s ledger row.
 *
 * @throws UserError `MIGRATION_FAILED` when another process inserted its version first (the
 *   primary key's unique violation, 23505); any other error as Postgres raised it.
 */
export async function recordApplied(
  client: Client,
  file: MigrationFile,
  entry: LedgerEntry,
): Promise<void> {
  try {
    await insertPostgresLedgerRow(client, entry);
  } catch (error) {
    if (errorCode(error) === '23505') {
      throw alreadyApplied(file, 'another process', 'the same time');
    }
    throw error;
  }
}

function alreadyApplied(file: MigrationFile, by: string, at: string): UserError {
  return new UserError(
    'MIGRATION_FAILED',
    `Migration ${file.path} was already applied (by ${by} at ${at}); another process got there first.`,
    {
      hint: 'Run `airlock migrate status` to see the ledger, then `airlock migrate apply` again.',
      details: { file: file.path, version: file.version },
    },
  );
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    version: Number(row.version),
    name: row.name,
    sha256: row.sha256,
    appliedAt: row.applied_at.toISOString(),
    appliedBy: row.applied_by,
    durationMs: Number(row.duration_ms),
    release: row.release ?? null,
  };
}
