/**
 * The state the steps of one deployment share: which services switched, their URLs, and what
 * served before (for an automatic rollback).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ResolvedEnvironment, usableDatabase } from '../../config/resolve.ts';
import type { DeployOutcome, ServiceDeployment } from '../../providers/provider.ts';
import type { ArtifactStore } from '../../releases/artifact-store.ts';
import { artifactDigestLabel } from '../../releases/digest-label.ts';
import { digestTree } from '../../releases/tree-digest.ts';
import type { DeploymentKind, Release, ServingRecord } from '../../state/state-store.ts';
import { type AirlockContext, serviceTarget } from '../context.ts';

export interface DeploymentRun {
  ctx: AirlockContext;
  env: ResolvedEnvironment;
  release: Release;
  kind: DeploymentKind;
  runId: number;
  deploymentId: number;
  /** The environment lock's fencing token: the provider refuses a deploy with an older one. */
  fence: number;
  /** What served each service before this deployment. */
  before: ServingRecord[];
  /** Services whose traffic switched to `release`. */
  switched: Set<string>;
  /** Services rolled back to their previous release by an on-failure step. */
  rolledBack: Set<string>;
  /** Public URL per service. */
  urls: Record<string, string>;
}

/**
 * Copies a release's service artifact to where it runs, verified. A folder that already holds
 * the identical bytes is reused; one that an app modified is left alone (a process may still
 * run in it) and a fresh sibling is used.
 */
async function materialize(artifacts: ArtifactStore, digest: string, dir: string): Promise<string> {
  if (existsSync(dir)) {
    const tree = await digestTree(dir).catch(() => undefined);
    if (tree?.digest === digest) return dir;
    let n = 2;
    while (existsSync(`${dir}-${n}`)) n += 1;
    dir = `${dir}-${n}`;
  }
  await artifacts.materialize(digest, dir);
  return dir;
}

/**
 * Puts one service of `release` into the run's environment through its provider, and records
 * that it serves. Used by deploy and by rollback steps.
 */
export async function switchService(
  d: DeploymentRun,
  release: Release,
  service: string,
  deploymentId: number,
  options: {
    signal: AbortSignal;
    progress: (message: string) => void;
    /** An on-failure step putting the previous release back (a rollback to the platform). */
    rollback?: boolean;
  },
): Promise<DeployOutcome> {
  const { ctx, env } = d;
  const settings = env.services[service];
  const artifact = release.services[service];
  if (!settings || !artifact) throw new Error(`release ${release.id} has no service ${service}`);
  options.progress(`copying ${artifactDigestLabel(artifact.digest)} (${artifact.files} files)`);
  const dir = await materialize(
    ctx.artifacts,
    artifact.digest,
    releaseDir(ctx.home, env.name, release.id, service),
  );
  const vars: Record<string, string> = {
    ...settings.vars,
    ...(settings.database ? { DATABASE_URL: usableDatabase(settings.database).url } : {}),
    AIRLOCK_ENV: env.name,
    AIRLOCK_SERVICE: service,
    AIRLOCK_RELEASE: release.id,
    AIRLOCK_COMMIT: release.commit,
    AIRLOCK_DIGEST: artifact.digest,
  };
  const provider = ctx.providerFor(env);
  const deployment: ServiceDeployment = {
    ...serviceTarget(ctx.config, env, service),
    kind: options.rollback ? 'rollback' : d.kind,
    release: { id: release.id, digest: artifact.digest, commit: release.commit },
    artifactDir: path.resolve(dir),
    run: settings.run,
    env: vars,
    health: settings.health,
    drainTimeoutMs: settings.drainTimeoutMs,
    keepWarmMs: settings.keepWarmMs,
    stopTimeoutMs: settings.stopTimeoutMs,
    fence: d.fence,
  };
  const hooks = { signal: options.signal, onProgress: options.progress };
  const outcome =
    deployment.kind === 'rollback'
      ? await provider.rollback(deployment, hooks)
      : await provider.deploy(deployment, hooks);
  await ctx.store.setServing({
    environment: env.name,
    service,
    releaseId: release.id,
    deploymentId,
    since: ctx.now().toISOString(),
  });
  d.urls[service] = outcome.url;
  return outcome;
}

/** Where a release's service artifact is materialized to run in an environment. */
export function releaseDir(
  home: string,
  environment: string,
  releaseId: string,
  service: string,
): string {
  return path.join(home, 'envs', environment, 'releases', releaseId, service);
}
