/**
 * A SQL tokenizer for lint, for two dialects, and the SQLite statement splitter. Pure (no I/O).
 *
 * - `sqlite` follows SQLite's own tokenizer (`src/tokenize.c`, https://www.sqlite.org/lang_keywords.html):
 *   `'…'` strings; `"…"`, `` `…` `` and `[…]` identifiers; `x'…'` blobs; numbers with `_`
 *   digit separators, hex, fractions and exponents; `?N`, `:a`, `@a`, `$a` parameters; `->`
 *   and `->>`; `--` and (non-nesting) block comments.
 * - `postgres` follows Postgres's lexer (`src/backend/parser/scan.l`) as far as lint needs it:
 *   `'…'`, `E'…'` (backslash escapes), `U&'…'`, `B'…'`, `X'…'`, `N'…'` strings; `"…"`
 *   identifiers; dollar quotes `$tag$…$tag$`; `$1` parameters; `::`; nesting block comments.
 *
 * Tokens carry UTF-16 offsets into the text they came from, so findings point at the exact
 * character. Comments and whitespace are not tokens. An unterminated quote (or, on Postgres,
 * block comment) runs to the end of the text and is flagged (`unterminated`), as the engine then
 * refuses the statement.
 */

export type SqlDialect = 'sqlite' | 'postgres';

export type SqlTokenType =
  /** A bare word: a keyword or an unquoted identifier. `value` is its text. */
  | 'word'
  /** A quoted identifier; `value` is the name without quotes. */
  | 'quoted'
  /** A string literal; `value` is its content without quotes (`''` made `'`). */
  | 'string'
  | 'number'
  | 'blob'
  | 'parameter'
  /** An operator or punctuation: `(`, `)`, `,`, `.`, `;`, `->>`, `::`, … `value` is its text. */
  | 'op';

export interface SqlToken {
  type: SqlTokenType;
  /** See `SqlTokenType`. */
  value: string;
  /** UTF-16 offset of the first character. */
  start: number;
  /** UTF-16 offset just past the last character. */
  end: number;
  /** True for a quote or comment that reaches the end of the text without closing. */
  unterminated?: boolean;
}

/** True for the characters SQLite and Postgres accept inside an unquoted identifier. */
function isIdentChar(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x5f || // _
    code === 0x24 || // $
    code >= 0x80
  );
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d || code === 0x0c;
}

/**
 * The tokens of `text` from `from` to `to` (UTF-16 offsets; default the whole text), in order.
 * Never throws: what the engine would refuse is left for it to refuse.
 */
export function tokenizeSql(
  text: string,
  dialect: SqlDialect,
  from = 0,
  to = text.length,
): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = from;
  const pg = dialect === 'postgres';
  const push = (type: SqlTokenType, start: number, end: number, value: string, open = false) => {
    tokens.push(
      open ? { type, value, start, end, unterminated: true } : { type, value, start, end },
    );
  };
  /** Reads a quoted run ending at `close` (doubled to escape); returns [end, content, closed]. */
  const quoted = (start: number, close: string, backslash = false): [number, string, boolean] => {
    let j = start + 1;
    let content = '';
    while (j < to) {
      const c = text[j]!;
      if (backslash && c === '\\' && j + 1 < to) {
        content += text[j + 1];
        j += 2;
        continue;
      }
      if (c === close) {
        if (close !== ']' && text[j + 1] === close) {
          content += close;
          j += 2;
          continue;
        }
        return [j + 1, content, true];
      }
      content += c;
      j++;
    }
    return [to, content, false];
  };
  while (i < to) {
    const code = text.charCodeAt(i);
    const c = text[i]!;
    const next = text[i + 1];
    if (isSpace(code)) {
      i++;
      continue;
    }
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end < 0 || end > to ? to : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < to && depth > 0) {
        if (text[j] === '*' && text[j + 1] === '/') {
          depth--;
          j += 2;
        } else if (pg && text[j] === '/' && text[j + 1] === '*') {
          depth++;
          j += 2;
        } else j++;
      }
      // Postgres refuses an open comment; SQLite ends it at the end of the input
      // (https://www.sqlite.org/lang_comment.html).
      if (depth > 0 && pg) push('op', i, to, '/*', true);
      i = Math.min(j, to);
      continue;
    }
    if (c === "'") {
      const [end, value, closed] = quoted(i, "'");
      push('string', i, end, value, !closed);
      i = end;
      continue;
    }
    if (c === '"' || (!pg && c === '`')) {
      const [end, value, closed] = quoted(i, c);
      push('quoted', i, end, value, !closed);
      i = end;
      continue;
    }
    if (!pg && c === '[') {
      const [end, value, closed] = quoted(i, ']');
      push('quoted', i, end, value, !closed);
      i = end;
      continue;
    }
    // Prefixed strings and blobs: x'…' (both), E'…', B'…', N'…', U&'…' (Postgres).
    if (next === "'" && /[xX]/.test(c)) {
      const [end, value, closed] = quoted(i + 1, "'");
      push(pg ? 'string' : 'blob', i, end, value, !closed);
      i = end;
      continue;
    }
    if (pg && next === "'" && /[eEbBnN]/.test(c)) {
      const [end, value, closed] = quoted(i + 1, "'", c === 'e' || c === 'E');
      push('string', i, end, value, !closed);
      i = end;
      continue;
    }
    if (pg && (c === 'u' || c === 'U') && next === '&' && text[i + 2] === "'") {
      const [end, value, closed] = quoted(i + 2, "'");
      push('string', i, end, value, !closed);
      i = end;
      continue;
    }
    if (pg && c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        const end = close < 0 || close + tag[0].length > to ? to : close + tag[0].length;
        push('string', i, end, text.slice(i + tag[0].length, close < 0 ? to : close), close < 0);
        i = end;
        continue;
      }
      const param = /^\$\d+/.exec(text.slice(i, i + 12));
      if (param) {
        push('parameter', i, i + param[0].length, param[0]);
        i += param[0].length;
        continue;
      }
    }
    if (isDigit(code) || (c === '.' && next !== undefined && isDigit(next.charCodeAt(0)))) {
      let j = i;
      if (c === '0' && (next === 'x' || next === 'X')) {
        j += 2;
        while (j < to && /[0-9a-fA-F_]/.test(text[j]!)) j++;
      } else {
        while (j < to && (isDigit(text.charCodeAt(j)) || text[j] === '_')) j++;
        if (text[j] === '.') {
          j++;
          while (j < to && (isDigit(text.charCodeAt(j)) || text[j] === '_')) j++;
        }
        if ((text[j] === 'e' || text[j] === 'E') && /^[eE][+-]?\d/.test(text.slice(j, j + 3))) {
          j += text[j + 1] === '+' || text[j + 1] === '-' ? 2 : 1;
          while (j < to && isDigit(text.charCodeAt(j))) j++;
        }
      }
      push('number', i, j, text.slice(i, j));
      i = j;
      continue;
    }
    if (isIdentChar(code) && !(pg && c === '$')) {
      let j = i + 1;
      while (j < to && isIdentChar(text.charCodeAt(j))) j++;
      push('word', i, j, text.slice(i, j));
      i = j;
      continue;
    }
    if (!pg && (c === '?' || c === ':' || c === '@' || c === '$' || c === '#')) {
      let j = i + 1;
      while (j < to && isIdentChar(text.charCodeAt(j))) j++;
      if (j > i + 1 || c === '?') {
        push('parameter', i, j, text.slice(i, j));
        i = j;
        continue;
      }
    }
    const three = text.slice(i, i + 3);
    const two = text.slice(i, i + 2);
    const op =
      three === '->>'
        ? three
        : ['->', '||', '<=', '>=', '==', '!=', '<>', '<<', '>>', '::', '=>'].includes(two) &&
            (pg || two !== '::')
          ? two
          : c;
    push('op', i, i + op.length, op);
    i += op.length;
  }
  return tokens;
}

/** One statement of a SQLite script. */
export interface SqliteStatementText {
  /** UTF-16 offset of its first token. */
  start: number;
  /** UTF-16 offset just past its last token (its `;` excluded). */
  end: number;
  /** Its tokens, without the `;`. Never empty. */
  tokens: SqlToken[];
}

/**
 * Splits a SQLite script into statements as SQLite's parser does: a statement ends at a `;`,
 * except inside the body of a `CREATE TRIGGER`, which ends at the `END` that closes its
 * `BEGIN` (a `CASE … END` inside the body does not; https://www.sqlite.org/lang_createtrigger.html),
 * and inside the parenthesised arguments of `CREATE VIRTUAL TABLE`, which SQLite hands to the
 * module whatever they are. Empty statements are dropped.
 */
export function splitSqliteStatements(text: string): SqliteStatementText[] {
  const tokens = tokenizeSql(text, 'sqlite');
  const out: SqliteStatementText[] = [];
  let current: SqlToken[] = [];
  let trigger: 'no' | 'head' | 'body' | 'done' = 'no';
  let caseDepth = 0;
  let virtualTable = false;
  let parenDepth = 0;
  const finish = () => {
    if (current.length > 0) {
      out.push({ start: current[0]!.start, end: current.at(-1)!.end, tokens: current });
    }
    current = [];
    trigger = 'no';
    caseDepth = 0;
    virtualTable = false;
    parenDepth = 0;
  };
  for (const token of tokens) {
    const word = token.type === 'word' ? token.value.toUpperCase() : '';
    if (
      token.type === 'op' &&
      token.value === ';' &&
      (trigger === 'no' || trigger === 'done') &&
      !(virtualTable && parenDepth > 0)
    ) {
      finish();
      continue;
    }
    current.push(token);
    if (token.type === 'op' && token.value === '(') parenDepth++;
    else if (token.type === 'op' && token.value === ')') parenDepth = Math.max(0, parenDepth - 1);
    if (current.length <= 3 && word === 'VIRTUAL' && current[0]!.value.toUpperCase() === 'CREATE') {
      virtualTable = true;
    }
    if (trigger === 'no' && current.length <= 3 && word === 'TRIGGER') {
      const head = current
        .slice(0, -1)
        .map((t) => (t.type === 'word' ? t.value.toUpperCase() : ''));
      if (head[0] === 'CREATE' && head.slice(1).every((w) => w === 'TEMP' || w === 'TEMPORARY')) {
        trigger = 'head';
      }
    } else if (trigger === 'head' && word === 'BEGIN') {
      trigger = 'body';
    } else if (trigger === 'body') {
      if (word === 'CASE') caseDepth++;
      else if (word === 'END') {
        if (caseDepth > 0) caseDepth--;
        else trigger = 'done';
      }
    }
  }
  finish();
  return out;
}
