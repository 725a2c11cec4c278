/**
 * Before the runtime starts a release from its copy on its own — a crash restart, a restore, a
 * switch back when a checks lease expires — the copy must still be the release: a copy Airlock
 * made (under the home's `envs/`) must digest to the release's artifact digest (its manifest's
 * sha256, `releases/tree-digest.ts`). Read-only files verified before and unchanged since (same
 * inode, size, mtime, ctime, mode) are not read again (the store's verified cache, read only).
 */
import path from 'node:path';
import { ProviderError } from '../../errors.ts';
import { VerifiedCache } from '../../releases/file-hash.ts';
import { digestTree } from '../../releases/tree-digest.ts';
import type { ProcessDeployment } from '../provider.ts';

/** Verifies release copies of one Airlock home; see the module comment. */
export class CopyVerifier {
  readonly #home: string;
  #cache: VerifiedCache | undefined;

  constructor(home: string) {
    this.#home = home;
  }

  /**
   * Refuses a copy of a release that changed since it was deployed (a copy outside the home's
   * `envs/` is the caller's own folder and is not checked).
   * @throws ProviderError `DIGEST_MISMATCH` naming the folder, with the fix.
   */
  async verify(d: ProcessDeployment): Promise<void> {
    const envs = path.join(this.#home, 'envs') + path.sep;
    if (!path.resolve(d.artifactDir).startsWith(envs)) return;
    this.#cache ??= new VerifiedCache(path.join(this.#home, 'artifacts', 'verified-cache.bin'));
    const tree = await digestTree(d.artifactDir, this.#cache).catch(() => null);
    if (tree?.digest === d.release.digest) return;
    throw new ProviderError(
      'DIGEST_MISMATCH',
      `the copy of ${d.service} ${d.release.id} in ${d.artifactDir} changed since it was deployed (it no longer digests to ${d.release.digest.slice(0, 12)}); it is not started again.`,
      {
        hint: `Deploy the release again (\`airlock deploy ${d.environment} --release ${d.release.id}\`): a fresh verified copy is made.`,
        details: {
          environment: d.environment,
          service: d.service,
          release: d.release.id,
          artifactDir: d.artifactDir,
          digest: d.release.digest,
          found: tree?.digest ?? null,
        },
      },
    );
  }
}
