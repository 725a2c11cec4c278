/**
 * Scrub rules: what each column of a copied table becomes in the target environment, and the
 * fail-closed coverage check. Pseudonyms are deterministic for one salt (the same input gives the
 * same output, on every machine and every refresh), so joins on a scrubbed column and unique
 * constraints keep holding, as Snaplet's copycat transformers do (names from copycat's lists,
 * see `transformers`); every pseudonym that must stay unique (email, username, hash, uuid)
 * carries part of a keyed sha256 of the input. Scrubbed emails are on
 * `example.com` (reserved by RFC 2606), so a staging mail can never reach a real person.
 */
import { hash } from 'node:crypto';
import { copycat } from '@snaplet/copycat';
import enLocale from '@snaplet/copycat/dist/locales/en';
import type { ScrubRule } from '../config/service-schema.ts';
import { UserError } from '../errors.ts';

/** A column value as read from a database (text form for Postgres' COPY, JS value for SQLite). */
export type CellValue = string | number | bigint | boolean | null | Uint8Array;

/** Turns one value into its scrubbed form; null stays null unless the rule sets a constant. */
export type Transformer = (value: CellValue) => CellValue;

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

/**
 * The transformers of a salt. `salt` is secret: it never leaves this module.
 *
 * Each pseudonym comes from one keyed sha256 of the input (`salt`, the rule's kind, the value):
 * its bytes pick a first and a last name from copycat's English name lists (3 007 × 474) and
 * give the digits and the suffix that keep emails, usernames, UUIDs and hashes unique per input.
 * One native hash per value instead of copycat's own per-call hashing keeps a refresh of a
 * million rows near the speed of `pg_dump | psql` (bench (j)); copycat itself makes the rarer
 * street addresses, keyed with the same salt.
 */
export function transformers(salt: string): (rule: ScrubRule) => Transformer | null {
  copycat.setHashKey(copycat.generateHashKey(salt.padEnd(16, '.').slice(0, 16)));
  const key = `${salt}\0`;
  // A CommonJS module whose export is `{ default: locale }` when Node loads it from ESM.
  const en = ((enLocale as unknown as { default?: unknown }).default ?? enLocale) as {
    name: { first_name: string[]; last_name: string[] };
  };
  const first = en.name.first_name;
  const last = en.name.last_name;
  const text = (value: CellValue) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value);
  const digest = (kind: string, value: CellValue): Buffer =>
    hash('sha256', `${key}${kind}\0${text(value)}`, 'buffer');
  const pick = (list: readonly string[], bytes: Buffer, at: number) =>
    list[bytes.readUInt32BE(at) % list.length] ?? '';
  const lower = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const keyed =
    (kind: string, fn: (bytes: Buffer) => string): Transformer =>
    (value) =>
      value === null ? null : fn(digest(kind, value));
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
        return keyed(
          'email',
          (b) =>
            `${lower(pick(first, b, 0))}.${lower(pick(last, b, 4))}.${b.toString('hex', 8, 13)}@example.com`,
        );
      case 'fullName':
        return keyed('name', (b) => `${pick(first, b, 0)} ${pick(last, b, 4)}`);
      case 'firstName':
        return keyed('first', (b) => pick(first, b, 0));
      case 'lastName':
        return keyed('last', (b) => pick(last, b, 4));
      case 'phone':
        // +1 555 …: the North American prefix kept for fiction.
        return keyed(
          'phone',
          (b) => `+1 555 ${String(b.readUInt32BE(0) % 10_000_000).padStart(7, '0')}`,
        );
      case 'username':
        return keyed('user', (b) => `${lower(pick(first, b, 0))}_${b.toString('hex', 4, 9)}`);
      case 'streetAddress':
        return (value) =>
          value === null ? null : copycat.streetAddress(digest('street', value).toString('hex'));
      case 'uuid':
        return keyed('uuid', (b) => {
          const h = b.toString('hex');
          // A version-4-shaped UUID from the keyed hash: unique as the input is.
          return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
        });
      case 'hash':
        return keyed('hash', (b) => b.toString('hex', 0, 16));
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
