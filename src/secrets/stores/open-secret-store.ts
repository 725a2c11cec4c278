import type { ResolvedConfig } from '../../config/resolve.ts';
import { EncryptedFileStore } from './encrypted-file-store.ts';
import { InfisicalStore } from './infisical-store.ts';
import type { SecretStore } from './secret-store.ts';

/**
 * The configured secret store (`secrets.store`), or null for the platform's own secrets.
 * @param home the project's Airlock home (where `secret keygen` leaves private keys).
 */
export function openSecretStore(
  config: ResolvedConfig,
  env: Readonly<Record<string, string | undefined>>,
  home: string,
): SecretStore | null {
  const store = config.secrets.store;
  if (store === 'platform') return null;
  if ('encryptedFile' in store)
    return new EncryptedFileStore(config.dir, store.encryptedFile.path, env, home);
  return new InfisicalStore(store.infisical, env);
}
