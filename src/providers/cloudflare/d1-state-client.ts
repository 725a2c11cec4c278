/**
 * The client of D1's HTTP API the D1 state store (`state/d1-state-store.ts`) runs on: the
 * migration driver's client (`d1-http-driver.ts`: the same requests, errors and lease), with
 * the errors' hints speaking of the state store. The CLI passes it to `openStateStore`; the
 * core never reaches Cloudflare by itself.
 */
import type { StateLocation } from '../../config/resolve.ts';
import { ProviderError } from '../../errors.ts';
import type { D1StateClient } from '../../state/d1-transaction.ts';
import { CLOUDFLARE_API_BASE_URL, D1HttpMigrationDriver } from './d1-http-driver.ts';

/**
 * A client for the `d1://<account-id>/<database-id>` state location.
 * @throws ProviderError `PROVIDER_AUTH` when neither AIRLOCK_STATE_TOKEN nor
 *   CLOUDFLARE_API_TOKEN was set.
 */
export function openD1StateClient(
  location: Extract<StateLocation, { kind: 'd1' }>,
  options: { fetch?: typeof fetch } = {},
): D1StateClient {
  if (!location.apiToken) {
    throw new ProviderError(
      'PROVIDER_AUTH',
      `the state store ${location.display} is on Cloudflare D1, and neither AIRLOCK_STATE_TOKEN nor CLOUDFLARE_API_TOKEN is set.`,
      {
        hint: 'Export AIRLOCK_STATE_TOKEN (a Cloudflare API token with D1: Edit on that account), then run the command again.',
      },
    );
  }
  return new D1HttpMigrationDriver({
    accountId: location.accountId,
    databaseId: location.databaseId,
    apiToken: location.apiToken,
    baseUrl: location.baseUrl ?? CLOUDFLARE_API_BASE_URL,
    display: `the D1 state database ${location.display}`,
    purpose: 'state',
    // The lease of the store's schema migrations (seconds of work).
    lockTtlMs: 60_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
