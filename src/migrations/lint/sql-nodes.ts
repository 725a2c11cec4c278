/**
 * Small readers of sql-parser-cst nodes (https://github.com/nene/sql-parser-cst) shared by the
 * lint rules and by squawk-lint.ts.
 */

import type { Expr, Node, Statement } from 'sql-parser-cst';

/** The unqualified name of a table reference (`main.notes` → `notes`), if it is one. */
export function entityName(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'identifier') return node.name;
  if (node.type === 'member_expr' && node.property.type === 'identifier') return node.property.name;
  if (node.type === 'alias') return entityName(node.expr);
  return undefined;
}

/** BEGIN, COMMIT/END, ROLLBACK (also `ROLLBACK TO`), SAVEPOINT, RELEASE. */
export function isTransactionControl(statement: Statement): boolean {
  return (
    statement.type === 'start_transaction_stmt' ||
    statement.type === 'commit_transaction_stmt' ||
    statement.type === 'rollback_transaction_stmt' ||
    statement.type === 'savepoint_stmt' ||
    statement.type === 'release_savepoint_stmt'
  );
}

/** True for SAVEPOINT, RELEASE and `ROLLBACK TO`: legal inside an enclosing transaction. */
export function isSavepointControl(statement: Statement): boolean {
  return (
    statement.type === 'savepoint_stmt' ||
    statement.type === 'release_savepoint_stmt' ||
    (statement.type === 'rollback_transaction_stmt' && statement.savepoint !== undefined)
  );
}

/**
 * What a `PRAGMA foreign_keys` statement does: `off` when it turns foreign keys off, `other`
 * for any other use (on, or a read); null when the statement is not that pragma.
 */
export function foreignKeysPragma(statement: Statement): 'off' | 'other' | null {
  if (statement.type !== 'pragma_stmt') return null;
  const pragma = statement.pragma;
  const name =
    pragma.type === 'pragma_assignment' || pragma.type === 'pragma_func_call'
      ? entityName(pragma.name)
      : entityName(pragma);
  if (name?.toLowerCase() !== 'foreign_keys') return null;
  const value =
    pragma.type === 'pragma_assignment'
      ? pragma.value
      : pragma.type === 'pragma_func_call'
        ? pragma.args.expr
        : undefined;
  return value && isOff(value) ? 'off' : 'other';
}

/** True for `NULL` and `(NULL)`. */
export function isNull(expr: Expr): boolean {
  if (expr.type === 'null_literal') return true;
  if (expr.type === 'paren_expr') return isNull(expr.expr as Expr);
  return false;
}

/** True for the values that turn a boolean PRAGMA off: 0, off, false, no (any case, quoted or not). */
function isOff(node: Node): boolean {
  let text: string;
  if (node.type === 'keyword' || node.type === 'identifier' || node.type === 'number_literal') {
    text = node.text;
  } else if (node.type === 'string_literal') {
    text = String(node.value);
  } else if (node.type === 'boolean_literal') {
    text = String(node.value);
  } else {
    return false;
  }
  return ['0', 'off', 'false', 'no'].includes(text.trim().toLowerCase());
}

/** The first line of a statement's text, trimmed, cut to 100 characters, for messages. */
export function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
