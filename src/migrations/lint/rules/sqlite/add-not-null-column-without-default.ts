/**
 * `add-not-null-column-without-default`: `ALTER TABLE … ADD COLUMN … NOT NULL` without a
 * non-NULL DEFAULT. SQLite gives every existing row the column's default, so the statement
 * fails on any table with rows (https://www.sqlite.org/lang_altertable.html#altertabaddcol):
 * it passes on an empty staging table and fails in production.
 */

import { isNull } from '../../sql-nodes.ts';
import { addedColumn, passesEmptyFailsWithRows } from './add-column.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const addNotNullColumnWithoutDefaultRule: SqliteLintRule = {
  name: 'add-not-null-column-without-default',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'ALTER TABLE … ADD COLUMN … NOT NULL without a non-NULL DEFAULT fails on any table with rows.',
  source: 'https://www.sqlite.org/lang_altertable.html#altertabaddcol',
  suppressible: true,
  check(statement, context) {
    const added = addedColumn(statement);
    if (!added) return [];
    const { table, column } = added;
    if (!column.notNull || column.generated) return [];
    if (column.default && !isNull(column.default.tokens)) return [];
    return [
      {
        offset: column.start,
        message: `Column ${table}.${column.name} is added NOT NULL ${column.default ? 'with DEFAULT NULL' : 'without a DEFAULT'}: SQLite gives every existing row the column's default, NULL, so the ALTER TABLE fails with "Cannot add a NOT NULL column with default value NULL" on any table with rows. ${passesEmptyFailsWithRows(context.engine)}`,
        fix: `Give it a non-NULL default: \`ALTER TABLE ${table} ADD COLUMN ${column.name}${column.type ? ` ${column.type}` : ''} NOT NULL DEFAULT <value>\`; or add it nullable, backfill it, and enforce the value in the application (adding NOT NULL to an existing column takes a table rebuild).`,
      },
    ];
  },
};
