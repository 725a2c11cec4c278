/**
 * Which `Provider` runs each environment: the session builds one of each kind the
 * configuration uses, loading a platform's module only when an environment needs it (so a
 * project on the local target never loads wrangler's or flyctl's code).
 */
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import { LocalProvider, type LocalProviderOptions } from './local/local-provider.ts';
import type { DatabaseEngine, Provider, ProviderName } from './provider.ts';

/** What a platform provider's module gets to build its provider. */
export interface ProviderContext {
  config: ResolvedConfig;
  /** The project's Airlock home (`config/home.ts`). */
  home: string;
  /** The process environment (tokens such as CLOUDFLARE_API_TOKEN, FLY_API_TOKEN, RAILWAY_TOKEN). */
  env: Readonly<Record<string, string | undefined>>;
  /** The local runtime (cloudflare's local mode runs `wrangler dev` under it). */
  local: LocalProvider;
}

/** A platform provider module's export. */
export type ProviderFactory = (context: ProviderContext) => Provider | Promise<Provider>;

const FACTORIES: Record<Exclude<ProviderName, 'local'>, () => Promise<ProviderFactory>> = {
  cloudflare: async () => (await import('./cloudflare/index.ts')).createProvider,
  fly: async () => (await import('./fly/index.ts')).createProvider,
  railway: async () => (await import('./railway/index.ts')).createProvider,
  command: async () => (await import('./command/index.ts')).createProvider,
};

/** The database engines the built providers host (Cloudflare: D1), for `createDatabases`. */
export function hostedDatabaseEngines(
  providerFor: (environment: ResolvedEnvironment) => Provider,
  config: ResolvedConfig,
): DatabaseEngine[] {
  const engines = new Map<string, DatabaseEngine>();
  for (const env of Object.values(config.environments)) {
    const engine = providerFor(env).databaseEngine;
    if (engine) engines.set(engine.engine, engine);
  }
  return [...engines.values()];
}

/**
 * Builds the providers the configuration's environments use.
 * @returns `providerFor(environment)`.
 */
export async function createProviders(
  config: ResolvedConfig,
  options: {
    home: string;
    env: Readonly<Record<string, string | undefined>>;
    local: LocalProviderOptions;
  },
): Promise<(environment: ResolvedEnvironment) => Provider> {
  const local = new LocalProvider(options.local);
  const built = new Map<ProviderName, Provider>([['local', local]]);
  const names = new Set(Object.values(config.environments).map((e) => e.provider));
  for (const name of names) {
    if (name === 'local') continue;
    const factory = await FACTORIES[name]();
    built.set(name, await factory({ config, home: options.home, env: options.env, local }));
  }
  return (environment) => built.get(environment.provider) ?? local;
}
