/**
 * Small readers of SQLite statements as sqlite-statement.ts reads them, shared by the lint
 * rules.
 */

import type { SqlToken } from './sql-tokens.ts';
import type { ReadStatement } from './sqlite-statement.ts';

/** BEGIN, COMMIT/END, ROLLBACK (also `ROLLBACK TO`), SAVEPOINT, RELEASE. */
export function isTransactionControl(statement: ReadStatement): boolean {
  return (
    statement.kind === 'begin' ||
    statement.kind === 'commit' ||
    statement.kind === 'rollback' ||
    statement.kind === 'savepoint' ||
    statement.kind === 'release'
  );
}

/** True for SAVEPOINT, RELEASE and `ROLLBACK TO`: legal inside an enclosing transaction. */
export function isSavepointControl(statement: ReadStatement): boolean {
  return (
    statement.kind === 'savepoint' ||
    statement.kind === 'release' ||
    (statement.kind === 'rollback' && statement.toSavepoint === true)
  );
}

/**
 * What a `PRAGMA foreign_keys` statement does: `off` when it turns foreign keys off, `other`
 * for any other use (on, or a read); null when the statement is not that pragma.
 */
export function foreignKeysPragma(statement: ReadStatement): 'off' | 'other' | null {
  if (statement.kind !== 'pragma' || statement.name.toLowerCase() !== 'foreign_keys') return null;
  return statement.value !== undefined && isOff(statement.value) ? 'off' : 'other';
}

/** True for `NULL` and `(NULL)` (the tokens of a DEFAULT, parentheses included or not). */
export function isNull(tokens: readonly SqlToken[]): boolean {
  const words = tokens.filter((t) => !(t.type === 'op' && (t.value === '(' || t.value === ')')));
  return (
    words.length === 1 && words[0]!.type === 'word' && words[0]!.value.toUpperCase() === 'NULL'
  );
}

/** The values that turn a boolean PRAGMA off: 0, off, false, no (any case, quoted or not). */
function isOff(value: string): boolean {
  return ['0', 'off', 'false', 'no'].includes(value.trim().toLowerCase());
}

/** The first line of a statement's text, trimmed, cut to 100 characters, for messages. */
export function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
