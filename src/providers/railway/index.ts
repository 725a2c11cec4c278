/** The railway provider: Railway services through the Railway CLI. See railway-provider.ts and docs/providers/railway.md. */
import { serviceTargets } from '../../pipeline/context.ts';
import type { ProviderFactory } from '../registry.ts';
import { RailwayProvider } from './railway-provider.ts';

export const createProvider: ProviderFactory = ({ config, home, env }) =>
  new RailwayProvider({
    env,
    home,
    varsOf: (environment, service) =>
      Object.keys(config.environments[environment]?.services[service]?.vars ?? {}),
    peers: (service) => serviceTargets(config, service),
  });
