/**
 * What the per-area queries of `KyselyStateStore` (releases, runs, deployments, locks, evidence,
 * audit) share: the {@link StoreAccess} they read and write through, and the row helpers that map
 * snake_case rows and JSON text columns to the camelCase shapes of `state-store.ts`.
 */
import type { Kysely, Selectable } from 'kysely';
import type { StateDatabase } from './schema.ts';

/** A selected row of table `T`. */
export type Row<T extends keyof StateDatabase> = Selectable<StateDatabase[T]>;

/** How the queries reach the database through one store view (plain, fenced or in a transaction). */
export interface StoreAccess {
  /** Reads: the database, or the view's open transaction. */
  readonly db: Kysely<StateDatabase>;
  /**
   * One write: straight to `db` when the view is unfenced (and `atomic` is false) or already in a
   * transaction; otherwise in a transaction that first checks the view's fence.
   * @throws UserError `LOCK_LOST` when the fence no longer holds the lock.
   */
  write<T>(fn: (db: Kysely<StateDatabase>) => Promise<T>, atomic?: boolean): Promise<T>;
}

/** A value as JSON text for a text column (`undefined` becomes `null`). */
export const json = (value: unknown): string => JSON.stringify(value ?? null);

/** A JSON text column as a value (`null` stays `null`). */
export const parse = <T>(text: string | null): T =>
  text === null ? (null as T) : (JSON.parse(text) as T);

/** A camelCase patch as snake_case columns, without its undefined fields. */
export function columns<R>(patch: object): Partial<R> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out as Partial<R>;
}

/** True for a unique-constraint violation on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(String(e?.message));
}
