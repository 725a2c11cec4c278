/**
 * Airlock's ledger on an adoption's target database, read and written directly with the
 * drivers' own table layouts (`airlock_migrations` on SQLite: `CREATE_SQLITE_LEDGER`;
 * `airlock.migrations` on Postgres: postgres-ledger.ts), all rows in one transaction, under the
 * migration lock on Postgres.
 */

import { existsSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { UserError } from '../errors.ts';
import { LEDGER_TABLE, type LedgerEntry, POSTGRES_LEDGER_TABLE } from './ledger.ts';
import type { DatabaseLocation } from './migration-driver.ts';
import { formatMigrationVersion } from './migration-name.ts';
import { withClient } from './postgres-client.ts';
import {
  CREATE_POSTGRES_LEDGER,
  insertPostgresLedgerRow,
  MAX_INTEGER,
  widenPostgresLedger,
} from './postgres-ledger.ts';
import { MIGRATION_LOCK_KEY, PostgresMigrationDriver } from './postgres-migration-driver.ts';
import { CREATE_SQLITE_LEDGER, sqlitePathFromUrl } from './sqlite-migration-driver.ts';

const INSERT_COLUMNS = '(version, name, sha256, applied_at, applied_by, duration_ms, release)';

/**
 * Airlock's ledger on `target`, sorted by version; `[]` when it has none yet (nothing is
 * created).
 *
 * @throws UserError `MIGRATION_DATABASE_UNREACHABLE` for an unreachable Postgres.
 */
export async function readTargetLedger(target: DatabaseLocation): Promise<LedgerEntry[]> {
  if (target.engine === 'postgres') {
    const driver = new PostgresMigrationDriver(target.url);
    try {
      return await driver.readLedger();
    } finally {
      await driver.close();
    }
  }
  const path = sqlitePathFromUrl(target.url);
  if (path !== ':memory:' && !existsSync(path)) return [];
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    if (
      !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(LEDGER_TABLE)
    ) {
      return [];
    }
    return (
      db.prepare(`SELECT * FROM ${LEDGER_TABLE} ORDER BY version`).all() as Array<
        Record<string, unknown>
      >
    ).map((r) => ({
      version: Number(r.version),
      name: String(r.name),
      sha256: String(r.sha256),
      appliedAt: String(r.applied_at),
      appliedBy: String(r.applied_by),
      durationMs: Number(r.duration_ms),
      release: r.release === null ? null : String(r.release),
    }));
  } finally {
    db.close();
  }
}

function raced(versions: number[]): UserError {
  return new UserError(
    'MIGRATION_FAILED',
    `Another process recorded migration ${versions.map(formatMigrationVersion).join(', ')} in Airlock's ledger while adopting; nothing was adopted.`,
    {
      hint: 'Run `airlock migrate status`, then `airlock migrate adopt` again.',
      details: { versions },
    },
  );
}

/**
 * Inserts `rows` in one transaction, creating the ledger table as the driver would.
 *
 * @throws UserError `MIGRATION_FAILED` when another process recorded one of the versions
 *   meanwhile (nothing is written); `MIGRATION_DATABASE_UNREACHABLE` for an unreachable Postgres.
 */
export async function writeLedgerRows(
  target: DatabaseLocation,
  rows: LedgerEntry[],
): Promise<void> {
  const versions = rows.map((r) => r.version);
  if (target.engine === 'postgres') {
    await withClient(target.url, async (client) => {
      try {
        await client.query('BEGIN');
        await client.query("SET LOCAL lock_timeout = '10s'");
        // the key `Migrator.apply` holds (session-level) for the whole apply: serialise with it
        await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [
          MIGRATION_LOCK_KEY.toString(),
        ]);
        await client.query(CREATE_POSTGRES_LEDGER);
        if (versions.some((v) => v > MAX_INTEGER)) await widenPostgresLedger(client);
        const { rows: clash } = await client.query<{ version: number }>(
          `SELECT version FROM ${POSTGRES_LEDGER_TABLE} WHERE version = ANY($1::bigint[])`,
          [versions],
        );
        if (clash.length > 0) throw raced(clash.map((c) => Number(c.version)));
        for (const e of rows) await insertPostgresLedgerRow(client, e);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
    return;
  }
  const db = new DatabaseSync(sqlitePathFromUrl(target.url));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(CREATE_SQLITE_LEDGER);
      const clash = rows.filter((e) =>
        db.prepare(`SELECT 1 FROM ${LEDGER_TABLE} WHERE version = ?`).get(e.version),
      );
      if (clash.length > 0) throw raced(clash.map((c) => c.version));
      const insert = db.prepare(
        `INSERT INTO ${LEDGER_TABLE} ${INSERT_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const e of rows) {
        insert.run(e.version, e.name, e.sha256, e.appliedAt, e.appliedBy, e.durationMs, e.release);
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw error;
    }
  } finally {
    db.close();
  }
}
