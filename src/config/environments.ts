/** Looking environments up by name in a resolved configuration. */
import { ConfigError } from '../errors.ts';
import { didYouMean } from './diagnostics.ts';
import type { ResolvedConfig, ResolvedEnvironment } from './resolve.ts';

/**
 * The environment named `name`. An unknown name is a usage error (the CLI exits 2), whatever
 * the command: it says which environment the name likely means and which exist.
 * @throws ConfigError `UNKNOWN_ENVIRONMENT`.
 */
export function environmentNamed(config: ResolvedConfig, name: string): ResolvedEnvironment {
  const env = config.environments[name];
  if (!env) {
    const guess = environmentGuess(name, config.pipeline);
    throw new ConfigError('UNKNOWN_ENVIRONMENT', [], {
      message: `there is no environment "${name}" in ${config.displayFile}${guess ? `; did you mean "${guess}"?` : '.'}`,
      hint: `Environments are: ${config.pipeline.join(', ')}.`,
      details: { environment: name, environments: config.pipeline, ...(guess ? { guess } : {}) },
    });
  }
  return env;
}

/** True when `short`'s letters appear in `name` in order, from its first letter (`prd`, `stg`). */
function abbreviates(short: string, name: string): boolean {
  if (short.length < 2 || short[0] !== name[0]) return false;
  let at = 0;
  for (const c of name) if (c === short[at]) at++;
  return at === short.length;
}

/**
 * The environment a mistyped or shortened name most likely means: the only one it begins
 * (`prod` → `production`), else the only one it abbreviates (`prd` → `production`, `stg` →
 * `staging`), else one a typo away; undefined when none is clear.
 */
export function environmentGuess(name: string, environments: string[]): string | undefined {
  const lower = name.toLowerCase();
  const only = (matches: string[]) => (matches.length === 1 ? matches[0] : undefined);
  return (
    only(environments.filter((e) => lower.length > 0 && e.toLowerCase().startsWith(lower))) ??
    only(environments.filter((e) => abbreviates(lower, e.toLowerCase()))) ??
    didYouMean(lower, environments)
  );
}
