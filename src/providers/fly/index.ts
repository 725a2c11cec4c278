/** The fly provider: Fly.io apps through flyctl. See fly-provider.ts and docs/providers/fly.md. */
import { serviceTargets } from '../../pipeline/context.ts';
import type { ProviderFactory } from '../registry.ts';
import { FlyProvider } from './fly-provider.ts';

export const createProvider: ProviderFactory = ({ config, env }) => {
  const first = config.environments[config.pipeline[0] as string];
  const buildOutputs: Record<string, string> = {};
  for (const name of config.services) {
    const output = first?.services[name]?.build.output;
    if (output !== undefined) buildOutputs[name] = output;
  }
  return new FlyProvider({
    env,
    buildOutputs,
    peers: (service) => serviceTargets(config, service),
  });
};
