/**
 * Kysely's SQLite dialect over Node's built-in `node:sqlite` (`DatabaseSync`), so the state
 * store needs no native module. Kysely expects a better-sqlite3-shaped database; this adapts
 * the few calls it makes.
 */
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { type SqliteDatabase, SqliteDialect } from 'kysely';

function toParam(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value as SQLInputValue;
}

/** Wraps an open `DatabaseSync` in the interface Kysely's `SqliteDialect` calls. */
export function adaptNodeSqlite(db: DatabaseSync): SqliteDatabase {
  return {
    close: () => db.close(),
    prepare(sql: string) {
      const statement = db.prepare(sql);
      const params = (values: ReadonlyArray<unknown>) => values.map(toParam);
      return {
        reader: statement.columns().length > 0,
        all: (values) => statement.all(...params(values)),
        run: (values) => {
          const { changes, lastInsertRowid } = statement.run(...params(values));
          return { changes, lastInsertRowid };
        },
        iterate: (values) => statement.iterate(...params(values)),
      };
    },
  };
}

/** A Kysely dialect for an open `node:sqlite` database. */
export function nodeSqliteDialect(db: DatabaseSync): SqliteDialect {
  return new SqliteDialect({ database: adaptNodeSqlite(db) });
}
