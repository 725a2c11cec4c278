/**
 * Opens the state store a configuration names: the SQLite file (default), Postgres (team mode)
 * or Cloudflare D1 (team mode without a server). The Postgres and D1 stores, and `pg`, load only
 * when used.
 */
import type { StateLocation } from '../config/resolve.ts';
import { InternalError } from '../errors.ts';
import type { D1StateClient } from './d1-transaction.ts';
import { SqliteStateStore } from './sqlite-state-store.ts';
import type { StateStore } from './state-store.ts';

export interface OpenStateStoreDeps {
  /**
   * D1's HTTP API for a `d1://` location (the CLI passes the Cloudflare provider's
   * `openD1StateClient`, which throws `PROVIDER_AUTH` without a token).
   */
  d1Client?: (location: Extract<StateLocation, { kind: 'd1' }>) => D1StateClient;
}

/** @throws what each store's `open` (and `deps.d1Client`) throws. */
export async function openStateStore(
  location: StateLocation,
  deps: OpenStateStoreDeps = {},
): Promise<StateStore> {
  if (location.kind === 'postgres') {
    const { PostgresStateStore } = await import('./postgres-state-store.ts');
    return PostgresStateStore.open({ url: location.url });
  }
  if (location.kind === 'd1') {
    if (!deps.d1Client)
      throw new InternalError('INTERNAL', 'openStateStore: a d1:// state needs deps.d1Client');
    const { D1StateStore } = await import('./d1-state-store.ts');
    return D1StateStore.open({
      client: deps.d1Client(location),
      accountId: location.accountId,
      databaseId: location.databaseId,
    });
  }
  return SqliteStateStore.open({ file: location.file });
}
