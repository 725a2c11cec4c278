/**
 * What a generated job may reach: the secrets Airlock reads for the environments it serves
 * (`${NAME}` references of airlock.yaml and the platforms' credentials), the GitHub token when
 * Airlock talks to GitHub, and the minimal permissions that follow.
 */
import type { ResolvedConfig } from '../config/resolve.ts';
import { envSuffix } from '../providers/platform-cli.ts';
import type { Permission } from './workflow-yaml.ts';

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_REFERENCE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/** The platform credentials each provider reads (docs/providers/*.md); none for local, command. */
const PLATFORM_CREDENTIALS: Record<string, readonly string[]> = {
  cloudflare: ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID'],
  fly: ['FLY_API_TOKEN'],
  railway: ['RAILWAY_TOKEN'],
};

/**
 * The platform credentials a job for `own` needs: its own environment's under their plain names
 * (GitHub gives each job its environment's secrets), every other environment it reads (the
 * previous one, for the gate) as `<NAME>_<ENV>`, which Airlock prefers for that environment.
 * Cloudflare in `mode: local` needs none.
 */
function platformCredentialNames(
  config: ResolvedConfig,
  environments: string[],
  own: string | undefined,
): string[] {
  const names: string[] = [];
  for (const name of environments) {
    const env = config.environments[name];
    for (const settings of Object.values(env?.services ?? {})) {
      const p = settings.provider;
      if (p.provider === 'cloudflare' && p.mode === 'local') continue;
      const suffix = name === own ? '' : `_${envSuffix(name)}`;
      for (const credential of PLATFORM_CREDENTIALS[p.provider] ?? [])
        names.push(`${credential}${suffix}`);
    }
  }
  return names;
}

/**
 * The environment variables Airlock reads when it serves `environments` (the last one is the
 * job's own): those of `${NAME}` references in `state` and in these environments'
 * `databaseUrl`s, every value that is a whole `${NAME}` outside other environments (webhook
 * URLs and the like), and the platforms' credentials (`platformCredentialNames`). GitHub
 * reserves the GITHUB_ prefix; GITHUB_TOKEN is given separately.
 */
export function secretNames(config: ResolvedConfig, environments: string[]): string[] {
  const names = new Set<string>(['AIRLOCK_STATE_URL']);
  const raw = config.raw;
  for (const m of (raw.state ?? '').matchAll(ENV_REFERENCE)) names.add(m[1] as string);
  const walk = (value: unknown, at: string[]): void => {
    if (typeof value === 'string') {
      const whole = WHOLE_REFERENCE.exec(value);
      if (whole) names.add(whole[1] as string);
      if (at.at(-1) === 'databaseUrl')
        for (const m of value.matchAll(ENV_REFERENCE)) names.add(m[1] as string);
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...at, String(i)]);
    } else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (at.length === 1 && at[0] === 'environments' && !environments.includes(key)) continue;
        walk(v, [...at, key]);
      }
    }
  };
  walk(raw, []);
  for (const name of platformCredentialNames(config, environments, environments.at(-1)))
    names.add(name);
  return [...names].filter((n) => !n.startsWith('GITHUB_'));
}

/**
 * The environment variables `airlock monitor` reads in the scheduled workflow, which runs in no
 * GitHub environment (a scheduled run must never wait for an environment's reviewers), so every
 * name is a repository secret: `AIRLOCK_STATE_URL` and the `state` references, whole `${NAME}`
 * values outside `environments` (notification webhooks), `${NAME}` references inside any
 * `checks` (a header token), and each environment's platform credentials as `<NAME>_<ENV>`
 * (give the monitor read-only tokens). Never the apps' vars or database URLs: the monitor
 * probes URLs, it does not deploy.
 */
export function monitorSecretNames(config: ResolvedConfig): string[] {
  const names = new Set<string>(['AIRLOCK_STATE_URL']);
  const raw = config.raw;
  for (const m of (raw.state ?? '').matchAll(ENV_REFERENCE)) names.add(m[1] as string);
  const walk = (value: unknown, at: string[], inChecks: boolean): void => {
    if (typeof value === 'string') {
      if (inChecks) for (const m of value.matchAll(ENV_REFERENCE)) names.add(m[1] as string);
      else if (at[0] !== 'environments' && at[0] !== 'services') {
        const whole = WHOLE_REFERENCE.exec(value);
        if (whole) names.add(whole[1] as string);
      }
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...at, String(i)], inChecks);
    } else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value))
        walk(v, [...at, key], inChecks || (key === 'checks' && at.length > 0));
    }
  };
  walk(raw, [], false);
  for (const name of platformCredentialNames(config, [...config.pipeline], undefined))
    names.add(name);
  return [...names].filter((n) => !n.startsWith('GITHUB_'));
}

/** Does Airlock talk to GitHub in a job: through the Deployments API, or for the `ci` gate. */
export interface GitHubAccess {
  deployments: boolean;
  ciGate: boolean;
}

/** Does Airlock talk to GitHub in this job: the Deployments API, or the `ci` gate into `target`? */
export function githubAccess(config: ResolvedConfig, target: string | null): GitHubAccess {
  const deployments = Boolean(config.raw.github && config.raw.github.deployments !== false);
  const promotion = target ? config.raw.environments[target]?.promotion : undefined;
  const ciGate = Boolean(
    config.raw.ci && 'github' in config.raw.ci && typeof promotion === 'object' && promotion.ci,
  );
  return { deployments, ciGate };
}

/** The env of a step that runs Airlock for `environments`: secrets and, if needed, the token. */
export function airlockEnv(
  config: ResolvedConfig,
  environments: string[],
  github: GitHubAccess,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of secretNames(config, environments)) env[name] = `\${{ secrets.${name} }}`;
  if (github.deployments || github.ciGate) env.GITHUB_TOKEN = '${{ github.token }}';
  return env;
}

/** Deploy jobs: read the code, find artifacts of other runs, and what Airlock does on GitHub. */
export function permissionsFor(github: GitHubAccess): Record<string, Permission> {
  return {
    contents: 'read',
    actions: 'read',
    ...(github.deployments ? { deployments: 'write' as const } : {}),
    ...(github.ciGate ? { checks: 'read' as const, statuses: 'read' as const } : {}),
  };
}
