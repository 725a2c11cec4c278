/**
 * Indentation mistakes in airlock.yaml, explained: the YAML parser says "All mapping items
 * must start at the same column" at the whitespace before the key it stumbled on (often a
 * blank line above it). This finds that key's line and the lines above it that it fails to
 * line up with, so the message can name them.
 */

/** A line with content (not blank, not only a comment). */
interface ContentLine {
  /** 1-based. */
  line: number;
  indent: number;
  /** The line's text without its indentation, shortened for messages. */
  text: string;
}

/** Where a YAML syntax error is, and what to say about it. */
export interface IndentationProblem {
  line: number;
  col: number;
  message: string;
  fix: string;
}

const NESTING =
  'YAML nests by indentation, with spaces (never tabs), and the keys of one mapping start in the same column';

function contentLines(text: string): ContentLine[] {
  return text.split('\n').flatMap((raw, i) => {
    const body = raw.replace(/\r$/, '');
    const trimmed = body.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) return [];
    const shown = trimmed.length > 40 ? `${trimmed.slice(0, 39)}…` : trimmed;
    return [{ line: i + 1, indent: body.length - trimmed.length, text: shown }];
  });
}

const spaces = (n: number) => `${n} space${n === 1 ? '' : 's'}`;

/** 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/**
 * A `BAD_INDENT` error at `offset`: the first key at or after it does not line up with the
 * mapping it should belong to. Names the nearest lines above that it falls between.
 */
export function badIndentation(text: string, offset: number): IndentationProblem | null {
  const lines = contentLines(text);
  const from = lineOf(text, offset);
  const index = lines.findIndex((l) => l.line >= from);
  const key = lines[index];
  if (!key) return null;
  // The chain of enclosing lines above: each less indented than the one after it.
  let deeper: ContentLine | undefined;
  let shallower: ContentLine | undefined;
  let min = Number.POSITIVE_INFINITY;
  for (let i = index - 1; i >= 0; i--) {
    const above = lines[i] as ContentLine;
    if (above.indent >= min) continue;
    min = above.indent;
    if (above.indent > key.indent) deeper = above;
    else {
      if (above.indent < key.indent) shallower = above;
      break;
    }
  }
  if (!shallower && !deeper) return null;
  if (shallower && deeper && shallower.indent === key.indent) return null;
  const neighbours = [deeper, shallower]
    .filter((l): l is ContentLine => l !== undefined)
    .map((l) => `"${l.text}" on line ${l.line} is indented ${spaces(l.indent)}`);
  const lineUps = [deeper, shallower]
    .filter((l): l is ContentLine => l !== undefined)
    .map((l) => `${spaces(l.indent)} like line ${l.line}`);
  return {
    line: key.line,
    col: key.indent + 1,
    message: `invalid YAML: "${key.text}" on line ${key.line} is indented ${spaces(key.indent)}, which lines up with no mapping above it (${neighbours.join(', ')}).`,
    fix: `${NESTING}: indent line ${key.line} by ${lineUps.join(' or by ')}${lineUps.length > 1 ? ', whichever mapping it belongs to' : ''}.`,
  };
}

/**
 * A `BLOCK_AS_IMPLICIT_KEY` or `MULTILINE_IMPLICIT_KEY` error on the line of `offset`, when the
 * next line is indented deeper than a `key: value` line: YAML reads it as more of that value.
 */
export function continuedValue(text: string, offset: number): IndentationProblem | null {
  const lines = contentLines(text);
  const at = lineOf(text, offset);
  const index = lines.findIndex((l) => l.line === at);
  const keyLine = lines[index];
  const next = lines[index + 1];
  if (!keyLine || !next || next.indent <= keyLine.indent) return null;
  if (!/^(- )?[^\s:#][^:#]*:\s+\S/.test(keyLine.text)) return null;
  return {
    line: next.line,
    col: next.indent + 1,
    message: `invalid YAML: "${next.text}" on line ${next.line} is indented ${spaces(next.indent)}, deeper than "${keyLine.text}" on line ${keyLine.line} (${spaces(keyLine.indent)}), so YAML reads it as more of that line's value.`,
    fix: `${NESTING}: indent line ${next.line} by ${spaces(keyLine.indent)} like line ${keyLine.line} if it is the next key of the same mapping.`,
  };
}
