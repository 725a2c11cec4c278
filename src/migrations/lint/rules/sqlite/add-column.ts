/**
 * The `ALTER TABLE … ADD COLUMN` statements of a SQLite file, for the rules about adding a
 * column to a table that has rows (https://www.sqlite.org/lang_altertable.html#altertabaddcol).
 * SQLite checks these restrictions only when the table has rows (`sqlite3ErrorIfNotEmpty` in
 * `src/alter.c`): the statement passes on an empty staging table and fails in production.
 */

import type { ReadStatement, SqliteColumnDefinition } from '../../sqlite-statement.ts';

/** One added column, with the table it is added to. */
export interface AddedColumn {
  table: string;
  column: SqliteColumnDefinition;
}

/** The column `statement` adds, if it is `ALTER TABLE … ADD COLUMN`. */
export function addedColumn(statement: ReadStatement): AddedColumn | undefined {
  if (statement.kind !== 'alter-table' || statement.action.type !== 'add-column') return undefined;
  return { table: statement.table.name, column: statement.action.column };
}

/** The sentence every message of these rules ends with. */
export function passesEmptyFailsWithRows(engine: 'sqlite' | 'd1'): string {
  return `SQLite${engine === 'd1' ? ' (and so D1)' : ''} checks this only when the table has rows, so the migration passes on an empty staging table and fails in production.`;
}
