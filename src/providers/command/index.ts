/**
 * The command provider: your own deploy, rollback, URL, describe and secrets commands
 * (see command-provider.ts and docs/providers/command.md).
 */
import type { ProviderFactory } from '../registry.ts';
import { CommandProvider } from './command-provider.ts';

export const createProvider: ProviderFactory = (context) =>
  new CommandProvider({
    home: context.home,
    env: context.env,
    varsOf: (target) =>
      context.config.environments[target.environment]?.services[target.service]?.vars ?? {},
  });
