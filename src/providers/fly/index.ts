/** The fly provider (issue 6): Fly.io apps through flyctl. See fly-provider.ts and docs/providers/fly.md. */
import path from 'node:path';
import type { ServiceTarget } from '../provider.ts';
import type { ProviderFactory } from '../registry.ts';
import { FlyProvider } from './fly-provider.ts';

export const createProvider: ProviderFactory = ({ config, env }) => {
  const first = config.environments[config.pipeline[0] as string];
  const buildOutputs: Record<string, string> = {};
  for (const name of config.services) {
    const output = first?.services[name]?.build.output;
    if (output !== undefined) buildOutputs[name] = output;
  }
  const peers = (service: string): ServiceTarget[] =>
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
    });
  return new FlyProvider({ env, buildOutputs, peers });
};
