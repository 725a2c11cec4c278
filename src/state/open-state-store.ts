/**
 * Opens the state store a configuration names: the SQLite file (default) or Postgres (team
 * mode). The Postgres store, and `pg`, load only when used.
 */
import type { StateLocation } from '../config/resolve.ts';
import { SqliteStateStore } from './sqlite-state-store.ts';
import type { StateStore } from './state-store.ts';

export async function openStateStore(location: StateLocation): Promise<StateStore> {
  if (location.kind === 'postgres') {
    const { PostgresStateStore } = await import('./postgres-state-store.ts');
    return PostgresStateStore.open({ url: location.url });
  }
  return SqliteStateStore.open({ file: location.file });
}
