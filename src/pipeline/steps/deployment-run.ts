/**
 * The state the steps of one deployment share: which services switched, their URLs, and what
 * served before (for an automatic rollback).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type ResolvedEnvironment, usableDatabase } from '../../config/resolve.ts';
import { hasCode } from '../../errors.ts';
import type { DeployOutcome, ServiceDeployment, ServiceState } from '../../providers/provider.ts';
import { artifactDigestLabel } from '../../releases/digest-label.ts';
import type { DeploymentKind, Release, ServingRecord } from '../../state/state-store.ts';
import type { ChecksLeaseKeeper } from '../checks-lease.ts';
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
  /** The checks leases this run renews (see `pipeline/checks-lease.ts`). */
  leases?: ChecksLeaseKeeper;
  /** Services whose rollback rehearsal showed the previous release fails on the new schema. */
  rehearsalFailed?: Set<string>;
  /** Environment copies made in this deployment (`<release id>\0<service>` → folder). */
  materialized?: Map<string, string>;
  /**
   * Copies (same keys) not verified here because a warm process of the release runs from them
   * (see {@link warmCopyOf}); the provider verifies one before starting anything new from it.
   */
  warmCopies?: Set<string>;
}

/** The key of a service's copy of a release in {@link DeploymentRun.materialized} and `warmCopies`. */
function copyKey(release: Release, service: string): string {
  return `${release.id}\0${service}`;
}

/**
 * The environment's copy a warm process of `release` runs from, when the provider keeps one
 * (`ServiceState.warmCopies`: the local runtime) with the service's artifact digest, in this
 * environment's folder for that release: that copy was verified when the process started and
 * its code is loaded, so the switch back to it (a warm rollback) skips reading thousands of
 * files again ("skip what a warm, already-verified copy does not need"). The provider still
 * verifies the copy before it starts a new process from it (`copyUnverified`). Null (the copy
 * is verified as usual) with `--verify full`, when nothing is warm, or when the provider cannot
 * be asked. `described`: what the provider's `describe` answered for the service moments ago
 * (null: it could not be asked), so it is not asked again.
 */
export async function warmCopyOf(
  d: DeploymentRun,
  release: Release,
  service: string,
  described?: ServiceState | null,
): Promise<string | null> {
  const artifact = release.services[service];
  if (!artifact || d.ctx.artifacts.fullVerify) return null;
  const state =
    described !== undefined
      ? described
      : await d.ctx
          .providerFor(d.env)
          .describe(serviceTarget(d.ctx.config, d.env, service))
          .catch(() => null);
  const base = path.resolve(releaseDir(d.ctx.home, d.env.name, release.id, service));
  // The environment's folder of this release (`materializeService` names siblings `<base>-N`).
  const ours = (dir: string) =>
    dir.startsWith(base) && /^(-[0-9]+)?$/.test(dir.slice(base.length)) && existsSync(dir);
  const warm = state?.warmCopies?.find(
    (copy) =>
      copy.release === release.id && copy.digest === artifact.digest && ours(copy.artifactDir),
  );
  if (!warm) return null;
  const key = copyKey(release, service);
  d.materialized ??= new Map();
  d.materialized.set(key, warm.artifactDir);
  d.warmCopies ??= new Set();
  d.warmCopies.add(key);
  return warm.artifactDir;
}

/**
 * Makes the environment's copy of a release's service artifact (links to the store's objects,
 * verified; see `ArtifactStore.materialize`) and returns its folder. A folder that already holds
 * the identical files is reused; one that changed (an app wrote into it, a file was replaced) is
 * never run again: it is left alone (a process may still run in it) and a fresh sibling is
 * used. Within one deployment a copy made (and verified) by the verify step is not checked again.
 */
export async function materializeService(
  d: DeploymentRun,
  release: Release,
  service: string,
): Promise<string> {
  const artifact = release.services[service];
  if (!artifact) throw new Error(`release ${release.id} has no service ${service}`);
  const key = copyKey(release, service);
  const known = d.materialized?.get(key);
  if (known) return known;
  const artifacts = d.ctx.artifacts;
  const base = releaseDir(d.ctx.home, d.env.name, release.id, service);
  let dir = base;
  let matched = false;
  for (let n = 2; existsSync(dir); n += 1) {
    // An existing copy that digests right is all a deployment needs: its files are the store's
    // objects (or verified copies of them). This is what makes a warm rollback cheap.
    if (await artifacts.matches(dir, artifact.digest)) {
      matched = true;
      break;
    }
    dir = `${base}-${n}`;
  }
  if (!matched) await artifacts.materialize(artifact.digest, dir);
  d.materialized ??= new Map();
  d.materialized.set(key, dir);
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
  const warm = d.warmCopies?.has(copyKey(release, service)) ?? false;
  if (!warm)
    options.progress(`copying ${artifactDigestLabel(artifact.digest)} (${artifact.files} files)`);
  const dir = await materializeService(d, release, service);
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
  await syncStoreSecrets(d, service, options);
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
    keepWarmReleases: settings.keepWarmReleases,
    stopTimeoutMs: settings.stopTimeoutMs,
    fence: d.fence,
    ...(warm ? { copyUnverified: true } : {}),
    // The switch waits for its checks (a rollback goes back to what was checked: no lease).
    ...(!options.rollback && d.kind !== 'rollback' && env.checksLeaseMs > 0
      ? { checksLeaseMs: env.checksLeaseMs }
      : {}),
  };
  const hooks = { signal: options.signal, onProgress: options.progress };
  const call = (what: ServiceDeployment) =>
    what.kind === 'rollback' ? provider.rollback(what, hooks) : provider.deploy(what, hooks);
  let switched: DeployOutcome;
  try {
    switched = await call(deployment);
  } catch (error) {
    if (!deployment.copyUnverified || !hasCode(error, 'DIGEST_MISMATCH')) throw error;
    // The warm process this deployment counted on was gone or unhealthy, and the copy it ran
    // from changed since: a fresh verified copy, as any other deployment gets.
    options.progress('the warm copy changed since it started: making a fresh verified copy');
    const key = copyKey(release, service);
    d.warmCopies?.delete(key);
    d.materialized?.delete(key);
    const fresh = path.resolve(await materializeService(d, release, service));
    const { copyUnverified: _, ...verified } = deployment;
    switched = await call({ ...verified, artifactDir: fresh });
  }
  // A platform that cannot say where a rolled-back version answers on this machine (Cloudflare's
  // `wrangler rollback` on a fresh CI runner) answers where the environment's last deployment did.
  const outcome = switched.url
    ? switched
    : { ...switched, url: (await recordedUrl(d, service)) ?? '' };
  await ctx.store.setServing({
    environment: env.name,
    service,
    releaseId: release.id,
    deploymentId,
    since: ctx.now().toISOString(),
  });
  d.urls[service] = outcome.url;
  if (outcome.checksLeaseMs) d.leases?.hold(service, release.id, outcome.checksLeaseMs);
  return outcome;
}

/**
 * The URL `service` answered at in this environment, as the deploy step of the deployment that
 * served before recorded it in the (shared) state; null when none did.
 */
async function recordedUrl(d: DeploymentRun, service: string): Promise<string | null> {
  const before = d.before.find((s) => s.service === service);
  if (!before) return null;
  const deployment = await d.ctx.store.getDeployment(before.deploymentId);
  if (deployment?.runId == null) return null;
  const steps = await d.ctx.store.listSteps(deployment.runId);
  for (const step of steps.reverse()) {
    const url = step.output?.url;
    const switching = step.name === `deploy:${service}` || step.name === `rollback:${service}`;
    if (switching && typeof url === 'string' && url !== '') return url;
  }
  return null;
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

/**
 * With a secret store (`secrets.store`), sets the environment's values from it on the platform
 * before the release starts, so the app sees them as platform secrets. Values are added to the
 * command's mask first; only names are reported. Nothing to do for `platform`.
 * @throws UserError from the store (a missing or wrong private key, no Infisical credentials).
 */
async function syncStoreSecrets(
  d: DeploymentRun,
  service: string,
  options: { signal: AbortSignal; progress: (message: string) => void },
): Promise<void> {
  const { ctx, env } = d;
  // The platform's own secrets (the default): nothing to sync, and the stores' code (encryption,
  // HTTP clients) is not loaded.
  if (ctx.config.secrets.store === 'platform') return;
  const { openSecretStore } = await import('../../secrets/stores/open-secret-store.ts');
  const store = openSecretStore(ctx.config, process.env, ctx.home);
  if (!store) return;
  const values = await store.read(env.name);
  ctx.mask?.add(Object.values(values));
  const names = Object.keys(values);
  if (names.length === 0) return;
  options.progress(
    `setting ${names.length} secret${names.length === 1 ? '' : 's'} from ${store.where(env.name)}`,
  );
  await ctx
    .providerFor(env)
    .setSecrets(serviceTarget(ctx.config, env, service), values, { signal: options.signal });
}
