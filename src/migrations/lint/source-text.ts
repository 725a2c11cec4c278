/**
 * Positions in a migration file's text. Lint reports `line:col` with both 1-based, the column
 * counted in Unicode code points (what an editor shows), whatever the source of the position:
 * a UTF-16 offset (token offsets, JavaScript strings) or a UTF-8 byte column (squawk).
 */

export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column, in code points. */
  col: number;
}

/** A file's text with a line index, for offset ↔ line:col conversions. */
export class SourceText {
  readonly text: string;
  /** UTF-16 index of the first character of each line. */
  readonly #lineStarts: number[];

  constructor(text: string) {
    this.text = text;
    this.#lineStarts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) {
      this.#lineStarts.push(i + 1);
    }
  }

  /** Number of lines (a final line without `\n` counts). */
  get lineCount(): number {
    return this.#lineStarts.length;
  }

  /** The line:col of UTF-16 index `offset` (clamped to the text). */
  position(offset: number): Position {
    const at = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    const start = this.#lineStarts[lo]!;
    return { line: lo + 1, col: codePoints(this.text.slice(start, at)) + 1 };
  }

  /** UTF-16 index of 1-based `line` and 1-based code-point `col` (the inverse of `position`). */
  offsetOf(line: number, col: number): number {
    const start = this.lineStart(line);
    let index = start;
    for (let n = 1; n < col && index < this.text.length && this.text[index] !== '\n'; n++) {
      const c = this.text.charCodeAt(index);
      index += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
    }
    return index;
  }

  /** UTF-16 index of the start of 1-based `line` (the end of the text past the last line). */
  lineStart(line: number): number {
    return this.#lineStarts[line - 1] ?? this.text.length;
  }

  /**
   * UTF-16 index of a position given as a 0-based line and a 0-based **UTF-8 byte** column
   * (squawk's JSON reporter). A column inside a multi-byte character maps to its start.
   */
  offsetOfByteColumn(line0: number, byteColumn: number): number {
    const start = this.lineStart(line0 + 1);
    let bytes = 0;
    let index = start;
    while (index < this.text.length && this.text[index] !== '\n') {
      const cp = this.text.codePointAt(index)!;
      const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (bytes + size > byteColumn) break;
      bytes += size;
      index += cp > 0xffff ? 2 : 1;
    }
    return index;
  }

  /** The text of 1-based `line`, without its line break. */
  lineText(line: number): string {
    const start = this.lineStart(line);
    const end = this.text.indexOf('\n', start);
    return this.text.slice(start, end < 0 ? this.text.length : end).replace(/\r$/, '');
  }
}

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}
