/**
 * Opening the environments' databases: SQLite files and Postgres through the migrator's own
 * drivers, and engines a platform hosts (D1) through its provider's `databaseEngine`, so the
 * core never imports a platform's code. Built once per session and passed in the context.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ResolvedDatabase, usableDatabase } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import type { LedgerEntry } from '../migrations/ledger.ts';
import type { DatabaseLocation, MigrationDriver } from '../migrations/migration-driver.ts';
import { SqliteMigrationDriver } from '../migrations/sqlite-migration-driver.ts';
import type { ToolLayout } from '../migrations/tool-ledgers.ts';
import type { DatabaseEngine } from '../providers/provider.ts';

export interface Databases {
  /**
   * Opens the migration driver of a database. The Postgres driver (and `pg`) load only when
   * needed. @throws UserError `DATABASE_URL_UNSET`; what the engine throws.
   */
  open(database: ResolvedDatabase): Promise<MigrationDriver>;
  /** Reads a ledger without creating anything (no SQLite file, no Postgres table). */
  readLedger(database: ResolvedDatabase): Promise<LedgerEntry[]>;
  /**
   * Where a database's rows are, for tools that open it directly (dry run, drift, describe).
   * @throws UserError `DATABASE_URL_UNSET`; what the engine throws.
   */
  location(database: ResolvedDatabase): Promise<DatabaseLocation>;
}

/** The tool whose ledger Airlock also writes for `database` (co-existence), or null. */
export function toolLedgerOf(database: ResolvedDatabase): ToolLayout | null {
  const { layout } = database.layout;
  return database.toolLedger && layout !== 'airlock' ? layout : null;
}

/**
 * The databases of a session. `hosted`: the engines the configuration's providers host;
 * `project`: whose claim each database carries (opening one claims it on first contact, reading
 * a ledger only checks the claim: see `migrations/database-claim.ts`).
 * @throws nothing; opening a database whose engine no provider hosts throws UserError
 *   `PROVIDER_CONFIG_INVALID`.
 */
export function createDatabases(hosted: readonly DatabaseEngine[], project: string): Databases {
  const engineOf = (database: ResolvedDatabase): DatabaseEngine | null => {
    if (database.engine === 'sqlite' || database.engine === 'postgres') return null;
    const engine = hosted.find((e) => e.engine === database.engine);
    if (!engine) {
      throw new UserError(
        'PROVIDER_CONFIG_INVALID',
        `a ${database.engine} database needs the provider that hosts it (cloudflare for d1).`,
        { hint: 'Set the environment’s provider to cloudflare, or use engine sqlite or postgres.' },
      );
    }
    return engine;
  };
  const open = async (database: ResolvedDatabase): Promise<MigrationDriver> => {
    const driver = await openDriver(database);
    await claimed(driver, database, true);
    return driver;
  };
  /** Checks (and with `create`, writes) the database's claim; closes the driver when refused. */
  const claimed = async (driver: MigrationDriver, database: ResolvedDatabase, create: boolean) => {
    try {
      await driver.claim?.({ project, environment: database.environment }, { create });
    } catch (error) {
      await driver.close();
      throw whoseDatabase(error, database);
    }
  };
  const openDriver = async (database: ResolvedDatabase): Promise<MigrationDriver> => {
    usableDatabase(database);
    const engine = engineOf(database);
    if (engine) return engine.open(database);
    if (database.engine === 'postgres') {
      const { PostgresMigrationDriver } = await import(
        '../migrations/postgres-migration-driver.ts'
      );
      return new PostgresMigrationDriver(database.url, {
        lockTimeoutMs: database.lockTimeoutMs,
        statementTimeoutMs: database.statementTimeoutMs,
        toolLedger: toolLedgerOf(database),
      });
    }
    return new SqliteMigrationDriver(database.url, { toolLedger: toolLedgerOf(database) });
  };
  return {
    open,
    async readLedger(database) {
      usableDatabase(database);
      const engine = engineOf(database);
      const missing = engine
        ? await engine.missing(database)
        : database.engine === 'sqlite' && !existsSync(fileURLToPath(database.url));
      if (missing) return [];
      const driver = await openDriver(database);
      await claimed(driver, database, false);
      try {
        return await driver.readLedger();
      } catch (error) {
        throw whoseDatabase(error, database);
      } finally {
        await driver.close();
      }
    },
    async location(database) {
      usableDatabase(database);
      const engine = engineOf(database);
      if (engine) return engine.location(database);
      return { engine: database.engine as 'sqlite' | 'postgres', url: database.url };
    },
  };
}

/**
 * A database that cannot be reached, said as whose it is: the environment, and the variable its
 * URL was read from (the URL alone, password masked, does not say which setting to fix). Other
 * errors are returned as they are.
 */
export function whoseDatabase(error: unknown, database: ResolvedDatabase): unknown {
  if (!(error instanceof UserError) || error.code !== 'MIGRATION_DATABASE_UNREACHABLE')
    return error;
  const from = database.variables?.length
    ? ` (its URL is read from ${database.variables.map((v) => `$${v}`).join(', ')})`
    : '';
  return new UserError(
    error.code,
    `${database.environment}'s database${from}: ${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}`,
    {
      ...(error.hint
        ? {
            hint: error.hint.replaceAll(
              '`airlock migrate status`',
              `\`airlock migrate status ${database.environment}\``,
            ),
          }
        : {}),
      details: {
        ...error.details,
        environment: database.environment,
        ...(database.variables ? { variables: database.variables } : {}),
      },
      cause: error.cause ?? error,
    },
  );
}
