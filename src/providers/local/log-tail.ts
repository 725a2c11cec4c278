/**
 * Which lines of an app's log explain why it failed: what a failed start or health check shows
 * (`details.logTail`).
 *
 * The last lines alone often do not: an app that logs an error on every health probe fills its
 * log with copies of one multi-line dump (a `pg` error is its message, a stack and some twenty
 * `severity: 'ERROR',` … `routine: 'parserOpenTable'` lines), and its last 20 lines are the
 * properties of the last copy, never the `error: relation "healthz" does not exist` line that
 * starts it. So:
 *
 * 1. consecutive copies of one block of lines (equal but for their numbers: timestamps,
 *    durations, pids) are collapsed into the last copy and a line saying how many times it was
 *    written;
 * 2. the last `maxLines` lines of that are shown, moved up by at most 8 lines so that they
 *    start where a collapsed block starts, and where the multi-line entry they start in (they
 *    start with an indented line or a lone closing bracket) starts when its first line reads as
 *    an error (/error|exception|failed|fatal|panic/i);
 * 3. when that entry starts further up, its first line is shown above them with a line saying
 *    how many lines were left out.
 *
 * At most `maxLines + 8` lines, each a whole line of the log or one of those notes. Nothing is
 * masked here: the lines are the app's own output, masked where they are shown like the rest.
 */

/** The longest block (lines) whose consecutive copies are collapsed. */
const MAX_BLOCK_LINES = 200;
/** How far above the lines shown the start of their entry is looked for. */
const MAX_ENTRY_LINES = 500;
/** How many lines more than `maxLines` are shown to start at a block's or an entry's start. */
const MAX_EXTRA_LINES = 8;

/** A line that continues the entry above it: indented, or only a closing bracket. */
const CONTINUATION = /^\s|^[\]})]+[,;]?\s*$/;
/** The first line of an entry that says what went wrong. */
const ERROR_LINE = /error|exception|failed|fatal|panic/i;

/**
 * The lines of `lines` (the end of a log, oldest first) that explain a failure: see the module
 * comment. `truncated`: `lines` start somewhere in the log, not at its beginning (so a count of
 * copies that reaches the first line is a lower bound).
 */
export function explainingTail(
  lines: readonly string[],
  maxLines: number,
  truncated = false,
): string[] {
  const { lines: all, blockStart } = collapseRepeats(lines, truncated);
  if (all.length <= maxLines) return all;
  let from = all.length - maxLines;
  const limit = Math.max(0, from - MAX_EXTRA_LINES);
  if ((blockStart[from] as number) >= limit) from = blockStart[from] as number;
  if (!CONTINUATION.test(all[from] as string)) return all.slice(from);
  for (let i = from - 1; i >= Math.max(0, from - MAX_ENTRY_LINES); i--) {
    const line = all[i] as string;
    if (CONTINUATION.test(line)) continue;
    if (!ERROR_LINE.test(line)) break;
    if (i >= limit) return all.slice(i);
    return [line, `… (${from - i - 1} lines left out)`, ...all.slice(from)];
  }
  return all.slice(from);
}

/**
 * `lines` with each run of consecutive copies of one block (1 to {@link MAX_BLOCK_LINES} lines,
 * compared with their numbers ignored) replaced by its last copy and a note of how many copies
 * there were. Runs are found from the end, the shortest block first. `blockStart[i]`: where the
 * kept copy that line `i` of the result belongs to starts (`i` for any other line).
 */
function collapseRepeats(
  lines: readonly string[],
  truncated: boolean,
): { lines: string[]; blockStart: number[] } {
  const keys = lines.map((line) => line.replace(/\d+/g, '0'));
  const same = (a: number, b: number, length: number, of: readonly string[] = keys) => {
    for (let i = 0; i < length; i++) if (of[a + i] !== of[b + i]) return false;
    return true;
  };
  // Built from the end: groups of lines, the last group first.
  const groups: string[][] = [];
  let end = lines.length;
  while (end > 0) {
    let block = 0;
    for (let p = 1; p <= Math.min(MAX_BLOCK_LINES, Math.floor(end / 2)); p++) {
      // The cheap test first: the last line of the block must equal the one p lines above it.
      if (keys[end - 1] === keys[end - 1 - p] && same(end - p, end - 2 * p, p)) {
        block = p;
        break;
      }
    }
    let copies = block > 0 ? 2 : 1;
    while (block > 0 && end - (copies + 1) * block >= 0) {
      if (!same(end - block, end - (copies + 1) * block, block)) break;
      copies++;
    }
    // Two copies of one line read as well as a line and a note: leave them.
    if (block === 0 || (block === 1 && copies < 3)) {
      groups.push([lines[end - 1] as string]);
      end--;
      continue;
    }
    const start = end - copies * block;
    let varies = false;
    for (let c = 1; c < copies && !varies; c++)
      varies = !same(end - block, end - (c + 1) * block, block, lines);
    // Read from the middle of the log, a run that starts less than a block below the first
    // line read may have more copies above it.
    const times = `${truncated && start < block ? 'at least ' : ''}${copies} times`;
    const what = block === 1 ? 'the line above' : `the ${block} lines above`;
    const numbers = varies ? `; the numbers in ${block === 1 ? 'it' : 'them'} vary` : '';
    groups.push([
      ...lines.slice(end - block, end),
      `… (${what}, written ${times} in a row${numbers})`,
    ]);
    end = start;
  }
  const out: string[] = [];
  const blockStart: number[] = [];
  for (const group of groups.reverse()) {
    const start = out.length;
    for (const line of group) {
      blockStart.push(group.length > 1 ? start : out.length);
      out.push(line);
    }
  }
  return { lines: out, blockStart };
}
