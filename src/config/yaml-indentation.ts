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
 * The file's usual indentation step: the most common amount a line is indented deeper than the
 * line before it (the smaller one on a tie), or null when nothing nests.
 */
function usualStep(lines: ContentLine[]): number | null {
  const counts = new Map<number, number>();
  for (let i = 1; i < lines.length; i++) {
    const step = (lines[i] as ContentLine).indent - (lines[i - 1] as ContentLine).indent;
    if (step > 0) counts.set(step, (counts.get(step) ?? 0) + 1);
  }
  let best: [number, number] | null = null;
  for (const [step, count] of counts)
    if (!best || count > best[1] || (count === best[1] && step < best[0])) best = [step, count];
  return best?.[0] ?? null;
}

/**
 * When the key at `index` fails to line up because the first key of its mapping is the one that
 * is off (`environments:`, then `   staging:` with its block, then `  production:`: staging is),
 * the problem at that first key. For each line above that encloses the key (the nearest less
 * indented one, then the nearest less indented than that, …), its next line is taken for the
 * mapping's first key when moving it to the key's column would leave the lines between nested
 * under it, preferring the enclosing line whose column plus the file's usual indentation step is
 * the key's, else one where another key of the mapping uses the key's column too. Null otherwise
 * (the key itself is then the line that is off).
 */
function offFirstKey(lines: ContentLine[], index: number): IndentationProblem | null {
  const key = lines[index] as ContentLine;
  const step = usualStep(lines);
  // The keys at the key's column from it on, until the mapping ends.
  const after: ContentLine[] = [];
  for (const line of lines.slice(index)) {
    if (line.indent < key.indent) break;
    if (line.indent === key.indent) after.push(line);
  }
  const candidates: { parent: ContentLine; first: ContentLine; keys: ContentLine[] }[] = [];
  let limit = key.indent;
  for (let i = index - 1; i >= 0; i--) {
    const parent = lines[i] as ContentLine;
    if (parent.indent >= limit) continue;
    limit = parent.indent;
    const first = lines[i + 1] as ContentLine;
    // The key, or a key in its column, opens this line's block: the mapping is further up.
    if (first === key || first.indent === key.indent) continue;
    const between = lines.slice(i + 2, index);
    const deepest = Math.max(first.indent, key.indent);
    if (!between.some((l) => l.indent !== key.indent && l.indent <= deepest))
      candidates.push({
        parent,
        first,
        keys: [...between.filter((l) => l.indent === key.indent), ...after],
      });
    else break;
  }
  // The file's usual step says best which line the key belongs under; else the other keys do.
  const found =
    candidates.find((c) => step !== null && c.parent.indent + step === key.indent) ??
    candidates.find((c) => c.keys.length > 1);
  if (!found) return null;
  const { parent, first } = found;
  const like = found.keys[0] as ContentLine;
  return {
    line: first.line,
    col: first.indent + 1,
    message: `invalid YAML: "${first.text}" on line ${first.line} is indented ${spaces(first.indent)}, but the keys after it under "${parent.text}" (line ${parent.line}) are indented ${spaces(key.indent)}, like "${like.text}" on line ${like.line}.`,
    fix: `${NESTING}: indent line ${first.line} by ${spaces(key.indent)} like line ${like.line}.`,
  };
}

/**
 * A `BAD_INDENT` error at `offset`: the first key at or after it does not line up with the
 * mapping it should belong to. When the first key of that mapping is the one that is off (the
 * parser stumbles only on the keys after it, which are right), names that one instead
 * (`offFirstKey`), so each key after it gives the same problem; else names the nearest lines
 * above that the key falls between.
 */
export function badIndentation(text: string, offset: number): IndentationProblem | null {
  const lines = contentLines(text);
  const from = lineOf(text, offset);
  const index = lines.findIndex((l) => l.line >= from);
  const key = lines[index];
  if (!key) return null;
  const first = offFirstKey(lines, index);
  if (first) return first;
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
