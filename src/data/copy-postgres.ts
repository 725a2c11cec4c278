/**
 * Copies tables from one Postgres database into another, streaming: each table leaves the source
 * through `COPY (SELECT …) TO STDOUT` and enters the target through `COPY … FROM STDIN`
 * (`pg-copy-streams`), chunk by chunk through the table's transformers (working on the COPY
 * text's bytes, see `RowTransform`), so memory stays flat whatever the table's size. Tables
 * without a transformer pass through as bytes.
 *
 * Everything happens in one transaction on the target: the copied and excluded tables are
 * emptied, filled in foreign-key order and their sequences set as the source's; a failure or a
 * killed process leaves the target exactly as it was (Postgres rolls the transaction back).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { CellValue, TablePlan, Transformer } from './scrub.ts';
import { siphash128 } from './siphash.ts';

/** Rows copied per table, in copy order. */
export interface CopyCounts {
  table: string;
  rows: number;
  ms: number;
}

/** Progress of one table: rows so far. */
export type CopyProgress = (table: string, rows: number) => void;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Reads one field of COPY's text format (backslash escapes) into its value. */
function unescapeField(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/g, (_m, oct, hex, ch) => {
    if (oct) return String.fromCharCode(Number.parseInt(oct, 8));
    if (hex) return String.fromCharCode(Number.parseInt(hex, 16));
    switch (ch) {
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      default:
        return ch;
    }
  });
}

/** Writes a value as one field of COPY's text format. */
function escapeField(value: CellValue): string {
  if (value === null) return '\\N';
  const text =
    value instanceof Uint8Array ? `\\x${Buffer.from(value).toString('hex')}` : String(value);
  return text.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/** Bytes buffered per stream of a copy (source, transform, target): large reads and writes. */
const BUFFERED = 1 << 20;
const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const N = 78;

/** `out` with room for `n` more bytes after `pos` (a bigger copy when it has not). */
function grow(out: Buffer, pos: number, n: number): Buffer {
  const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n + 1024));
  out.copy(bigger, 0, 0, pos);
  return bigger;
}

/**
 * Transforms COPY text column by column, on the bytes: each chunk of the source's COPY output is
 * scanned once for tabs and newlines; the bytes of kept columns are copied over in runs, and a
 * scrubbed field is hashed in place (`KeyedPseudonym`) and its pseudonym written straight into
 * one output buffer per chunk. Only a field with an escape (`\n`, `\\`, …), a NULL or a rule
 * without a byte form (a constant, a street address) goes through strings. Counts rows.
 */
export class RowTransform extends Transform {
  #rest: Buffer | null = null;
  rows = 0;
  readonly #columns: Array<Transformer | undefined>;
  readonly #progress: () => void;
  readonly #h = new Uint8Array(16);

  constructor(plan: TablePlan, progress: (rows: number) => void) {
    super({ highWaterMark: BUFFERED });
    this.#columns = plan.columns.map((c) => plan.transform.get(c));
    this.#progress = () => progress(this.rows);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let buf = chunk;
    if (this.#rest) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    const end = buf.lastIndexOf(NEWLINE) + 1;
    if (end < buf.length) this.#rest = Buffer.from(buf.subarray(end));
    if (end > 0) this.push(this.#lines(buf, end));
    this.#progress();
    done();
  }

  /** Transforms the complete lines `buf[0, end)`; returns the output. */
  #lines(buf: Buffer, end: number): Buffer {
    const columns = this.#columns;
    const h = this.#h;
    let out: Buffer = Buffer.allocUnsafe(end + (end >>> 1) + 1024);
    let pos = 0;
    let copied = 0; // buf[copied, start of the current field) is still to copy over
    let rows = 0;
    let i = 0;
    while (i < end) {
      // One line: fields until the newline.
      for (let col = 0; ; col++) {
        const t = columns[col];
        const start = i;
        let escaped = false;
        let c = buf[i]!;
        if (t) {
          while (c !== TAB && c !== NEWLINE) {
            if (c === BACKSLASH) escaped = true;
            c = buf[++i]!;
          }
          // The kept bytes before this field, then its pseudonym.
          if (pos + start - copied > out.length) out = grow(out, pos, start - copied);
          // Short runs (a tab, an id) by hand: cheaper than a native call.
          if (start - copied < 64) for (let k = copied; k < start; k++) out[pos++] = buf[k]!;
          else pos += buf.copy(out, pos, copied, start);
          copied = i;
          const keyed = t.keyed;
          if (keyed && !escaped) {
            if (pos + keyed.maxBytes > out.length) out = grow(out, pos, keyed.maxBytes);
            siphash128(keyed.key, buf, start, i, h);
            pos = keyed.write(h, out, pos);
          } else {
            const isNull = escaped && i - start === 2 && buf[start + 1] === N;
            const field = escapeField(
              t(isNull ? null : unescapeField(buf.toString('utf8', start, i))),
            );
            if (pos + Buffer.byteLength(field) > out.length)
              out = grow(out, pos, Buffer.byteLength(field));
            pos += out.write(field, pos);
          }
        } else {
          while (c !== TAB && c !== NEWLINE) c = buf[++i]!;
        }
        i++;
        if (c === NEWLINE) break;
      }
      rows++;
    }
    if (pos + end - copied > out.length) out = grow(out, pos, end - copied);
    pos += buf.copy(out, pos, copied, end);
    this.rows += rows;
    return out.subarray(0, pos);
  }

  override _flush(done: TransformCallback): void {
    // COPY ends every line with a newline; a last line without one is still a row.
    const rest = this.#rest;
    this.#rest = null;
    if (rest) this._transform(Buffer.from('\n'), 'utf8', done);
    else done();
  }
}

/** Counts the rows of a pass-through table (lines of COPY text) without parsing them. */
class LineCounter extends Transform {
  rows = 0;
  readonly progress: (rows: number) => void;
  constructor(progress: (rows: number) => void) {
    super();
    this.progress = progress;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let n = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    this.rows += n;
    this.progress(this.rows);
    done(null, chunk);
  }
}

/**
 * Copies `plans` (in foreign-key order, referenced tables first) from `source` into `target`,
 * and empties `excluded` in the target, in one transaction on the target.
 * @param schema the Postgres schema of the tables (`public`).
 * @throws what Postgres throws (the target's transaction is rolled back first).
 */
export async function copyPostgres(
  source: Client,
  target: Client,
  plans: TablePlan[],
  excluded: string[],
  options: { schema: string; onProgress?: CopyProgress; signal?: AbortSignal },
): Promise<CopyCounts[]> {
  const qualified = (t: string) => `${quote(options.schema)}.${quote(t)}`;
  const counts: CopyCounts[] = [];
  // A consistent snapshot of the source across tables (REPEATABLE READ, read only).
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await target.query('BEGIN');
  try {
    const all = [...plans.map((p) => p.table), ...excluded];
    if (all.length > 0) await target.query(`TRUNCATE ${all.map(qualified).join(', ')}`);
    for (const plan of plans) {
      options.signal?.throwIfAborted();
      const started = Date.now();
      const columns = plan.columns.map(quote).join(', ');
      const out = source.query(
        copyTo(`COPY (SELECT ${columns} FROM ${qualified(plan.table)}) TO STDOUT`, {
          highWaterMark: BUFFERED,
        }),
      );
      const into = target.query(
        copyFrom(`COPY ${qualified(plan.table)} (${columns}) FROM STDIN`, {
          highWaterMark: BUFFERED,
        }),
      );
      const progress = (rows: number) => options.onProgress?.(plan.table, rows);
      const middle =
        plan.transform.size > 0 ? new RowTransform(plan, progress) : new LineCounter(progress);
      await pipeline(out, middle, into, options.signal ? { signal: options.signal } : {});
      counts.push({ table: plan.table, rows: middle.rows, ms: Date.now() - started });
    }
    // Sequences as the source has them, so the next insert on the target does not collide.
    const { rows: sequences } = await source.query<{ name: string }>(
      `SELECT sequencename AS name FROM pg_sequences WHERE schemaname = $1`,
      [options.schema],
    );
    for (const { name } of sequences) {
      const { rows } = await source.query<{ last_value: string | null; is_called: boolean }>(
        `SELECT last_value, is_called FROM ${qualified(name)}`,
      );
      const row = rows[0];
      if (row?.last_value != null)
        await target.query('SELECT setval($1::regclass, $2, $3)', [
          qualified(name),
          row.last_value,
          row.is_called,
        ]);
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await source.query('COMMIT').catch(() => {});
  }
  return counts;
}
