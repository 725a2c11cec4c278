/**
 * Scrub rules: what each column of a copied table becomes in the target environment, and the
 * fail-closed coverage check. Pseudonyms are deterministic for one salt (the same input gives the
 * same output, on every machine and every refresh), so joins on a scrubbed column and unique
 * constraints keep holding, as Snaplet's copycat transformers do: realistic names and phone
 * numbers come from `@snaplet/copycat` keyed with the salt; every pseudonym that must stay unique
 * (email, username, hash, uuid) carries a keyed HMAC-SHA256 of the input. Scrubbed emails are on
 * `example.com` (reserved by RFC 2606), so a staging mail can never reach a real person.
 */
import { createHmac } from 'node:crypto';
import { copycat } from '@snaplet/copycat';
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
 */
export function transformers(salt: string): (rule: ScrubRule) => Transformer | null {
  copycat.setHashKey(copycat.generateHashKey(salt.padEnd(16, '.').slice(0, 16)));
  const mac = (kind: string, value: CellValue) =>
    createHmac('sha256', salt).update(kind).update('\0').update(String(value)).digest('hex');
  const text = (value: CellValue) =>
    value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value);
  const keyed =
    (fn: (input: string) => string, kind: string): Transformer =>
    (value) =>
      value === null ? null : fn(`${kind}:${mac(kind, text(value)).slice(0, 24)}`);
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
        return (value) => {
          if (value === null) return null;
          const h = mac('email', text(value));
          const seed = h.slice(0, 24);
          const local = `${copycat.firstName(seed)}.${copycat.lastName(seed)}`
            .toLowerCase()
            .replace(/[^a-z0-9.]/g, '');
          return `${local}.${h.slice(24, 34)}@example.com`;
        };
      case 'fullName':
        return keyed((s) => `${copycat.firstName(s)} ${copycat.lastName(s)}`, 'name');
      case 'firstName':
        return keyed((s) => copycat.firstName(s), 'first');
      case 'lastName':
        return keyed((s) => copycat.lastName(s), 'last');
      case 'phone':
        return keyed((s) => copycat.phoneNumber(s), 'phone');
      case 'streetAddress':
        return keyed((s) => copycat.streetAddress(s), 'street');
      case 'username':
        return (value) => {
          if (value === null) return null;
          const h = mac('user', text(value));
          return `${copycat
            .firstName(h.slice(0, 24))
            .toLowerCase()
            .replace(/[^a-z0-9]/g, '')}_${h.slice(24, 34)}`;
        };
      case 'uuid':
        return (value) => {
          if (value === null) return null;
          const h = mac('uuid', text(value));
          // A version-4-shaped UUID from the keyed hash: unique as the input is.
          return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
        };
      case 'hash':
        return (value) => (value === null ? null : mac('hash', text(value)).slice(0, 32));
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
