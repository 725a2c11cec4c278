/**
 * Scrub rules: what each column of a copied table becomes in the target environment, and the
 * fail-closed coverage check. Pseudonyms are deterministic for one salt (the same input gives the
 * same output, on every machine and every refresh), so joins on a scrubbed column and unique
 * constraints keep holding, as Snaplet's copycat transformers do (names from copycat's lists,
 * see `transformers`); every pseudonym that must stay unique (email, username, hash, uuid)
 * carries part of a keyed hash of the input. Scrubbed emails are on `example.com` (reserved by
 * RFC 2606), so a staging mail can never reach a real person.
 */
import { createHash } from 'node:crypto';
import { copycat } from '@snaplet/copycat';
import enLocale from '@snaplet/copycat/dist/locales/en';
import type { ScrubRule } from '../config/service-schema.ts';
import { UserError } from '../errors.ts';
import { type SipKey, siphash128, sipKey } from './siphash.ts';

/** A column value as read from a database (text form for Postgres' COPY, JS value for SQLite). */
export type CellValue = string | number | bigint | boolean | null | Uint8Array;

/**
 * A keyed pseudonym in byte form, for a copy that works on raw bytes (Postgres' COPY text): the
 * 16-byte keyed hash of the value's UTF-8 bytes is written out as the pseudonym's ASCII bytes.
 * The function form of the same transformer gives the same text for the same value.
 */
export interface KeyedPseudonym {
  key: SipKey;
  /** The most bytes `write` writes. */
  maxBytes: number;
  /** Writes the pseudonym of hash `h` (16 bytes) into `out` at `pos`; returns the end. */
  write(h: Uint8Array, out: Uint8Array, pos: number): number;
}

/** Turns one value into its scrubbed form; null stays null unless the rule sets a constant. */
export type Transformer = ((value: CellValue) => CellValue) & { keyed?: KeyedPseudonym };
/** The rules of one table: column → transformer (absent columns are kept). */
export interface TablePlan {
  table: string;
  columns: string[];
  /** Transformers by column; a column missing here is copied as it is. */
  transform: Map<string, Transformer>;
  /** Columns no rule covered (copied as they are: only when strict is off). */
  uncovered: string[];
}

export interface ScrubSettings {
  scrub: Record<string, ScrubRule>;
  keep: string[];
  exclude: string[];
  strict: boolean;
}

/** Names packed in one byte array: name k is bytes[offsets[k], offsets[k + 1]). */
interface NameList {
  bytes: Uint8Array;
  offsets: Int32Array;
  count: number;
  longest: number;
}

function nameList(names: string[]): NameList {
  const offsets = new Int32Array(names.length + 1);
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    if (/[^\x20-\x7e]|\\/.test(name)) throw new Error(`copycat's name list holds ${name}`);
    offsets[k + 1] = offsets[k]! + name.length;
  }
  return {
    bytes: ascii(names.join('')),
    offsets,
    count: names.length,
    longest: Math.max(...names.map((n) => n.length)),
  };
}

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

function put(bytes: Uint8Array, out: Uint8Array, pos: number): number {
  for (let i = 0; i < bytes.length; i++) out[pos + i] = bytes[i]!;
  return pos + bytes.length;
}

function putHex(h: Uint8Array, from: number, to: number, out: Uint8Array, pos: number): number {
  for (let i = from; i < to; i++) {
    out[pos++] = HEX[h[i]! >>> 4]!;
    out[pos++] = HEX[h[i]! & 15]!;
  }
  return pos;
}

/** The big-endian 32-bit word at `at` of the hash. */
const word = (h: Uint8Array, at: number) =>
  ((h[at]! << 24) | (h[at + 1]! << 16) | (h[at + 2]! << 8) | h[at + 3]!) >>> 0;

/**
 * The transformers of a salt. `salt` is secret: it never leaves this module.
 *
 * Each pseudonym comes from one keyed hash of the input: SipHash-2-4-128 (`siphash.ts`) under a
 * key derived from the salt and the rule's kind (the first 16 bytes of sha256(salt, kind)), over
 * the value's UTF-8 text. Its 16 bytes pick a first and a last name from copycat's English name
 * lists (3 007 × 474) and give the digits and the suffix that keep emails, usernames, UUIDs and
 * hashes unique per input. A short-input keyed hash computed in place on the copied bytes keeps a
 * refresh of a million rows near the speed of `pg_dump | psql` (bench (j)); copycat itself makes
 * the rarer street addresses, from the same keyed hash.
 */
export function transformers(salt: string): (rule: ScrubRule) => Transformer | null {
  copycat.setHashKey(copycat.generateHashKey(salt.padEnd(16, '.').slice(0, 16)));
  // A CommonJS module whose export is `{ default: locale }` when Node loads it from ESM.
  const en = ((enLocale as unknown as { default?: unknown }).default ?? enLocale) as {
    name: { first_name: string[]; last_name: string[] };
  };
  const lower = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  // The names as bytes (all ASCII, none with a character COPY's text format escapes).
  const first = nameList(en.name.first_name);
  const last = nameList(en.name.last_name);
  const firstLower = nameList(en.name.first_name.map(lower));
  const lastLower = nameList(en.name.last_name.map(lower));
  const longest = (list: NameList) => list.longest;
  /** Writes the name the word at `at` of `h` picks from `list`; returns the end. */
  const pick = (list: NameList, h: Uint8Array, at: number, out: Uint8Array, pos: number) => {
    const k = word(h, at) % list.count;
    const to = list.offsets[k + 1]!;
    const bytes = list.bytes;
    for (let i = list.offsets[k]!; i < to; i++) out[pos++] = bytes[i]!;
    return pos;
  };
  const keyOf = (kind: string) =>
    sipKey(createHash('sha256').update(`${salt}\0${kind}`).digest().subarray(0, 16));

  const scratch = new Uint8Array(256);
  const h = new Uint8Array(16);
  const keyed = (kind: string, maxBytes: number, write: KeyedPseudonym['write']): Transformer => {
    const pseudonym: KeyedPseudonym = { key: keyOf(kind), maxBytes, write };
    const t: Transformer = (value) => {
      if (value === null) return null;
      const bytes = Buffer.from(text(value), 'utf8');
      siphash128(pseudonym.key, bytes, 0, bytes.length, h);
      return Buffer.from(scratch.buffer, 0, write(h, scratch, 0)).toString('latin1');
    };
    t.keyed = pseudonym;
    return t;
  };
  const text = (value: CellValue) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value);
  const DOT = 46;
  const SPACE = 32;
  const EXAMPLE = ascii('@example.com');
  const PHONE = ascii('+1 555 ');
  return (rule) => {
    if (typeof rule === 'object') return () => rule.value as CellValue;
    switch (rule) {
      case 'keep':
        return null;
      case 'null':
        return () => null;
      case 'empty':
        return (value) => (value === null ? null : '');
      case 'email':
        // first.last.<10 hex>@example.com
        return keyed('email', longest(firstLower) + longest(lastLower) + 24, (b, out, pos) => {
          pos = pick(firstLower, b, 0, out, pos);
          out[pos++] = DOT;
          pos = pick(lastLower, b, 4, out, pos);
          out[pos++] = DOT;
          pos = putHex(b, 8, 13, out, pos);
          return put(EXAMPLE, out, pos);
        });
      case 'fullName':
        return keyed('name', longest(first) + longest(last) + 1, (b, out, pos) => {
          pos = pick(first, b, 0, out, pos);
          out[pos++] = SPACE;
          return pick(last, b, 4, out, pos);
        });
      case 'firstName':
        return keyed('first', longest(first), (b, out, pos) => pick(first, b, 0, out, pos));
      case 'lastName':
        return keyed('last', longest(last), (b, out, pos) => pick(last, b, 4, out, pos));
      case 'phone':
        // +1 555 …: the North American prefix kept for fiction.
        return keyed('phone', 14, (b, out, pos) => {
          pos = put(PHONE, out, pos);
          let n = word(b, 0) % 10_000_000;
          for (let i = 6; i >= 0; i--) {
            out[pos + i] = 48 + (n % 10);
            n = (n / 10) | 0;
          }
          return pos + 7;
        });
      case 'username':
        return keyed('user', longest(firstLower) + 11, (b, out, pos) => {
          pos = pick(firstLower, b, 0, out, pos);
          out[pos++] = 95; // _
          return putHex(b, 4, 9, out, pos);
        });
      case 'streetAddress': {
        const hex = keyed('street', 32, (b, out, pos) => putHex(b, 0, 16, out, pos));
        return (value) => (value === null ? null : copycat.streetAddress(hex(value) as string));
      }
      case 'uuid':
        // A version-4-shaped UUID from the keyed hash: unique as the input is.
        return keyed('uuid', 36, (b, out, pos) => {
          pos = putHex(b, 0, 4, out, pos);
          out[pos++] = 45;
          pos = putHex(b, 4, 6, out, pos);
          out[pos++] = 45;
          out[pos++] = 52; // 4
          out[pos++] = HEX[b[6]! & 15]!;
          pos = putHex(b, 7, 8, out, pos);
          out[pos++] = 45;
          out[pos++] = HEX[((b[8]! >>> 4) & 3) | 8]!;
          out[pos++] = HEX[b[8]! & 15]!;
          pos = putHex(b, 9, 10, out, pos);
          out[pos++] = 45;
          return putHex(b, 10, 16, out, pos);
        });
      case 'hash':
        return keyed('hash', 32, (b, out, pos) => putHex(b, 0, 16, out, pos));
    }
  };
}

/**
 * Which rule covers each column of `table` and the transformers to apply, checked fail-closed.
 * @param columns the table's columns in the source, in order.
 * @throws UserError `DATA_COLUMN_UNCOVERED` (strict) naming every `table.column` without a rule,
 *   with the lines to add.
 */
export function planTables(
  tables: ReadonlyArray<{ table: string; columns: string[] }>,
  settings: ScrubSettings,
  salt: string,
  file: string,
): TablePlan[] {
  const make = transformers(salt);
  const keepAll = new Set(settings.keep.filter((k) => k.endsWith('.*')).map((k) => k.slice(0, -2)));
  const keepOne = new Set(settings.keep.filter((k) => !k.endsWith('.*')));
  const plans: TablePlan[] = [];
  const uncovered: string[] = [];
  const known = new Set<string>();
  for (const { table, columns } of tables) {
    const transform = new Map<string, Transformer>();
    const missing: string[] = [];
    for (const column of columns) {
      const name = `${table}.${column}`;
      known.add(name);
      const rule = settings.scrub[name];
      if (rule !== undefined) {
        const t = make(rule);
        if (t) transform.set(column, t);
      } else if (!keepAll.has(table) && !keepOne.has(name)) {
        missing.push(column);
      }
    }
    uncovered.push(...missing.map((c) => `${table}.${c}`));
    plans.push({ table, columns, transform, uncovered: missing });
  }
  const copied = new Set(tables.map((t) => t.table));
  const stale = Object.keys(settings.scrub).filter(
    (name) => copied.has(name.split('.')[0] ?? '') && !known.has(name),
  );
  if (stale.length > 0) {
    throw new UserError(
      'DATA_RULE_UNKNOWN_COLUMN',
      `${file}: data.scrub names ${stale.join(', ')}, which the source database does not have.`,
      { hint: 'Remove or rename the rule (a migration may have renamed the column).' },
    );
  }
  if (settings.strict && uncovered.length > 0) {
    throw new UserError(
      'DATA_COLUMN_UNCOVERED',
      `${file}: no scrub rule covers ${uncovered.join(', ')}; a refresh copies only columns that have one (fail closed), so nothing was copied.`,
      {
        hint: `Add a rule for each under data.scrub (e.g. "${uncovered[0]}: keep" when it holds nothing personal, or email, fullName, phone, null, hash), or list the table under data.exclude.`,
        details: { uncovered },
      },
    );
  }
  return plans;
}
