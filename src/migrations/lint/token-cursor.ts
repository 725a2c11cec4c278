/**
 * A cursor over the tokens of one statement (sql-tokens.ts), for the statement readers
 * (sqlite-statement.ts, postgres-statement.ts): keyword tests, names, balanced parentheses.
 */

import type { SqlToken } from './sql-tokens.ts';

/** A name as written, possibly qualified (`main.notes`, `public."Notes"`). */
export interface SqlName {
  /** The schema (SQLite: the database) when qualified. */
  schema?: string;
  /** The unquoted name. */
  name: string;
  /** UTF-16 offset of the name's first token (the schema's when qualified). */
  start: number;
}

/** Thrown by `TokenCursor` when the tokens are not what the reader expects. */
export class UnreadableStatement extends Error {
  /** UTF-16 offset of the token the reader stopped at. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

export class TokenCursor {
  readonly tokens: readonly SqlToken[];
  index = 0;
  /** Offset reported when the cursor runs past the last token. */
  readonly #end: number;

  constructor(tokens: readonly SqlToken[], end: number) {
    this.tokens = tokens;
    this.#end = end;
  }

  get done(): boolean {
    return this.index >= this.tokens.length;
  }

  peek(ahead = 0): SqlToken | undefined {
    return this.tokens[this.index + ahead];
  }

  /** The offset of the current token (or the statement's end). */
  get offset(): number {
    return this.peek()?.start ?? this.#end;
  }

  /** True when the token `ahead` is the keyword `word` (a bare word, any case). */
  is(word: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t?.type === 'word' && t.value.toUpperCase() === word;
  }

  /** True when the token `ahead` is the operator `op`. */
  isOp(op: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t?.type === 'op' && t.value === op;
  }

  /** Consumes the keywords `words` in sequence if they all come next; returns whether it did. */
  accept(...words: string[]): boolean {
    if (!words.every((w, k) => this.is(w, k))) return false;
    this.index += words.length;
    return true;
  }

  acceptOp(op: string): boolean {
    if (!this.isOp(op)) return false;
    this.index++;
    return true;
  }

  /** Consumes the keyword `word`. @throws UnreadableStatement when it is not next. */
  expect(...words: string[]): void {
    if (!this.accept(...words)) this.fail(`expected ${words.join(' ')}`);
  }

  expectOp(op: string): void {
    if (!this.acceptOp(op)) this.fail(`expected "${op}"`);
  }

  next(): SqlToken {
    const t = this.peek();
    if (!t) this.fail('unexpected end of statement');
    this.index++;
    return t;
  }

  /** The current token's keyword (upper case), or '' when it is not a bare word. */
  word(ahead = 0): string {
    const t = this.peek(ahead);
    return t?.type === 'word' ? t.value.toUpperCase() : '';
  }

  /**
   * One identifier: a bare word, a quoted identifier or (as SQLite allows in names) a string.
   * @throws UnreadableStatement otherwise.
   */
  identifier(): SqlToken {
    const t = this.peek();
    if (!t || (t.type !== 'word' && t.type !== 'quoted' && t.type !== 'string')) {
      this.fail('expected a name');
    }
    this.index++;
    return t;
  }

  /** `name` or `schema.name`. */
  name(): SqlName {
    const first = this.identifier();
    if (this.isOp('.')) {
      this.index++;
      const second = this.identifier();
      return { schema: first.value, name: second.value, start: first.start };
    }
    return { name: first.value, start: first.start };
  }

  /**
   * Skips a balanced `( … )` starting at the current token.
   * @throws UnreadableStatement when it is not a `(` or does not close.
   */
  skipParens(): { start: number; end: number } {
    const open = this.peek();
    this.expectOp('(');
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.type === 'op' && t.value === '(') depth++;
      else if (t.type === 'op' && t.value === ')') depth--;
    }
    return { start: open!.start, end: this.tokens[this.index - 1]!.end };
  }

  /**
   * Skips tokens until one of `words` (keywords) or `ops` appears at parenthesis depth 0, or the
   * end; returns the skipped tokens.
   */
  skipUntil(words: readonly string[], ops: readonly string[] = []): SqlToken[] {
    const skipped: SqlToken[] = [];
    let depth = 0;
    while (!this.done) {
      const t = this.peek()!;
      if (depth === 0) {
        if (t.type === 'word' && words.includes(t.value.toUpperCase())) break;
        if (t.type === 'op' && ops.includes(t.value)) break;
      }
      if (t.type === 'op' && t.value === '(') depth++;
      else if (t.type === 'op' && t.value === ')') {
        if (depth === 0) break;
        depth--;
      }
      skipped.push(t);
      this.index++;
    }
    return skipped;
  }

  fail(message: string): never {
    throw new UnreadableStatement(message, this.offset);
  }
}
