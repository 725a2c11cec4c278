/**
 * `add-column-non-constant-default`: `ALTER TABLE … ADD COLUMN … DEFAULT <expr>` where SQLite
 * does not take the expression as a constant (`CURRENT_TIMESTAMP`, `datetime('now')`,
 * `(1 + 1)`): "Cannot add a column with non-constant default" on a table with rows
 * (https://www.sqlite.org/lang_altertable.html#altertabaddcol). What counts as constant is asked
 * of SQLite itself (`SchemaReplay.defaultIsConstant`).
 */

import { addedColumn, passesEmptyFailsWithRows } from './add-column.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const addColumnNonConstantDefaultRule: SqliteLintRule = {
  name: 'add-column-non-constant-default',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'ALTER TABLE … ADD COLUMN with a non-constant DEFAULT (CURRENT_TIMESTAMP, a function call, an expression) fails on any table with rows.',
  source: 'https://www.sqlite.org/lang_altertable.html#altertabaddcol',
  suppressible: true,
  check(statement, context) {
    const added = addedColumn(statement);
    const dflt = added?.column.default;
    if (!added || !dflt || added.column.generated || dflt.tokens.length === 0) return [];
    const expression = context.text(dflt.tokens[0]!.start, dflt.tokens.at(-1)!.end);
    if (context.replay.defaultIsConstant(expression) !== false) return [];
    const { table, column } = added;
    return [
      {
        offset: dflt.start,
        message: `Column ${table}.${column.name} is added with DEFAULT ${dflt.parenthesized ? `(${expression})` : expression}, which SQLite does not take as a constant: it refuses the ALTER TABLE on a table with rows ("Cannot add a column with non-constant default"), because it would have to compute the value for every existing row. ${passesEmptyFailsWithRows(context.engine)}`,
        fix: `Add the column with a constant default (or none), then fill it: \`ALTER TABLE ${table} ADD COLUMN ${column.name}${column.type ? ` ${column.type}` : ''};\` \`UPDATE ${table} SET ${column.name} = ${expression};\` — and set the value in the application's INSERTs (or rebuild ${table} with the default in its CREATE TABLE).`,
      },
    ];
  },
};
