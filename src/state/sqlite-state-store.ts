/**
 * The embedded state store: one SQLite file (`state.db` in the project's Airlock home by default) through Node's
 * built-in `node:sqlite`, in WAL mode so the CLI, the local runtime and the dashboard can read
 * and write it at the same time.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, sql } from 'kysely';
import { UserError } from '../errors.ts';
import { audit } from './audit.ts';
import { SQLITE_AUDIT_GUARDS } from './audit-guards.ts';
import { KyselyStateStore, migrateStateSchema, type StoreDialect } from './kysely-state-store.ts';
import { nodeSqliteDialect } from './node-sqlite-dialect.ts';
import { STATE_SCHEMA_VERSION, type StateDatabase } from './schema.ts';

export interface SqliteStateStoreOptions {
  /** Path of the database file; parent folders are created. */
  file: string;
  /** How long (ms) a writer waits for another process's write lock. Default 10 000. */
  busyTimeoutMs?: number;
}

/** SQLite: a write transaction takes the write lock up front (BEGIN IMMEDIATE), on the one connection. */
export const sqliteStoreDialect: StoreDialect = {
  name: 'sqlite',
  forShare: false,
  atomically: (db, fn) =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`commit`.execute(conn);
        return result;
      } catch (error) {
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    }),
};

export class SqliteStateStore extends KyselyStateStore {
  readonly file: string;

  private constructor(db: Kysely<StateDatabase>, file: string) {
    super(db, sqliteStoreDialect);
    this.file = file;
  }

  /**
   * Opens (creating if needed) the store and brings its schema up to date.
   * @throws UserError `STATE_SCHEMA_TOO_NEW`; InternalError when the file cannot be opened.
   */
  static async open(options: SqliteStateStoreOptions): Promise<SqliteStateStore> {
    mkdirSync(path.dirname(options.file), { recursive: true });
    const database = new DatabaseSync(options.file, { timeout: options.busyTimeoutMs ?? 10_000 });
    // recursive_triggers: INSERT OR REPLACE on this connection fires the audit log's delete guard.
    database.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA recursive_triggers = ON;',
    );
    const db = new Kysely<StateDatabase>({ dialect: nodeSqliteDialect(database) });
    // Fast path: user_version says the schema is current, so the migrator need not look.
    const { user_version: version } = database.prepare('PRAGMA user_version').get() as {
      user_version: number;
    };
    if (version > STATE_SCHEMA_VERSION) {
      database.close();
      throw new UserError(
        'STATE_SCHEMA_TOO_NEW',
        `${options.file} was written by a newer Airlock (state schema ${version}; this one knows ${STATE_SCHEMA_VERSION}).`,
        { hint: 'Upgrade Airlock to the version that wrote this state.' },
      );
    }
    if (version < STATE_SCHEMA_VERSION) {
      await migrateStateSchema(db, 'sqlite');
      database.exec(`PRAGMA user_version = ${STATE_SCHEMA_VERSION}`);
    }
    const store = new SqliteStateStore(db, options.file);
    await store.#restoreGuards(database);
    return store;
  }

  /**
   * The audit log's guard triggers (`SQLITE_AUDIT_GUARDS`) are checked on every open (one query);
   * any that someone dropped is created again, and `audit.guard-restored` records which.
   */
  async #restoreGuards(database: DatabaseSync): Promise<void> {
    const names = Object.keys(SQLITE_AUDIT_GUARDS);
    const present = new Set(
      (
        database
          .prepare(
            `SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (${names.map(() => '?').join(', ')})`,
          )
          .all(...names) as Array<{ name: string }>
      ).map((r) => r.name),
    );
    const missing = names.filter((n) => !present.has(n));
    if (missing.length === 0) return;
    for (const name of missing) database.exec(SQLITE_AUDIT_GUARDS[name] as string);
    await audit({ store: this, actor: 'airlock', now: () => new Date() }, 'audit.guard-restored', {
      environment: null,
      detail: {
        triggers: missing,
        note: 'a guard of the audit log was missing (dropped outside Airlock) and was created again',
      },
    });
  }
}
