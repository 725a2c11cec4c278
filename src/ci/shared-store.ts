/**
 * The generated workflows with a shared artifact store (`artifacts:` set): the build job's
 * `airlock build` pushes the release to the store, and the jobs that promote or roll back pull it
 * by digest (Airlock verifies every byte), instead of GitHub workflow artifacts, which expire and
 * cannot be reached from a laptop. What a job needs for that: the store's credentials as step
 * env, and on `ghcr.io` the `packages` permission of the job's token (`write` only where it
 * pushes).
 *
 * - `oci://ghcr.io/...`: `AIRLOCK_REGISTRY_TOKEN` from the secret of that name when set (e.g. a
 *   token of a bot account), else Airlock uses the job's own token (`GITHUB_TOKEN`), which the
 *   `packages` permission limits; the user is the run's actor.
 * - another `oci://` registry: `AIRLOCK_REGISTRY_USER` and `AIRLOCK_REGISTRY_TOKEN` secrets.
 * - `s3://`: the usual AWS variables, as secrets.
 */
import type { ResolvedConfig } from '../config/resolve.ts';
import type { Permission } from './workflow-yaml.ts';

/** What a job does with the store: the build job pushes, later jobs pull. */
export type StoreRole = 'push' | 'pull';

/** The shared store's address, or null when releases travel as workflow artifacts. */
export function sharedStore(config: ResolvedConfig): string | null {
  return config.artifacts ?? null;
}

const onGhcr = (store: string) => store.startsWith('oci://ghcr.io/');

/** Step env that lets Airlock reach the store (credentials as `${{ … }}` references only). */
export function sharedStoreEnv(config: ResolvedConfig): Record<string, string> {
  const store = sharedStore(config);
  if (!store) return {};
  if (store.startsWith('s3://'))
    return Object.fromEntries(
      [
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_REGION',
        'AWS_ENDPOINT_URL_S3',
      ].map((name) => [name, `\${{ secrets.${name} }}`]),
    );
  if (onGhcr(store))
    return {
      AIRLOCK_REGISTRY_USER: '${{ github.actor }}',
      AIRLOCK_REGISTRY_TOKEN: '${{ secrets.AIRLOCK_REGISTRY_TOKEN }}',
      GITHUB_TOKEN: '${{ github.token }}',
    };
  return {
    AIRLOCK_REGISTRY_USER: '${{ secrets.AIRLOCK_REGISTRY_USER }}',
    AIRLOCK_REGISTRY_TOKEN: '${{ secrets.AIRLOCK_REGISTRY_TOKEN }}',
  };
}

/** The job token's `packages` permission on ghcr.io: `write` where it pushes, else `read`. */
export function sharedStorePermissions(
  config: ResolvedConfig,
  role: StoreRole,
): Record<string, Permission> {
  const store = sharedStore(config);
  if (!store || !onGhcr(store)) return {};
  return { packages: role === 'push' ? 'write' : 'read' };
}
