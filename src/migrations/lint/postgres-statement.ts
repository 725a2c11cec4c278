/**
 * Reads the Postgres statements lint reasons about itself (besides squawk): what a statement
 * creates, drops, empties or alters, and the names involved. Pure (no I/O). Statements come
 * split as the driver splits them (sql-split.ts) and are tokenized by sql-tokens.ts; anything
 * else comes back as `other` (squawk, which parses with Postgres's own grammar, reads the rest).
 *
 * Names follow Postgres's rules (https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS):
 * an unquoted identifier is folded to lower case, a quoted one is kept as written; a schema
 * prefix is kept apart.
 */

import { type SqlToken, tokenizeSql } from './sql-tokens.ts';
import { type SqlName, TokenCursor, UnreadableStatement } from './token-cursor.ts';

/** The objects lint follows by name. */
export type PostgresObjectKind =
  | 'table'
  | 'view'
  | 'materialized view'
  | 'index'
  | 'sequence'
  | 'schema'
  | 'extension'
  | 'type'
  | 'domain'
  | 'function'
  | 'procedure'
  | 'trigger';

/** One action of `ALTER TABLE` that lint cares about. */
export type PostgresAlterAction =
  | { type: 'drop-column'; start: number; column: string }
  | { type: 'rename-column'; start: number; column: string; to: string }
  | { type: 'rename-table'; start: number; to: string }
  | { type: 'set-type'; start: number; column: string; to: string }
  | { type: 'other'; start: number };

export type PostgresStatementKind =
  | {
      kind: 'create';
      object: PostgresObjectKind;
      names: SqlName[];
      ifNotExists: boolean;
      orReplace: boolean;
    }
  | {
      kind: 'drop';
      object: PostgresObjectKind;
      names: SqlName[];
      ifExists: boolean;
      cascade: boolean;
    }
  | { kind: 'truncate'; names: SqlName[]; cascade: boolean }
  | { kind: 'alter-table'; table: SqlName; actions: PostgresAlterAction[] }
  | { kind: 'other' };

/** A statement as lint reads it, with its offset in the file. */
export type PostgresStatement = PostgresStatementKind & {
  /** UTF-16 offset of the statement's first token in the file. */
  start: number;
};

/**
 * Reads the statement `text`, which starts at `offset` in its file (offsets in the result are
 * the file's). Never throws: a statement it cannot follow is `other`.
 */
export function readPostgresStatement(text: string, offset = 0): PostgresStatement {
  // Most statements are none of these: no need to tokenize them.
  if (!/^(?:create|drop|truncate|alter)\b/i.test(text)) return { kind: 'other', start: offset };
  const tokens = tokenizeSql(text, 'postgres').map(
    (t): SqlToken => ({ ...t, start: t.start + offset, end: t.end + offset }),
  );
  const cursor = new TokenCursor(tokens, offset + text.length);
  const slice = (start: number, end: number) => text.slice(start - offset, end - offset);
  try {
    return { ...readStatement(cursor, slice), start: offset };
  } catch (error) {
    if (error instanceof UnreadableStatement) return { kind: 'other', start: offset };
    throw error;
  }
}

/** The file's text between two offsets. */
type Slice = (start: number, end: number) => string;

function readStatement(c: TokenCursor, slice: Slice): PostgresStatementKind {
  if (c.accept('CREATE')) return readCreate(c);
  if (c.accept('DROP')) return readDrop(c);
  if (c.accept('TRUNCATE')) {
    c.accept('TABLE');
    const names = nameList(c, true);
    return { kind: 'truncate', names, cascade: endsWithCascade(c) };
  }
  if (c.accept('ALTER', 'TABLE')) return readAlterTable(c, slice);
  return { kind: 'other' };
}

/** A name with Postgres's case folding. */
function pgName(c: TokenCursor): SqlName {
  const fold = (t: SqlToken) => (t.type === 'word' ? t.value.toLowerCase() : t.value);
  const first = c.identifier();
  if (c.acceptOp('.')) {
    const second = c.identifier();
    return { schema: fold(first), name: fold(second), start: first.start };
  }
  return { name: fold(first), start: first.start };
}

/** `[ONLY] name [*] [, …]`. */
function nameList(c: TokenCursor, only = false): SqlName[] {
  const names: SqlName[] = [];
  do {
    if (only) c.accept('ONLY');
    names.push(pgName(c));
    if (only) c.acceptOp('*');
  } while (c.acceptOp(','));
  return names;
}

function endsWithCascade(c: TokenCursor): boolean {
  return c.tokens.some(
    (t, i) => i >= c.index && t.type === 'word' && t.value.toUpperCase() === 'CASCADE',
  );
}

const OBJECT_WORDS: ReadonlyArray<[string[], PostgresObjectKind]> = [
  [['TABLE'], 'table'],
  [['VIEW'], 'view'],
  [['MATERIALIZED', 'VIEW'], 'materialized view'],
  [['INDEX'], 'index'],
  [['SEQUENCE'], 'sequence'],
  [['SCHEMA'], 'schema'],
  [['EXTENSION'], 'extension'],
  [['TYPE'], 'type'],
  [['DOMAIN'], 'domain'],
  [['FUNCTION'], 'function'],
  [['PROCEDURE'], 'procedure'],
  [['TRIGGER'], 'trigger'],
];

function objectKind(c: TokenCursor): PostgresObjectKind | undefined {
  for (const [words, kind] of OBJECT_WORDS) if (c.accept(...words)) return kind;
  return undefined;
}

function readCreate(c: TokenCursor): PostgresStatementKind {
  const orReplace = c.accept('OR', 'REPLACE');
  while (
    c.accept('TEMP') ||
    c.accept('TEMPORARY') ||
    c.accept('UNLOGGED') ||
    c.accept('GLOBAL') ||
    c.accept('LOCAL') ||
    c.accept('UNIQUE') ||
    c.accept('RECURSIVE') ||
    c.accept('CONSTRAINT') ||
    c.accept('TRUSTED') ||
    c.accept('PROCEDURAL')
  ) {
    // modifiers that do not change what is created
  }
  const object = objectKind(c);
  if (!object) return { kind: 'other' };
  if (object === 'index') c.accept('CONCURRENTLY');
  const ifNotExists = c.accept('IF', 'NOT', 'EXISTS');
  if (object === 'index' && c.is('ON')) return { kind: 'other' }; // an unnamed index
  if (object === 'schema' && c.is('AUTHORIZATION')) {
    c.next();
    return { kind: 'create', object, names: [pgName(c)], ifNotExists, orReplace };
  }
  return { kind: 'create', object, names: [pgName(c)], ifNotExists, orReplace };
}

function readDrop(c: TokenCursor): PostgresStatementKind {
  const object = objectKind(c);
  if (!object) return { kind: 'other' };
  if (object === 'index') c.accept('CONCURRENTLY');
  const ifExists = c.accept('IF', 'EXISTS');
  const names: SqlName[] = [];
  do {
    names.push(pgName(c));
    if ((object === 'function' || object === 'procedure') && c.isOp('(')) c.skipParens();
    if (object === 'trigger' && c.accept('ON')) pgName(c);
  } while (c.acceptOp(','));
  return { kind: 'drop', object, names, ifExists, cascade: endsWithCascade(c) };
}

function readAlterTable(c: TokenCursor, slice: Slice): PostgresStatementKind {
  c.accept('IF', 'EXISTS');
  c.accept('ONLY');
  const table = pgName(c);
  c.acceptOp('*');
  const actions: PostgresAlterAction[] = [];
  do {
    actions.push(readAction(c, slice));
    c.skipUntil([], [',']);
  } while (c.acceptOp(','));
  return { kind: 'alter-table', table, actions };
}

function readAction(c: TokenCursor, slice: Slice): PostgresAlterAction {
  const start = c.offset;
  if (c.accept('RENAME')) {
    if (c.accept('TO')) return { type: 'rename-table', start, to: pgName(c).name };
    if (c.is('CONSTRAINT')) return { type: 'other', start };
    c.accept('COLUMN');
    const column = pgName(c).name;
    c.expect('TO');
    return { type: 'rename-column', start, column, to: pgName(c).name };
  }
  if (c.accept('DROP')) {
    if (!c.is('COLUMN') && (c.is('CONSTRAINT') || c.is('DEFAULT') || c.is('NOT'))) {
      return { type: 'other', start };
    }
    c.accept('COLUMN');
    c.accept('IF', 'EXISTS');
    return { type: 'drop-column', start, column: pgName(c).name };
  }
  if (c.accept('ALTER')) {
    if (c.is('CONSTRAINT')) return { type: 'other', start };
    c.accept('COLUMN');
    const column = pgName(c).name;
    if (c.accept('SET', 'DATA', 'TYPE') || c.accept('TYPE')) {
      const type = c.skipUntil(['USING', 'COLLATE'], [',']);
      const to = type.length > 0 ? slice(type[0]!.start, type.at(-1)!.end) : '';
      return { type: 'set-type', start, column, to };
    }
  }
  return { type: 'other', start };
}
