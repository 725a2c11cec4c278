/** Looking environments up by name in a resolved configuration. */
import { UserError } from '../errors.ts';
import type { ResolvedConfig, ResolvedEnvironment } from './resolve.ts';

/** The environment named `name`. @throws UserError `UNKNOWN_ENVIRONMENT`. */
export function environmentNamed(config: ResolvedConfig, name: string): ResolvedEnvironment {
  const env = config.environments[name];
  if (!env) {
    throw new UserError(
      'UNKNOWN_ENVIRONMENT',
      `there is no environment "${name}" in ${config.displayFile}.`,
      {
        hint: `Environments are: ${config.pipeline.join(', ')}.`,
      },
    );
  }
  return env;
}
