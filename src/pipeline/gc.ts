/**
 * Garbage collection of releases on this machine (`airlock gc`, and after each deployment when
 * `releases.gcAfterDeploy` holds): environments' copies of releases no longer needed, then the
 * store's artifacts and file objects nothing kept refers to. Kept, per environment: what serves,
 * the warm releases (instant rollback), the last `releases.keep` releases deployed there, the
 * releases of running deployments, of queued promotions and of approvals not yet used. Kept in
 * the store besides: the `releases.keep` newest releases built (maybe not deployed yet), and the
 * migrations of every release (small; the ledger's files are looked up in them). An environment
 * whose lock another command holds keeps its copies until a later run.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { scanTree } from '../releases/manifest.ts';
import type { RemoteCollectOptions, RemoteCollectResult } from '../releases/remote-transfer.ts';
import { audit } from '../state/audit.ts';
import type { Release } from '../state/state-store.ts';
import { type AirlockContext, serviceTarget } from './context.ts';

export interface GcOptions {
  /** Only report what would be removed. */
  dryRun?: boolean;
}

export interface GcResult {
  /** Bytes of disk freed (files whose last link was removed). */
  freedBytes: number;
  /** Environments' release copies removed (folders under `<home>/envs/<env>/releases/`). */
  copies: string[];
  /** Store artifacts (digests) removed. */
  artifacts: string[];
  /** Store file objects removed. */
  objects: number;
  /** Releases kept per environment, and why. */
  kept: Record<string, Record<string, string>>;
  /** Environments whose copies were left alone (their lock was held). */
  skipped: string[];
}

const ALL = 1_000_000;

/** Releases kept in `environment`, each with the reason. */
async function keptIn(
  ctx: AirlockContext,
  environment: string,
  keep: number,
): Promise<Record<string, string>> {
  const kept: Record<string, string> = {};
  const add = (id: string | null | undefined, why: string) => {
    if (id && !kept[id]) kept[id] = why;
  };
  for (const s of await ctx.store.getServing(environment)) add(s.releaseId, 'serves');
  const env = ctx.config.environments[environment];
  if (env) {
    const provider = ctx.providerFor(env);
    for (const service of Object.keys(env.services)) {
      if (provider.name !== 'local') continue;
      try {
        const state = await provider.describe(serviceTarget(ctx.config, env, service));
        for (const id of state.warm) add(id, 'warm');
      } catch {
        // The runtime is not reachable: nothing of it is known to be warm.
      }
    }
  }
  const deployments = await ctx.store.listDeployments({ environment, limit: ALL });
  deployments.sort((a, b) => b.id - a.id);
  for (const d of deployments)
    if (d.status === 'pending' || d.status === 'running') add(d.releaseId, 'deploying');
  const recent: string[] = [];
  for (const d of deployments) {
    if (!d.switchedAt || recent.includes(d.releaseId)) continue;
    recent.push(d.releaseId);
    if (recent.length >= keep) break;
  }
  for (const id of recent) add(id, `one of the last ${keep}`);
  for (const q of await ctx.store.listQueue(environment))
    if (q.status === 'waiting' || q.status === 'started') add(q.releaseId, 'queued');
  return kept;
}

/** Releases approved for `environment` and not deployed there since. */
async function pendingApprovals(
  ctx: AirlockContext,
  environment: string,
  releases: Release[],
): Promise<string[]> {
  const out: string[] = [];
  const deployments = await ctx.store.listDeployments({ environment, limit: ALL });
  for (const release of releases) {
    const approvals = await ctx.store.listApprovals(environment, release.id);
    const approved = approvals.filter((a) => a.decision === 'approved');
    if (approved.length === 0) continue;
    const last = approved
      .map((a) => a.at)
      .sort()
      .at(-1) as string;
    const used = deployments.some((d) => d.releaseId === release.id && d.startedAt >= last);
    if (!used) out.push(release.id);
  }
  return out;
}

/** Sizes of files in `dir` that have no other link (what removing it frees). */
async function unsharedBytes(dir: string): Promise<number> {
  try {
    const { files } = await scanTree(dir);
    return files.reduce((sum, f) => sum + (f.stat.nlink <= 1 ? f.stat.size : 0), 0);
  } catch {
    return 0;
  }
}

/**
 * The releases garbage collection keeps (see the module comment): every release, the ids kept
 * anywhere, and per environment the ids kept there with the reason.
 */
async function releasesKept(ctx: AirlockContext): Promise<{
  releases: Release[];
  keptReleases: Set<string>;
  kept: Record<string, Record<string, string>>;
}> {
  const keep = ctx.config.releases.keep;
  const releases = await ctx.store.listReleases(ALL);
  const keptReleases = new Set<string>();
  for (const r of releases.slice(0, keep)) keptReleases.add(r.id);
  for (const run of await ctx.store.listRuns({ status: 'running', limit: ALL }))
    if (run.releaseId) keptReleases.add(run.releaseId);
  const kept: Record<string, Record<string, string>> = {};
  for (const environment of ctx.config.pipeline) {
    const here = await keptIn(ctx, environment, keep);
    for (const id of await pendingApprovals(ctx, environment, releases))
      here[id] ??= 'approved, not deployed yet';
    kept[environment] = here;
    for (const id of Object.keys(here)) keptReleases.add(id);
  }
  return { releases, keptReleases, kept };
}

export interface RemoteGcResult extends RemoteCollectResult {
  /** Where (`oci://…`, `s3://…`). */
  store: string;
  /** Releases kept per environment, and why (as for the local collection). */
  keptReleases: Record<string, Record<string, string>>;
}

/**
 * Garbage collection of the shared artifact store (`airlock gc --remote`): removes the artifacts
 * of releases nothing keeps (the same rule as on this machine: what serves, warm, the last
 * `releases.keep` per environment and built, running deployments, queued promotions, approvals
 * not yet used). Every release's migrations are kept (small; the ledger's files are looked up in
 * them), and an artifact the state does not name is never removed.
 * @throws UserError `USAGE` when `artifacts:` names no shared store; ProviderError
 *   `ARTIFACT_STORE_FAILED` when the store refuses a listing or a removal.
 */
export async function collectRemoteGarbage(
  ctx: AirlockContext,
  options: RemoteCollectOptions = {},
): Promise<RemoteGcResult> {
  const remote = ctx.artifacts.remote;
  if (!remote)
    throw new UserError('USAGE', 'This project has no shared artifact store to collect.', {
      hint: 'Name one with `artifacts: oci://<registry>/<repository>` (or s3://<bucket>/<prefix>) in airlock.yaml; `airlock gc` alone collects this machine.',
    });
  const { releases, keptReleases, kept } = await releasesKept(ctx);
  const known = new Set<string>();
  const keep = new Set<string>();
  for (const release of releases)
    for (const artifact of Object.values(release.services)) {
      known.add(artifact.digest);
      if (keptReleases.has(release.id)) keep.add(artifact.digest);
      if (artifact.migrationsDigest) {
        known.add(artifact.migrationsDigest);
        keep.add(artifact.migrationsDigest);
      }
    }
  const result = await remote.collect(known, keep, options);
  if (!options.dryRun && result.removed.length > 0)
    await audit(ctx, 'release.collected', {
      environment: null,
      detail: { store: remote.label, removed: result.removed, blobs: result.blobs },
    });
  return { ...result, store: remote.label, keptReleases: kept };
}

/**
 * Collects garbage; see the module comment. Never removes what serves, what is warm, or what a
 * pending deployment, promotion or approval needs.
 * @returns what was (or, with `dryRun`, would be) removed and the bytes freed.
 */
export async function collectGarbage(
  ctx: AirlockContext,
  options: GcOptions = {},
): Promise<GcResult> {
  const started = Date.now();
  const { releases, keptReleases, kept: keptByEnvironment } = await releasesKept(ctx);
  const result: GcResult = {
    freedBytes: 0,
    copies: [],
    artifacts: [],
    objects: 0,
    kept: keptByEnvironment,
    skipped: [],
  };

  for (const environment of ctx.config.pipeline) {
    const kept = keptByEnvironment[environment] ?? {};
    const lock = await ctx.store.getLock(environment);
    if (lock && new Date(lock.expiresAt).getTime() > Date.now()) {
      result.skipped.push(environment);
      continue;
    }
    const root = path.join(ctx.home, 'envs', environment, 'releases');
    for (const name of await readdir(root).catch(() => [] as string[])) {
      if (kept[name]) continue;
      const dir = path.join(root, name);
      const stat: Stats | null = await lstat(dir).catch(() => null);
      if (!stat?.isDirectory()) continue;
      result.freedBytes += await unsharedBytes(dir);
      result.copies.push(path.relative(ctx.home, dir));
      if (!options.dryRun) await rm(dir, { recursive: true, force: true });
    }
  }

  const digests = new Set<string>();
  for (const release of releases) {
    for (const artifact of Object.values(release.services)) {
      if (artifact.migrationsDigest) digests.add(artifact.migrationsDigest);
      if (keptReleases.has(release.id)) digests.add(artifact.digest);
    }
  }
  if (options.dryRun) {
    result.artifacts = (await ctx.artifacts.list()).filter((d) => !digests.has(d));
    return result;
  }
  const store = await ctx.artifacts.collect(digests, started);
  result.freedBytes += store.bytes;
  result.artifacts = store.artifacts;
  result.objects = store.objects;
  return result;
}
