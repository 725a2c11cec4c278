/**
 * The two digests a release has, named the same way everywhere (CLI output, docs, JSON):
 *
 * - the **artifact digest**: the sha256 of one service's build output (its files, names and
 *   modes). It is what a deployment re-verifies, and what the app gets as `AIRLOCK_DIGEST`, so
 *   "same bytes" on two environments means the same artifact digest. JSON: `digest` of an
 *   artifact (`services.<name>.digest`), `artifactDigest` where both appear.
 * - the **release digest**: the sha256 over every service's artifact digest and migrations.
 *   It identifies the release as a whole. JSON: `digest` of a release (`release.digest`).
 */

/** `artifact digest sha256:8ada57f71528` (12 hex characters unless `chars` says otherwise). */
export function artifactDigestLabel(digest: string, chars = 12): string {
  return `artifact digest sha256:${digest.slice(0, chars)}`;
}

/** `release digest sha256:5a829f07eb2a`. */
export function releaseDigestLabel(digest: string, chars = 12): string {
  return `release digest sha256:${digest.slice(0, chars)}`;
}
