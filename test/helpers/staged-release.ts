/**
 * A release of a commit recorded as deployed to staging, straight in a state store (no build,
 * no process): what the approval tests start from.
 */
import { randomBytes } from 'node:crypto';
import type { Release, StateStore } from '../../src/state/state-store.ts';

/** Inserts a release of `commit` (random digest, clean) and its deployment to staging by `deployer`. */
export async function stagedRelease(
  store: StateStore,
  commit: string,
  deployer = 'dev@x',
  subject = 'test',
): Promise<Release> {
  const release = await store.insertRelease({
    digest: randomBytes(32).toString('hex'),
    commit,
    dirty: false,
    subject,
    createdAt: new Date().toISOString(),
    createdBy: deployer,
    buildMs: 1,
    services: {},
  });
  await store.createDeployment({
    runId: null,
    environment: 'staging',
    releaseId: release.id,
    kind: 'deploy',
    actor: deployer,
    previousReleaseId: null,
    startedAt: new Date().toISOString(),
  });
  return release;
}
