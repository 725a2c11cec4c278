/**
 * `airlock status`: per environment, which release serves each service, since when, whether it
 * is healthy (asked of the provider), how its last deployment went, and who holds the lock.
 */
import type { ServiceState } from '../providers/provider.ts';
import type { Deployment, Lock } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { lockIsStale } from './lock.ts';

export interface ServiceStatus {
  service: string;
  release: string | null;
  commit: string | null;
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
  /** The latest deployment into this environment, whatever its outcome. */
  lastDeployment: Deployment | null;
  lock: (Omit<Lock, 'token'> & { stale: boolean }) | null;
}

export async function environmentStatuses(ctx: AirlockContext): Promise<EnvironmentStatus[]> {
  const out: EnvironmentStatus[] = [];
  for (const name of ctx.config.pipeline) {
    const env = ctx.config.environments[name];
    if (!env) continue;
    const records = await ctx.store.getServing(name);
    const provider = ctx.providerFor(env);
    const services: ServiceStatus[] = [];
    for (const service of ctx.config.services) {
      const record = records.find((r) => r.service === service);
      const port = env.services[service]?.port ?? 0;
      const state = await provider.describe(name, service, port);
      const release = record ? await ctx.store.findRelease(record.releaseId) : undefined;
      services.push({
        service,
        release: record?.releaseId ?? null,
        commit: release?.commit ?? null,
        digest: release?.services[service]?.digest ?? null,
        since: record?.since ?? null,
        url: state.url,
        healthy: state.healthy,
        drift: (state.release ?? null) !== (record?.releaseId ?? null),
        restarts: state.restarts,
        lastCrash: state.lastCrash,
        warm: state.warm,
      });
    }
    const [lastDeployment] = await ctx.store.listDeployments({ environment: name, limit: 1 });
    const lock = await ctx.store.getLock(name);
    const { token: _token, ...lockInfo } = lock ?? ({} as Lock);
    out.push({
      environment: name,
      provider: env.provider,
      protected: env.protected,
      services,
      lastDeployment: lastDeployment ?? null,
      lock:
        lock && lock.expiresAt > ctx.now().toISOString()
          ? { ...lockInfo, stale: lockIsStale(lock, ctx) }
          : null,
    });
  }
  return out;
}
