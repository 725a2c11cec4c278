/**
 * One request's view of the pipeline: a context whose reads are shared by everything the
 * request plans. The pipeline page plans two promotions (and the environments' records), which
 * ask the state store and the platforms many of the same questions; through a view each is asked
 * once per request:
 *
 * - what serves, the newest deployments, the locks, the interrupted runs, the open incidents
 *   and the secret fingerprints of the whole pipeline are read at once (`readPipelineState`:
 *   one statement on Postgres), and the plans' narrower questions answered from them;
 * - the state store's other reads are answered once per request and arguments (two plans that
 *   read the audit chain's tail or a release's approvals share one query);
 * - releases, which never change once built, are kept across requests (by id, per store);
 * - each platform is asked once per request for a service's description, configuration and
 *   secret names (the parity gate reads an environment's profiles for both of its neighbours).
 *
 * Writes pass through untouched, so nothing here may be used for an operation that writes and
 * reads its own writes: views are for the read-only pages and API routes.
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import type { Provider } from '../providers/provider.ts';
import type { Deployment, Incident, Release, StateStore } from '../state/state-store.ts';

/** Reads answered once per request and arguments. */
const SHARED_READS = new Set<string>([
  'getRun',
  'latestCiResult',
  'listApprovals',
  'listCheckResults',
  'listSteps',
  'verifyAudit',
]);

/** Platform reads answered once per request and service. */
const SHARED_PLATFORM_READS = new Set<string>(['describe', 'platformConfig', 'secretNames']);

/** Releases by id, per store, across requests (a release never changes once recorded). */
const releaseCaches = new WeakMap<StateStore, Map<string, Release>>();
/**
 * How many of an environment's newest deployments one query reads; the deployments the plans
 * ask for (the newest, the newest of a release, the recent rollbacks) are answered from them
 * when they hold the answer.
 */
const RECENT_DEPLOYMENTS = 100;
/** How many open incidents one query reads (all environments). */
const OPEN_INCIDENTS = 500;
/** How many interrupted runs one query reads (all environments). */
const RUNS_BY_STATUS = 100;

/** Enough for every release a page shows; past it the cache starts again. */
const RELEASE_CACHE_MAX = 1000;

function releaseCache(store: StateStore): Map<string, Release> {
  let cache = releaseCaches.get(store);
  if (!cache) {
    cache = new Map();
    releaseCaches.set(store, cache);
  }
  return cache;
}

function remember(cache: Map<string, Release>, release: Release): void {
  if (cache.size >= RELEASE_CACHE_MAX) cache.clear();
  cache.set(release.id, release);
}

/**
 * A store whose reads are shared within one view (see the module comment). The deployments and
 * locks of `environments` (the pipeline's) are read in one query each.
 */
function viewStore(store: StateStore, environments: string[]): StateStore {
  const answers = new Map<string, Promise<unknown>>();
  const releases = releaseCache(store);
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let answer = answers.get(key) as Promise<T> | undefined;
    if (!answer) {
      answer = read();
      answers.set(key, answer);
      // A failed read is asked again by the next caller rather than failing it too.
      answer.catch(() => answers.delete(key));
    }
    return answer;
  };
  const known = new Set(environments);
  /** What every page of the pipeline reads, of every environment at once (one statement on Postgres). */
  const state = () =>
    once('pipelineState', () =>
      store.readPipelineState(environments, {
        deployments: RECENT_DEPLOYMENTS,
        runs: RUNS_BY_STATUS,
        incidents: OPEN_INCIDENTS,
      }),
    );
  const recentDeployments = async (environment: string): Promise<Deployment[]> => {
    if (!known.has(environment))
      return once(`recentDeployments\0${environment}`, () =>
        store.listDeployments({ environment, limit: RECENT_DEPLOYMENTS }),
      );
    return (await state()).deployments.filter((d) => d.environment === environment);
  };
  const overrides: Partial<StateStore> = {
    getLock: async (environment: string) => {
      if (!known.has(environment))
        return once(`getLock\0${environment}`, () => store.getLock(environment));
      return (await state()).locks.find((l) => l.environment === environment);
    },
    getServing: async (environment?: string) => {
      const all = (await state()).serving;
      return environment === undefined
        ? [...all]
        : all.filter((r) => r.environment === environment);
    },
    listSecretFingerprints: async () => [...(await state()).fingerprints],
    listDeployments: async (filter) => {
      const { environment, releaseId, runId, limit } = filter;
      if (environment !== undefined && runId === undefined && limit <= RECENT_DEPLOYMENTS) {
        const recent = await recentDeployments(environment);
        const rows: Deployment[] =
          releaseId === undefined ? recent : recent.filter((d) => d.releaseId === releaseId);
        // Complete when enough matched, or when the environment has no older deployments.
        if (rows.length >= limit || recent.length < RECENT_DEPLOYMENTS) return rows.slice(0, limit);
      }
      return once(`listDeployments\0${JSON.stringify(filter)}`, () =>
        store.listDeployments(filter),
      );
    },
    listIncidents: async (filter) => {
      const { environment, status, limit } = filter;
      if (status === 'open' && limit <= OPEN_INCIDENTS) {
        const open = (await state()).openIncidents;
        const rows: Incident[] =
          environment === undefined ? open : open.filter((i) => i.environment === environment);
        if (rows.length >= limit || open.length < OPEN_INCIDENTS) return rows.slice(0, limit);
      }
      return once(`listIncidents\0${JSON.stringify(filter)}`, () => store.listIncidents(filter));
    },
    listRuns: async (filter) => {
      const { environment, status, limit } = filter;
      if (status === 'interrupted' && environment !== undefined && limit <= RUNS_BY_STATUS) {
        const all = (await state()).interrupted;
        const rows = all.filter((r) => r.environment === environment);
        if (rows.length >= limit || all.length < RUNS_BY_STATUS) return rows.slice(0, limit);
      }
      return once(`listRuns\0${JSON.stringify(filter)}`, () => store.listRuns(filter));
    },
    findRelease: async (ref: string) => {
      const cached = releases.get(ref.trim().toLowerCase());
      if (cached) return cached;
      const found = await once(`findRelease\0${ref}`, () => store.findRelease(ref));
      if (found) remember(releases, found);
      return found;
    },
    findReleases: async (ids: string[]) => {
      const missing = [...new Set(ids)].filter((id) => !releases.has(id));
      if (missing.length > 0)
        for (const r of await once(`findReleases\0${missing.sort().join('\0')}`, () =>
          store.findReleases(missing),
        ))
          remember(releases, r);
      return [...new Set(ids)].flatMap((id) => {
        const r = releases.get(id);
        return r ? [r] : [];
      });
    },
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (typeof property === 'string') {
        const override = overrides[property as keyof StateStore];
        if (override) return override;
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        if (SHARED_READS.has(property))
          return (...args: unknown[]) =>
            once(`${property}\0${JSON.stringify(args)}`, () => value.apply(target, args));
        return value.bind(target);
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/** A provider whose reads of one service are shared within one view. */
function viewProvider(provider: Provider): Provider {
  const answers = new Map<string, Promise<unknown>>();
  return new Proxy(provider, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (typeof property === 'string' && SHARED_PLATFORM_READS.has(property))
        return (t: { environment: string; service: string }) => {
          const key = `${property}\0${t.environment}\0${t.service}`;
          let answer = answers.get(key);
          if (!answer) {
            answer = value.call(target, t) as Promise<unknown>;
            answers.set(key, answer);
            answer.catch(() => answers.delete(key));
          }
          return answer;
        };
      return value.bind(target);
    },
  });
}

/**
 * A view of `ctx` for one request (see the module comment): pass it to the reads of one page or
 * API answer, and drop it with the request.
 */
export function viewContext(ctx: AirlockContext): AirlockContext {
  const providers = new Map<string, Provider>();
  return {
    ...ctx,
    store: viewStore(ctx.store, ctx.config?.pipeline ?? []),
    providerFor: (env: ResolvedEnvironment) => {
      let provider = providers.get(env.name);
      if (!provider) {
        provider = viewProvider(ctx.providerFor(env));
        providers.set(env.name, provider);
      }
      return provider;
    },
  };
}
