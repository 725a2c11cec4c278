/** Looking environments up by name in a resolved configuration. */
import { UserError } from '../errors.ts';
import { didYouMean } from './diagnostics.ts';
import type { ResolvedConfig, ResolvedEnvironment } from './resolve.ts';

/** The environment named `name`. @throws UserError `UNKNOWN_ENVIRONMENT`. */
export function environmentNamed(config: ResolvedConfig, name: string): ResolvedEnvironment {
  const env = config.environments[name];
  if (!env) {
    const guess = environmentGuess(name, config.pipeline);
    throw new UserError(
      'UNKNOWN_ENVIRONMENT',
      `there is no environment "${name}" in ${config.displayFile}${guess ? `; did you mean "${guess}"?` : '.'}`,
      {
        hint: `Environments are: ${config.pipeline.join(', ')}.`,
      },
    );
  }
  return env;
}

/**
 * The environment a mistyped or shortened name most likely means: the only one it begins
 * (`prod` → `production`), else one a typo away; undefined when none is clear.
 */
export function environmentGuess(name: string, environments: string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefixed = environments.filter(
    (e) => lower.length > 0 && e.toLowerCase().startsWith(lower),
  );
  if (prefixed.length === 1) return prefixed[0];
  return didYouMean(lower, environments);
}
