/**
 * Splitting a Postgres SQL script into statements, the way `psql` does: a statement ends at a
 * `;` that is outside every quote, comment and parenthesis. Pure (no I/O), so it is tested
 * on its own. The Postgres migration driver needs it for files marked
 * `-- airlock:no-transaction`: their statements must be sent one at a time, because Postgres
 * runs a multi-statement query string as one implicit transaction, where
 * `CREATE INDEX CONCURRENTLY` is refused.
 *
 * Understood, following Postgres's lexer (`src/backend/parser/scan.l`) and psql's
 * (`src/fe_utils/psqlscan.l`):
 * - `'…'` strings with `''` inside; `E'…'` strings, where a backslash also escapes a quote;
 *   `U&'…'`, `B'…'`, `X'…'`, `N'…'` are plain strings. (Assumes
 *   `standard_conforming_strings = on`, the default since Postgres 9.1.)
 * - `"…"` quoted identifiers with `""` inside.
 * - Dollar quotes `$$…$$` and `$tag$…$tag$` (a tag is an identifier without `$`); `$1` is a
 *   parameter, and a `$` inside an identifier (`a$b`) belongs to it.
 * - `--` line comments, and block comments, which nest (unlike C's).
 * - Parentheses: a `;` inside `( … )` does not end a statement (`CREATE RULE … DO ( …; … )`).
 * - psql's heuristic for SQL-standard function bodies: after `CREATE [OR REPLACE]
 *   {FUNCTION|PROCEDURE}`, `BEGIN ATOMIC … END` (and `CASE … END` inside it) is one block.
 *
 * Unterminated quotes and comments run to the end of the input (Postgres then reports the
 * error when the statement runs).
 */

/** One statement of a script. */
export interface SqlStatement {
  /**
   * The statement as written, without its terminating `;`: it starts at its first token
   * (leading whitespace and comments are not part of it) and has no trailing whitespace.
   * Never empty.
   */
  text: string;
  /** Index (UTF-16 code units, 0-based) of `text`'s first character in the script. */
  offset: number;
  /** 1-based line of the script on which the statement starts. */
  line: number;
}

/**
 * Splits `sql` into its statements, in order. Empty statements (`;;`, a trailing comment, a
 * script of only comments) are dropped, so `[]` means there is nothing to run.
 */
export function splitSqlStatements(sql: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const n = sql.length;
  let start = -1; // index of the current statement's first token, -1 before it
  let parenDepth = 0;
  let beginDepth = 0;
  let wordCount = 0;
  let heads = ''; // psql's `identifiers`: first letters of the statement's first four words

  const finish = (end: number): void => {
    if (start >= 0) {
      const text = sql.slice(start, end).trimEnd();
      if (text) statements.push({ text, offset: start, line: lineAt(sql, start) });
    }
    start = -1;
    parenDepth = 0;
    beginDepth = 0;
    wordCount = 0;
    heads = '';
  };

  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === ';') {
      if (parenDepth === 0 && beginDepth === 0) finish(i);
      i++;
      continue;
    }
    if (start < 0) start = i;
    if (c === "'") {
      i = skipString(sql, i, false);
    } else if (c === '"') {
      i = skipQuoted(sql, i, '"');
    } else if (c === '$') {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 256));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? n : close + tag[0].length;
      } else {
        i++; // `$1`, or a stray `$`
      }
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentChar(sql[j]!)) j++;
      const word = sql.slice(i, j).toLowerCase();
      if (word === 'e' && sql[j] === "'") {
        i = skipString(sql, j, true);
        continue;
      }
      // psql's BEGIN ATOMIC heuristic (psqlscan.l, the {identifier} rule).
      if (wordCount < 4) heads += HEAD_WORDS.has(word) ? word[0] : ' ';
      wordCount++;
      if (parenDepth === 0 && CREATE_ROUTINE.test(heads)) {
        if (word === 'begin') beginDepth++;
        else if (word === 'case' && beginDepth > 0) beginDepth++;
        else if (word === 'end' && beginDepth > 0) beginDepth--;
      }
      i = j;
    } else if (isDigit(c)) {
      let j = i + 1;
      while (j < n && (isIdentChar(sql[j]!) || sql[j] === '.')) j++;
      i = j;
    } else {
      if (c === '(') parenDepth++;
      else if (c === ')' && parenDepth > 0) parenDepth--;
      i++;
    }
  }
  finish(n);
  return statements;
}

/** 1-based line of the character at `index` (UTF-16 code units) in `text`. */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let k = text.indexOf('\n'); k >= 0 && k < index; k = text.indexOf('\n', k + 1)) line++;
  return line;
}

/** `$$` or `$tag$` at the start of a string (Postgres: tag = identifier without `$`). */
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Words psql records while looking for `CREATE [OR REPLACE] {FUNCTION|PROCEDURE}`. */
const HEAD_WORDS = new Set(['create', 'function', 'procedure', 'or', 'replace']);
/** `c f`, `c p`, `c o r f`, `c o r p` (first letters; other words are spaces). */
const CREATE_ROUTINE = /^c(?:[fp]|or[fp])/;

function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f' || c === '\v';
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c >= '\u0080';
}

function isIdentChar(c: string): boolean {
  return isIdentStart(c) || isDigit(c) || c === '$';
}

/** Index just past the `'…'` string opening at `i`; `escapes` for an `E'…'` string. */
function skipString(sql: string, i: number, escapes: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j]!;
    if (escapes && c === '\\') j += 2;
    else if (c === "'") {
      if (sql[j + 1] === "'") j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

/** Index just past the `"…"` identifier opening at `i` (`""` stands for one `"`). */
function skipQuoted(sql: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < sql.length) {
    if (sql[j] === quote) {
      if (sql[j + 1] === quote) j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

/** Index just past the (possibly nested) block comment opening at `i`. */
function skipBlockComment(sql: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < sql.length) {
    if (sql[j] === '/' && sql[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (sql[j] === '*' && sql[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return sql.length;
}
