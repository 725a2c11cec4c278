/** The railway provider (issue 6): Railway services through the Railway CLI. See railway-provider.ts and docs/providers/railway.md. */
import path from 'node:path';
import type { ServiceTarget } from '../provider.ts';
import type { ProviderFactory } from '../registry.ts';
import { RailwayProvider } from './railway-provider.ts';

export const createProvider: ProviderFactory = ({ config, home, env }) =>
  new RailwayProvider({
    env,
    home,
    varsOf: (environment, service) =>
      Object.keys(config.environments[environment]?.services[service]?.vars ?? {}),
    peers: (service): ServiceTarget[] =>
      config.pipeline.flatMap((name) => {
        const settings = config.environments[name]?.services[service];
        if (!settings) return [];
        return [
          {
            environment: name,
            service,
            port: settings.port ?? 0,
            projectDir: config.dir,
            serviceDir: path.resolve(config.dir, settings.root),
            settings: settings.provider,
          },
        ];
      }),
  });
