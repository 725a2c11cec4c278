/**
 * `add-not-null-column-without-default`: `ALTER TABLE … ADD COLUMN … NOT NULL` without a
 * non-NULL DEFAULT. SQLite gives every existing row the column's default, so the statement
 * fails on any table with rows (https://www.sqlite.org/lang_altertable.html#altertabaddcol):
 * it passes on an empty staging table and fails in production.
 */

import type { ColumnDefinition } from 'sql-parser-cst';
import { entityName, isNull } from '../../sql-nodes.ts';
import type { RuleFinding } from '../../types.ts';
import type { SqliteLintRule, SqliteRuleContext } from './sqlite-lint-rule.ts';

export const addNotNullColumnWithoutDefaultRule: SqliteLintRule = {
  name: 'add-not-null-column-without-default',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'ALTER TABLE … ADD COLUMN … NOT NULL without a non-NULL DEFAULT fails on any table with rows.',
  source: 'https://www.sqlite.org/lang_altertable.html#altertabaddcol',
  suppressible: true,
  check(statement, context) {
    if (statement.type !== 'alter_table_stmt') return [];
    const table = entityName(statement.table);
    if (!table) return [];
    const findings: RuleFinding[] = [];
    for (const action of statement.actions.items) {
      if (action.type !== 'alter_action_add_column') continue;
      const finding = addedColumn(table, action.column, context);
      if (finding) findings.push(finding);
    }
    return findings;
  },
};

function addedColumn(
  table: string,
  column: ColumnDefinition,
  context: SqliteRuleContext,
): RuleFinding | undefined {
  const constraints = column.constraints.map((c) => (c.type === 'constraint' ? c.constraint : c));
  if (!constraints.some((c) => c.type === 'constraint_not_null')) return undefined;
  if (constraints.some((c) => c.type === 'constraint_generated')) return undefined;
  const defaults = constraints.filter((c) => c.type === 'constraint_default');
  const dflt = defaults.at(-1);
  if (dflt && !isNull(dflt.expr)) return undefined;
  const name = column.name.name;
  const type = column.dataType ? context.text(column.dataType) : '';
  return {
    offset: column.range![0],
    message: `Column ${table}.${name} is added NOT NULL ${dflt ? 'with DEFAULT NULL' : 'without a DEFAULT'}: SQLite${context.engine === 'd1' ? ' (and so D1)' : ''} gives every existing row the column's default, NULL, so the ALTER TABLE fails with "Cannot add a NOT NULL column with default value NULL" on any table with rows — it passes on an empty staging table and fails in production.`,
    fix: `Give it a non-NULL default: \`ALTER TABLE ${table} ADD COLUMN ${name}${type ? ` ${type}` : ''} NOT NULL DEFAULT <value>\`; or add it nullable, backfill it, and enforce the value in the application (adding NOT NULL to an existing column takes a table rebuild).`,
  };
}
