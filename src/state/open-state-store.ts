/**
 * Opens the state store a configuration names: the SQLite file (default), Postgres (team mode)
 * or Cloudflare D1 (team mode without a server). The Postgres and D1 stores, and `pg`, load only
 * when used.
 */
import type { StateLocation } from '../config/resolve.ts';
import { ProviderError } from '../errors.ts';
import { SqliteStateStore } from './sqlite-state-store.ts';
import type { StateStore } from './state-store.ts';

/**
 * @throws ProviderError `PROVIDER_AUTH` for a d1:// state without a token; what each store's
 *   `open` throws.
 */
export async function openStateStore(location: StateLocation): Promise<StateStore> {
  if (location.kind === 'postgres') {
    const { PostgresStateStore } = await import('./postgres-state-store.ts');
    return PostgresStateStore.open({ url: location.url });
  }
  if (location.kind === 'd1') {
    if (!location.apiToken) {
      throw new ProviderError(
        'PROVIDER_AUTH',
        `the state store ${location.display} is on Cloudflare D1, and neither AIRLOCK_STATE_TOKEN nor CLOUDFLARE_API_TOKEN is set.`,
        {
          hint: 'Export AIRLOCK_STATE_TOKEN (a Cloudflare API token with D1: Edit on that account), then run the command again.',
        },
      );
    }
    const { D1StateStore } = await import('./d1-state-store.ts');
    return D1StateStore.open({
      accountId: location.accountId,
      databaseId: location.databaseId,
      apiToken: location.apiToken,
      ...(location.baseUrl ? { baseUrl: location.baseUrl } : {}),
    });
  }
  return SqliteStateStore.open({ file: location.file });
}
