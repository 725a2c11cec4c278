/**
 * `airlock status`: per environment, which release serves each service, since when, whether it
 * is healthy (asked of the provider), how its last deployment went, and who holds the lock.
 */
import type { ServiceState } from '../providers/provider.ts';
import type {
  Deployment,
  Lock,
  Release,
  Run,
  ServingRecord,
  StateStore,
} from '../state/state-store.ts';
import { type AirlockContext, serviceTarget } from './context.ts';
import { lockIsStale } from './lock.ts';

export interface ServiceStatus {
  service: string;
  release: string | null;
  commit: string | null;
  /** The release was built from uncommitted changes on top of `commit`. */
  dirty: boolean;
  digest: string | null;
  since: string | null;
  url: string;
  /** From the provider: answering its health path right now. */
  healthy: boolean;
  /** The provider's view differs from Airlock's record (something changed outside Airlock). */
  drift: boolean;
  restarts: number;
  lastCrash: ServiceState['lastCrash'];
  warm: string[];
}

export interface EnvironmentStatus {
  environment: string;
  provider: string;
  protected: boolean;
  services: ServiceStatus[];
  /**
   * The latest deployment into this environment, whatever its outcome. `interrupted`: its run
   * was interrupted (its process died) and nobody resumed or replaced it yet; its `status` is
   * then `failed` until `airlock resume` finishes it or a new deployment replaces it.
   */
  lastDeployment: (Deployment & { interrupted: boolean }) | null;
  lock: (Omit<Lock, 'token'> & { stale: boolean }) | null;
  /** Interrupted runs waiting for `airlock resume` (or a new deployment). */
  interrupted: Array<{ runId: number; kind: string; releaseId: string | null; startedAt: string }>;
}

/** What the state store knows of one environment (no provider involved). */
export interface RecordedEnvironment {
  environment: string;
  serving: ServingRecord[];
  /** Releases referenced by `serving`, by id. */
  releases: Map<string, Release>;
  lastDeployment: Deployment | null;
  lock: Lock | undefined;
  /** Runs a dead process left that nobody resumed or replaced yet. */
  interrupted: Run[];
}

/**
 * The state-store half of `airlock status`: a fixed number of queries per environment,
 * whatever the number of services (releases are fetched in one query).
 */
export async function recordedEnvironments(
  store: StateStore,
  pipeline: string[],
): Promise<RecordedEnvironment[]> {
  return Promise.all(
    pipeline.map(async (environment) => {
      const [serving, [lastDeployment], lock, interrupted] = await Promise.all([
        store.getServing(environment),
        store.listDeployments({ environment, limit: 1 }),
        store.getLock(environment),
        store.listRuns({ environment, status: 'interrupted', limit: 20 }),
      ]);
      const releases = new Map(
        (await store.findReleases(serving.map((r) => r.releaseId))).map((r) => [r.id, r]),
      );
      return {
        environment,
        serving,
        releases,
        lastDeployment: lastDeployment ?? null,
        lock,
        interrupted,
      };
    }),
  );
}

/** The status of each environment of `environments` (default: the whole pipeline), in order. */
export async function environmentStatuses(
  ctx: AirlockContext,
  environments: string[] = ctx.config.pipeline,
): Promise<EnvironmentStatus[]> {
  const recorded = await recordedEnvironments(ctx.store, environments);
  const out: EnvironmentStatus[] = [];
  for (const rec of recorded) {
    const name = rec.environment;
    const env = ctx.config.environments[name];
    if (!env) continue;
    const provider = ctx.providerFor(env);
    const services = await Promise.all(
      ctx.config.services.map(async (service): Promise<ServiceStatus> => {
        const record = rec.serving.find((r) => r.service === service);
        const state = await provider.describe(serviceTarget(ctx.config, env, service));
        const release = record ? rec.releases.get(record.releaseId) : undefined;
        return {
          service,
          release: record?.releaseId ?? null,
          commit: release?.commit ?? null,
          dirty: release?.dirty ?? false,
          digest: release?.services[service]?.digest ?? null,
          since: record?.since ?? null,
          url: state.url,
          healthy: state.healthy,
          drift: (state.release ?? null) !== (record?.releaseId ?? null),
          restarts: state.restarts,
          lastCrash: state.lastCrash,
          warm: state.warm,
        };
      }),
    );
    const lock = rec.lock;
    const { token: _token, ...lockInfo } = lock ?? ({} as Lock);
    out.push({
      environment: name,
      provider: env.provider,
      protected: env.protected,
      services,
      lastDeployment: rec.lastDeployment && {
        ...rec.lastDeployment,
        interrupted: rec.interrupted.some((r) => r.id === rec.lastDeployment?.runId),
      },
      lock:
        lock && (lock.kind === 'manual' || lock.expiresAt > ctx.now().toISOString())
          ? { ...lockInfo, stale: lockIsStale(lock, ctx) }
          : null,
      interrupted: rec.interrupted.map((r) => ({
        runId: r.id,
        kind: r.kind,
        releaseId: r.releaseId,
        startedAt: r.startedAt,
      })),
    });
  }
  return out;
}
