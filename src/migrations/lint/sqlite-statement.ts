/**
 * Reads one SQLite statement (its tokens, from sql-tokens.ts) into what the lint rules need:
 * its kind, the objects it names, and for `ALTER TABLE … ADD COLUMN` the column's constraints.
 * Pure (no I/O).
 *
 * It follows SQLite's documented grammar (https://www.sqlite.org/lang.html) at the level of
 * statements, clauses and column definitions; it does not read expressions (it skips them by
 * balanced parentheses and clause keywords). SQLite itself is the judge of validity: lint runs
 * every statement in a replay of the schema (schema-replay.ts), and what SQLite refuses is a
 * `syntax-error` or `replay-error` finding. A statement SQLite accepts but this reader cannot
 * read is an `unparsed` finding, so nothing is ever skipped silently.
 */

import type { SqlToken } from './sql-tokens.ts';
import {
  CONFLICT,
  readColumnDefinition,
  type SqliteColumnDefinition,
} from './sqlite-column-definition.ts';
import { type SqlName, TokenCursor, UnreadableStatement } from './token-cursor.ts';

export type { SqliteColumnDefinition } from './sqlite-column-definition.ts';
export type { SqlName } from './token-cursor.ts';

export type SqliteAlterAction =
  | { type: 'add-column'; start: number; column: SqliteColumnDefinition }
  | { type: 'drop-column'; start: number; column: string }
  | { type: 'rename-column'; start: number; column: string; to: string }
  | { type: 'rename-table'; start: number; to: string }
  /** SQLite 3.50+: `ALTER [COLUMN] c SET|DROP NOT NULL`. */
  | { type: 'alter-column'; start: number; column: string; setNotNull: boolean }
  /** SQLite 3.50+: `ADD [CONSTRAINT n] CHECK (…)`, `DROP CONSTRAINT n`. */
  | { type: 'add-constraint' | 'drop-constraint'; start: number };

export type SqliteObjectKind = 'table' | 'view' | 'index' | 'trigger';

/** What a statement is. `ReadStatement` adds where it is. */
export type SqliteStatementKind =
  | {
      kind: 'create';
      object: SqliteObjectKind;
      name: SqlName;
      ifNotExists: boolean;
      temp: boolean;
      /** CREATE VIRTUAL TABLE: the module (`fts5`, `rtree`). */
      module?: string;
      /** CREATE TABLE … AS SELECT. */
      asSelect?: boolean;
      /** CREATE INDEX / CREATE TRIGGER: the table it is on. */
      on?: SqlName;
    }
  | { kind: 'drop'; object: SqliteObjectKind; name: SqlName; ifExists: boolean }
  | { kind: 'alter-table'; table: SqlName; action: SqliteAlterAction }
  | {
      kind: 'insert';
      table: SqlName;
      /** The column list, or null when the statement has none (every column, in table order). */
      columns: string[] | null;
      source: 'values' | 'select' | 'default-values';
      /** `SELECT * FROM <from>` (optionally with WHERE/ORDER BY/LIMIT) as the whole source. */
      selectStar?: SqlName;
    }
  | { kind: 'update'; table: SqlName }
  | { kind: 'delete'; table: SqlName }
  | { kind: 'select' }
  | {
      kind: 'pragma';
      schema?: string;
      name: string;
      /** The value of `= value` or `(value)`, unquoted, with its sign; undefined for a read. */
      value?: string;
    }
  | { kind: 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release'; toSavepoint?: boolean }
  /** `ATTACH … AS <schema>`. */
  | { kind: 'attach'; schema: string }
  | { kind: 'analyze' | 'reindex' | 'vacuum' | 'detach' | 'explain' };

/** One statement as lint sees it. */
export type ReadStatement = SqliteStatementKind & {
  /** UTF-16 offset of its first token. */
  start: number;
  /** UTF-16 offset just past its last token (its `;` excluded). */
  end: number;
};

/** The outcome of `readSqliteStatement`. */
export type StatementReading =
  | { ok: true; statement: ReadStatement }
  | { ok: false; offset: number; reason: string };

/**
 * Reads the statement made of `tokens` (one statement of `splitSqliteStatements`).
 * Never throws: what it cannot read comes back with the offset where it stopped and why.
 */
export function readSqliteStatement(tokens: readonly SqlToken[]): StatementReading {
  const start = tokens[0]?.start ?? 0;
  const end = tokens.at(-1)?.end ?? start;
  const open = tokens.find((t) => t.unterminated);
  if (open) {
    return { ok: false, offset: open.start, reason: 'an unterminated quote or comment' };
  }
  const cursor = new TokenCursor(tokens, end);
  try {
    const statement = readStatement(cursor);
    return { ok: true, statement: { ...statement, start, end } };
  } catch (error) {
    if (error instanceof UnreadableStatement) {
      return { ok: false, offset: error.offset, reason: error.message };
    }
    throw error;
  }
}

function readStatement(c: TokenCursor): SqliteStatementKind {
  const verb = c.word();
  switch (verb) {
    case 'EXPLAIN':
      return { kind: 'explain' };
    case 'SELECT':
    case 'VALUES':
      return { kind: 'select' };
    case 'WITH':
      skipWith(c);
      return readStatementAfterWith(c);
    case 'INSERT':
    case 'REPLACE':
      return readInsert(c);
    case 'UPDATE':
      return readUpdate(c);
    case 'DELETE':
      return readDelete(c);
    case 'CREATE':
      return readCreate(c);
    case 'DROP':
      return readDrop(c);
    case 'ALTER':
      return readAlter(c);
    case 'PRAGMA':
      return readPragma(c);
    case 'BEGIN':
      return { kind: 'begin' };
    case 'COMMIT':
    case 'END':
      return { kind: 'commit' };
    case 'ROLLBACK': {
      c.next();
      c.accept('TRANSACTION');
      if (!c.done && !c.is('TO')) c.identifier(); // a transaction name
      return c.is('TO') ? { kind: 'rollback', toSavepoint: true } : { kind: 'rollback' };
    }
    case 'SAVEPOINT':
      return { kind: 'savepoint' };
    case 'RELEASE':
      return { kind: 'release' };
    case 'ANALYZE':
      return { kind: 'analyze' };
    case 'REINDEX':
      return { kind: 'reindex' };
    case 'VACUUM':
      return { kind: 'vacuum' };
    case 'ATTACH': {
      // ATTACH [DATABASE] <expr> AS <schema>: the schema is the name after the last AS.
      const as = c.tokens.findLastIndex((t) => t.type === 'word' && t.value.toUpperCase() === 'AS');
      if (as < 0) return c.fail('expected AS <schema>');
      c.index = as + 1;
      const schema = c.identifier().value;
      atEnd(c);
      return { kind: 'attach', schema };
    }
    case 'DETACH':
      return { kind: 'detach' };
    default:
      return c.fail(`no SQLite statement starts with ${c.peek()?.value ?? 'nothing'}`);
  }
}

/** `WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (…) [, …]`. */
function skipWith(c: TokenCursor): void {
  c.expect('WITH');
  c.accept('RECURSIVE');
  do {
    c.identifier();
    if (c.isOp('(')) c.skipParens();
    c.expect('AS');
    c.accept('NOT');
    c.accept('MATERIALIZED');
    c.skipParens();
  } while (c.acceptOp(','));
}

function readStatementAfterWith(c: TokenCursor): SqliteStatementKind {
  switch (c.word()) {
    case 'SELECT':
    case 'VALUES':
      return { kind: 'select' };
    case 'INSERT':
    case 'REPLACE':
      return readInsert(c);
    case 'UPDATE':
      return readUpdate(c);
    case 'DELETE':
      return readDelete(c);
    default:
      return c.fail('expected SELECT, VALUES, INSERT, REPLACE, UPDATE or DELETE after WITH');
  }
}

function orConflict(c: TokenCursor): void {
  if (c.accept('OR')) {
    if (!CONFLICT.includes(c.word())) c.fail('expected a conflict resolution after OR');
    c.next();
  }
}

function readInsert(c: TokenCursor): SqliteStatementKind {
  if (!c.accept('REPLACE')) {
    c.expect('INSERT');
    orConflict(c);
  }
  c.expect('INTO');
  const table = c.name();
  if (c.accept('AS')) c.identifier();
  let columns: string[] | null = null;
  if (c.isOp('(')) {
    c.next();
    columns = [];
    do columns.push(c.identifier().value);
    while (c.acceptOp(','));
    c.expectOp(')');
  }
  if (c.accept('DEFAULT', 'VALUES')) {
    return { kind: 'insert', table, columns, source: 'default-values' };
  }
  if (c.is('VALUES')) return { kind: 'insert', table, columns, source: 'values' };
  if (!c.is('SELECT') && !c.is('WITH')) c.fail('expected VALUES, SELECT or DEFAULT VALUES');
  const selectStar = starSource(c);
  return {
    kind: 'insert',
    table,
    columns,
    source: 'select',
    ...(selectStar ? { selectStar } : {}),
  };
}

/** `SELECT [ALL] * FROM t [WHERE …|ORDER BY …|LIMIT …]` as the whole source: its table. */
function starSource(c: TokenCursor): SqlName | undefined {
  const at = c.index;
  try {
    if (!c.accept('SELECT')) return undefined;
    c.accept('ALL');
    if (!c.acceptOp('*')) return undefined;
    if (!c.accept('FROM')) return undefined;
    const from = c.name();
    if (c.accept('AS') || (c.peek()?.type === 'word' && !CLAUSE_AFTER_FROM.includes(c.word()))) {
      c.identifier();
    }
    if (c.done || CLAUSE_AFTER_FROM.includes(c.word())) return from;
    return undefined;
  } catch (error) {
    if (error instanceof UnreadableStatement) return undefined;
    throw error;
  } finally {
    c.index = at;
  }
}

const CLAUSE_AFTER_FROM = ['WHERE', 'ORDER', 'LIMIT', 'ON', 'RETURNING'];

function readUpdate(c: TokenCursor): SqliteStatementKind {
  c.expect('UPDATE');
  orConflict(c);
  return { kind: 'update', table: c.name() };
}

function readDelete(c: TokenCursor): SqliteStatementKind {
  c.expect('DELETE');
  c.expect('FROM');
  return { kind: 'delete', table: c.name() };
}

const OBJECTS: Record<string, SqliteObjectKind> = {
  TABLE: 'table',
  VIEW: 'view',
  INDEX: 'index',
  TRIGGER: 'trigger',
};

function readCreate(c: TokenCursor): SqliteStatementKind {
  c.expect('CREATE');
  const temp = c.accept('TEMP') || c.accept('TEMPORARY');
  if (c.accept('VIRTUAL')) {
    c.expect('TABLE');
    const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
    const name = c.name();
    c.expect('USING');
    const module = c.identifier().value;
    if (c.isOp('(')) c.skipParens();
    atEnd(c);
    return { kind: 'create', object: 'table', name, ifNotExists, temp, module };
  }
  const unique = c.accept('UNIQUE');
  const object = OBJECTS[c.word()];
  if (!object || (unique && object !== 'index')) {
    return c.fail('expected TABLE, VIRTUAL TABLE, [UNIQUE] INDEX, VIEW or TRIGGER');
  }
  c.next();
  const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
  const name = c.name();
  switch (object) {
    case 'table': {
      if (c.accept('AS')) {
        return { kind: 'create', object, name, ifNotExists, temp, asSelect: true };
      }
      c.skipParens();
      // Table options: STRICT, WITHOUT ROWID, separated by commas.
      while (!c.done) {
        if (!c.accept('STRICT') && !c.accept('WITHOUT', 'ROWID')) {
          c.fail('expected STRICT or WITHOUT ROWID after the column list');
        }
        if (!c.acceptOp(',')) break;
      }
      atEnd(c);
      return { kind: 'create', object, name, ifNotExists, temp };
    }
    case 'index': {
      c.expect('ON');
      const on = c.name();
      c.skipParens();
      if (!c.done) c.expect('WHERE');
      return { kind: 'create', object, name, ifNotExists, temp, on };
    }
    case 'view':
      if (c.isOp('(')) c.skipParens();
      c.expect('AS');
      return { kind: 'create', object, name, ifNotExists, temp };
    case 'trigger': {
      c.accept('BEFORE') || c.accept('AFTER') || c.accept('INSTEAD', 'OF');
      if (c.accept('UPDATE')) {
        if (c.accept('OF')) {
          do c.identifier();
          while (c.acceptOp(','));
        }
      } else if (!c.accept('INSERT') && !c.accept('DELETE')) {
        c.fail('expected DELETE, INSERT or UPDATE');
      }
      c.expect('ON');
      const on = c.name();
      return { kind: 'create', object, name, ifNotExists, temp, on };
    }
  }
}

function readDrop(c: TokenCursor): SqliteStatementKind {
  c.expect('DROP');
  const object = OBJECTS[c.word()];
  if (!object) return c.fail('expected TABLE, VIEW, INDEX or TRIGGER after DROP');
  c.next();
  const ifExists = c.accept('IF', 'EXISTS');
  const name = c.name();
  atEnd(c);
  return { kind: 'drop', object, name, ifExists };
}

function readAlter(c: TokenCursor): SqliteStatementKind {
  c.expect('ALTER', 'TABLE');
  const table = c.name();
  const start = c.offset;
  if (c.accept('RENAME')) {
    if (c.accept('TO')) {
      const to = c.identifier().value;
      atEnd(c);
      return { kind: 'alter-table', table, action: { type: 'rename-table', start, to } };
    }
    c.accept('COLUMN');
    const column = c.identifier().value;
    c.expect('TO');
    const to = c.identifier().value;
    atEnd(c);
    return { kind: 'alter-table', table, action: { type: 'rename-column', start, column, to } };
  }
  if (c.accept('DROP')) {
    if (c.accept('CONSTRAINT')) {
      c.identifier();
      atEnd(c);
      return { kind: 'alter-table', table, action: { type: 'drop-constraint', start } };
    }
    c.accept('COLUMN');
    const column = c.identifier().value;
    atEnd(c);
    return { kind: 'alter-table', table, action: { type: 'drop-column', start, column } };
  }
  if (c.accept('ADD')) {
    if (c.is('CONSTRAINT') || c.is('CHECK')) {
      if (c.accept('CONSTRAINT')) c.identifier();
      c.expect('CHECK');
      c.skipParens();
      atEnd(c);
      return { kind: 'alter-table', table, action: { type: 'add-constraint', start } };
    }
    c.accept('COLUMN');
    const column = readColumnDefinition(c);
    atEnd(c);
    return { kind: 'alter-table', table, action: { type: 'add-column', start, column } };
  }
  if (c.accept('ALTER')) {
    c.accept('COLUMN');
    const column = c.identifier().value;
    const setNotNull = c.accept('SET', 'NOT', 'NULL');
    if (!setNotNull) c.expect('DROP', 'NOT', 'NULL');
    atEnd(c);
    return {
      kind: 'alter-table',
      table,
      action: { type: 'alter-column', start, column, setNotNull },
    };
  }
  return c.fail('expected RENAME, ADD, DROP or ALTER after the table name');
}

function readPragma(c: TokenCursor): SqliteStatementKind {
  c.expect('PRAGMA');
  const name = c.name();
  const base = {
    kind: 'pragma' as const,
    name: name.name,
    ...(name.schema ? { schema: name.schema } : {}),
  };
  if (c.done) return base;
  let value: string;
  if (c.acceptOp('=')) {
    value = pragmaValue(c);
  } else {
    c.expectOp('(');
    value = pragmaValue(c);
    c.expectOp(')');
  }
  atEnd(c);
  return { ...base, value };
}

/** https://www.sqlite.org/syntax/pragma-value.html: signed-number, name or string literal. */
function pragmaValue(c: TokenCursor): string {
  let sign = '';
  if (c.isOp('+') || c.isOp('-')) sign = c.next().value;
  const t = c.next();
  if (t.type === 'op' || t.type === 'parameter' || t.type === 'blob') {
    c.index--;
    c.fail('expected a number, a name or a string');
  }
  return sign === '-' ? `-${t.value}` : t.value;
}

function atEnd(c: TokenCursor): void {
  if (!c.done) c.fail(`unexpected ${c.peek()!.value}`);
}
