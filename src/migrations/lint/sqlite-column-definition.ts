/**
 * Reads a SQLite column definition (https://www.sqlite.org/syntax/column-def.html) for
 * `ALTER TABLE … ADD COLUMN`: its name, declared type and the constraints the lint rules judge
 * (NOT NULL, PRIMARY KEY, UNIQUE, DEFAULT, GENERATED, REFERENCES). Pure (no I/O); part of the
 * statement reader in sqlite-statement.ts.
 */
import type { SqlToken } from './sql-tokens.ts';
import type { TokenCursor } from './token-cursor.ts';

/** A column definition of `ALTER TABLE … ADD COLUMN` (https://www.sqlite.org/syntax/column-def.html). */
export interface SqliteColumnDefinition {
  name: string;
  /** UTF-16 offset of the name. */
  start: number;
  /** The declared type as written (`INTEGER`, `VARCHAR(20)`), '' when none. */
  type: string;
  notNull: boolean;
  primaryKey: boolean;
  unique: boolean;
  /** The last DEFAULT: its tokens (without the parentheses of `DEFAULT (…)`) and offset. */
  default?: { tokens: SqlToken[]; start: number; parenthesized: boolean };
  /** `[GENERATED ALWAYS] AS (…) [STORED|VIRTUAL]`. */
  generated?: { stored: boolean; start: number };
  /** `REFERENCES <table>`. */
  references?: { table: string; start: number };
}

/** SQLite's conflict resolutions (`OR …`, `ON CONFLICT …`). */
export const CONFLICT = ['ROLLBACK', 'ABORT', 'REPLACE', 'FAIL', 'IGNORE'];

/** Words that start a column constraint, and so end the type name. */
const CONSTRAINT_START = [
  'CONSTRAINT',
  'PRIMARY',
  'NOT',
  'NULL',
  'UNIQUE',
  'CHECK',
  'DEFAULT',
  'COLLATE',
  'REFERENCES',
  'GENERATED',
  'AS',
];

/** https://www.sqlite.org/syntax/column-def.html */
export function readColumnDefinition(c: TokenCursor): SqliteColumnDefinition {
  const nameToken = c.identifier();
  const column: SqliteColumnDefinition = {
    name: nameToken.value,
    start: nameToken.start,
    type: '',
    notNull: false,
    primaryKey: false,
    unique: false,
  };
  // Type name: names up to a constraint, with an optional (n) or (n, m). A name may be a
  // string ('text'): SQLite takes a string where only a name fits as that name
  // (https://www.sqlite.org/lang_keywords.html).
  const typeStart = c.peek();
  let typeEnd: SqlToken | undefined;
  while (
    !c.done &&
    (c.peek()!.type === 'word' || c.peek()!.type === 'quoted' || c.peek()!.type === 'string') &&
    !CONSTRAINT_START.includes(c.word())
  ) {
    typeEnd = c.next();
  }
  if (typeEnd && c.isOp('(')) typeEnd = { ...typeEnd, end: c.skipParens().end };
  if (typeEnd && typeStart) column.type = typeText(c, typeStart, typeEnd);
  while (!c.done) {
    const at = c.offset;
    if (c.accept('CONSTRAINT')) {
      c.identifier();
      continue;
    }
    if (c.accept('PRIMARY', 'KEY')) {
      column.primaryKey = true;
      if (!c.accept('ASC')) c.accept('DESC');
      onConflict(c);
      c.accept('AUTOINCREMENT');
    } else if (c.accept('NOT', 'NULL')) {
      column.notNull = true;
      onConflict(c);
    } else if (c.accept('NULL')) {
      onConflict(c);
    } else if (c.accept('UNIQUE')) {
      column.unique = true;
      onConflict(c);
    } else if (c.accept('CHECK')) {
      c.skipParens();
    } else if (c.accept('DEFAULT')) {
      column.default = readDefault(c);
    } else if (c.accept('COLLATE')) {
      c.identifier();
    } else if (c.accept('REFERENCES')) {
      const table = c.identifier();
      column.references = { table: table.value, start: at };
      readForeignKeyClause(c);
    } else if (c.is('GENERATED') || c.is('AS')) {
      if (c.accept('GENERATED')) c.expect('ALWAYS');
      c.expect('AS');
      c.skipParens();
      const stored = c.accept('STORED');
      if (!stored) c.accept('VIRTUAL');
      column.generated = { stored, start: at };
    } else {
      c.fail('expected a column constraint');
    }
  }
  return column;
}

function typeText(c: TokenCursor, first: SqlToken, last: SqlToken): string {
  const tokens = c.tokens.filter((t) => t.start >= first.start && t.end <= last.end);
  // Words as written, one space apart; the parenthesised size as written.
  let text = '';
  for (const t of tokens) {
    const word = t.value;
    const joinsPrevious = text === '' || t.value === '(' || t.value === ')' || t.value === ',';
    text += (joinsPrevious || text.endsWith('(') ? '' : ' ') + word;
  }
  return text;
}

function onConflict(c: TokenCursor): void {
  if (c.accept('ON', 'CONFLICT')) {
    if (!CONFLICT.includes(c.word())) c.fail('expected a conflict resolution');
    c.next();
  }
}

/** `DEFAULT (expr)`, `DEFAULT [+|-]number`, `DEFAULT literal`, `DEFAULT identifier`. */
function readDefault(c: TokenCursor): NonNullable<SqliteColumnDefinition['default']> {
  const start = c.offset;
  if (c.isOp('(')) {
    const from = c.index;
    c.skipParens();
    return { tokens: c.tokens.slice(from + 1, c.index - 1), start, parenthesized: true };
  }
  const from = c.index;
  if (c.isOp('+') || c.isOp('-')) c.next();
  const t = c.next();
  if (t.type === 'op') c.fail('expected a default value');
  return { tokens: c.tokens.slice(from, c.index), start, parenthesized: false };
}

/** https://www.sqlite.org/syntax/foreign-key-clause.html, after the table name. */
function readForeignKeyClause(c: TokenCursor): void {
  if (c.isOp('(')) c.skipParens();
  for (;;) {
    if (c.accept('ON')) {
      if (!c.accept('DELETE')) c.expect('UPDATE');
      if (!(c.accept('SET', 'NULL') || c.accept('SET', 'DEFAULT') || c.accept('CASCADE'))) {
        if (!(c.accept('RESTRICT') || c.accept('NO', 'ACTION'))) c.fail('expected an action');
      }
    } else if (c.accept('MATCH')) {
      c.identifier();
    } else if (c.is('DEFERRABLE') || (c.is('NOT') && c.is('DEFERRABLE', 1))) {
      c.accept('NOT');
      c.expect('DEFERRABLE');
      if (c.accept('INITIALLY')) {
        if (!c.accept('DEFERRED')) c.expect('IMMEDIATE');
      }
    } else {
      return;
    }
  }
}
