/**
 * `add-column-stored-generated`: `ALTER TABLE … ADD COLUMN … AS (…) STORED`. SQLite cannot
 * add a STORED generated column to a table with rows ("cannot add a STORED column",
 * https://www.sqlite.org/gencol.html#limitations and
 * https://www.sqlite.org/lang_altertable.html#altertabaddcol); a VIRTUAL one it can.
 */

import { addedColumn, passesEmptyFailsWithRows } from './add-column.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const addColumnStoredGeneratedRule: SqliteLintRule = {
  name: 'add-column-stored-generated',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'ALTER TABLE … ADD COLUMN of a STORED generated column fails on any table with rows ("cannot add a STORED column").',
  source: 'https://www.sqlite.org/gencol.html#limitations',
  suppressible: true,
  check(statement, context) {
    const added = addedColumn(statement);
    if (!added?.column.generated?.stored) return [];
    const { table, column } = added;
    return [
      {
        offset: column.generated!.start,
        message: `Column ${table}.${column.name} is added as a STORED generated column: SQLite refuses that on a table with rows ("cannot add a STORED column"), since it would have to compute and write the value into every row. ${passesEmptyFailsWithRows(context.engine)}`,
        fix: `Add it VIRTUAL instead (\`… AS (…) VIRTUAL\`, computed when read; index it if you filter on it), or rebuild ${table} with the STORED column in its CREATE TABLE (the 12-step procedure).`,
      },
    ];
  },
};
