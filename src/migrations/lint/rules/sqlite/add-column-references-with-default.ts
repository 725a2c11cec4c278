/**
 * `add-column-references-with-default`: `ALTER TABLE … ADD COLUMN … REFERENCES … DEFAULT
 * <non-NULL>`. With foreign keys enforced (Airlock's SQLite driver, node:sqlite's default; D1
 * always), SQLite refuses it on a table with rows: "Cannot add a REFERENCES column with
 * non-NULL default value" (https://www.sqlite.org/lang_altertable.html#altertabaddcol).
 */

import { isNull } from '../../sql-nodes.ts';
import { addedColumn, passesEmptyFailsWithRows } from './add-column.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const addColumnReferencesWithDefaultRule: SqliteLintRule = {
  name: 'add-column-references-with-default',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'ALTER TABLE … ADD COLUMN … REFERENCES with a non-NULL DEFAULT fails on any table with rows while foreign keys are enforced.',
  source: 'https://www.sqlite.org/lang_altertable.html#altertabaddcol',
  suppressible: true,
  check(statement, context) {
    const added = addedColumn(statement);
    const column = added?.column;
    if (!added || !column?.references || !column.default || isNull(column.default.tokens)) {
      return [];
    }
    const value = context.text(column.default.tokens[0]!.start, column.default.tokens.at(-1)!.end);
    return [
      {
        offset: column.default.start,
        message: `Column ${added.table}.${column.name} is added with REFERENCES ${column.references.table} and DEFAULT ${value}: with foreign keys enforced (${context.engine === 'd1' ? 'D1 always enforces them' : "Airlock's SQLite driver runs with them on"}), SQLite refuses that on a table with rows ("Cannot add a REFERENCES column with non-NULL default value"), since it cannot check the default against ${column.references.table} for every row. ${passesEmptyFailsWithRows(context.engine)}`,
        fix: `Add the column without a default (NULL), then set it: \`ALTER TABLE ${added.table} ADD COLUMN ${column.name}${column.type ? ` ${column.type}` : ''} REFERENCES ${column.references.table};\` \`UPDATE ${added.table} SET ${column.name} = ${value};\``,
      },
    ];
  },
};
