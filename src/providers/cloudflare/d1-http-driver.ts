/**
 * Remote D1 through the D1 HTTP API. Placeholder until the remote driver lands: it says so
 * instead of guessing.
 */
import type { ResolvedDatabase } from '../../config/resolve.ts';
import { ProviderError } from '../../errors.ts';
import type { MigrationDriver } from '../../migrations/migration-driver.ts';

export async function openRemoteD1Driver(
  database: ResolvedDatabase,
  _target: { databaseId: string },
): Promise<MigrationDriver> {
  throw new ProviderError(
    'PROVIDER_UNAVAILABLE',
    `${database.display}: remote D1 migrations are not available in this build.`,
  );
}
