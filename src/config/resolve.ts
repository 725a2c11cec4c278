/**
 * Resolution: applies environment inheritance to the validated config and yields, per
 * environment, the complete settings of every service. Pure. (wrangler's `[env.production]`
 * model: inheritable fields fall through from the top, per-environment fields never do.)
 */
import path from 'node:path';
import type { CheckSpec } from '../checks/check.ts';
import type { ConfigDiagnostic } from '../errors.ts';
import type { HealthProbe } from '../providers/provider.ts';
import type { Config, EnvironmentConfig, PromotionConfig } from './schema.ts';

export interface ResolvedDatabase {
  engine: 'sqlite';
  /** Absolute path of the migrations folder in the working tree. */
  migrationsDir: string;
  /** Migrations folder relative to the service root (where a release snapshot keeps it). */
  migrations: string;
  migrate: 'before-switch' | 'after-switch';
}

/** One service's complete settings in one environment. Times in ms. */
export interface ResolvedService {
  name: string;
  /** Service folder relative to the project root (`.` for the root). */
  root: string;
  build: { command: string; output: string; env: Record<string, string> };
  database: ResolvedDatabase | null;
  run: string;
  health: HealthProbe;
  checks: CheckSpec[];
  vars: Record<string, string>;
  /** Stable local port; null only when the provider does not need one. */
  port: number | null;
  keepWarmMs: number;
  drainTimeoutMs: number;
  stopTimeoutMs: number;
}

export interface PromotionPolicy {
  policy: 'manual' | 'automatic';
  approval: { required: number; allowSelfApproval: boolean };
}

export interface ResolvedEnvironment {
  name: string;
  /** Position in the pipeline, 0-based. */
  index: number;
  /** The environment a promotion into this one comes from; null for the first. */
  previous: string | null;
  next: string | null;
  provider: 'local';
  promotion: PromotionPolicy;
  protected: boolean;
  onCheckFailure: 'rollback' | 'keep';
  services: Record<string, ResolvedService>;
}

export interface ResolvedConfig {
  /** Absolute path of airlock.yaml. */
  file: string;
  /** The file as shown in messages (relative to the working directory when inside it). */
  displayFile: string;
  /** Project root: the folder holding airlock.yaml. */
  dir: string;
  project: string;
  /** Absolute path of the SQLite state database. */
  stateFile: string;
  pipeline: string[];
  /** Service names in declaration order. */
  services: string[];
  environments: Record<string, ResolvedEnvironment>;
  warnings: ConfigDiagnostic[];
  /** The validated file, defaults applied, before inheritance. */
  raw: Config;
}

export const DEFAULTS = {
  health: { path: '/health', timeoutMs: 30_000, intervalMs: 100 },
  keepWarmMs: 0,
  drainTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
} as const;

function normalizePromotion(p: PromotionConfig | undefined): PromotionPolicy {
  if (p === undefined || p === 'manual')
    return { policy: 'manual', approval: { required: 0, allowSelfApproval: false } };
  if (p === 'automatic')
    return { policy: 'automatic', approval: { required: 0, allowSelfApproval: false } };
  return {
    policy: p.policy,
    approval: {
      required: p.approval?.required ?? 0,
      allowSelfApproval: p.approval?.allowSelfApproval ?? false,
    },
  };
}

function resolveEnvironment(
  config: Config,
  dir: string,
  name: string,
  index: number,
  env: EnvironmentConfig,
): ResolvedEnvironment {
  const last = config.pipeline.length - 1;
  const services: Record<string, ResolvedService> = {};
  for (const [serviceName, base] of Object.entries(config.services)) {
    const o = env.services?.[serviceName] ?? {};
    const root = base.root;
    const health = { ...DEFAULTS.health, ...base.health, ...o.health };
    services[serviceName] = {
      name: serviceName,
      root,
      build: { command: base.build.command, output: base.build.output, env: base.build.env ?? {} },
      database: base.database
        ? {
            engine: base.database.engine,
            migrations: base.database.migrations,
            migrationsDir: path.resolve(dir, root, base.database.migrations),
            migrate: base.database.migrate,
          }
        : null,
      run: o.run ?? base.run,
      health,
      checks: (o.checks ?? base.checks ?? []) as CheckSpec[],
      // Not inherited (wrangler's vars): an environment gets only what it sets.
      vars: o.vars ?? {},
      port: o.port ?? null,
      keepWarmMs: o.keepWarmMs ?? base.keepWarmMs ?? DEFAULTS.keepWarmMs,
      drainTimeoutMs: o.drainTimeoutMs ?? base.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
      stopTimeoutMs: o.stopTimeoutMs ?? base.stopTimeoutMs ?? DEFAULTS.stopTimeoutMs,
    };
  }
  return {
    name,
    index,
    previous: index > 0 ? (config.pipeline[index - 1] ?? null) : null,
    next: config.pipeline[index + 1] ?? null,
    provider: env.provider,
    promotion: normalizePromotion(env.promotion),
    protected: env.protected ?? index === last,
    onCheckFailure: env.onCheckFailure ?? (index === 0 ? 'keep' : 'rollback'),
    services,
  };
}

/**
 * Resolves a validated config (rules already passed) into per-environment settings.
 * @param file absolute path of airlock.yaml; @param displayFile how messages name it.
 */
export function resolveConfig(
  config: Config,
  file: string,
  displayFile: string,
  warnings: ConfigDiagnostic[],
): ResolvedConfig {
  const dir = path.dirname(file);
  const environments: Record<string, ResolvedEnvironment> = {};
  config.pipeline.forEach((name, index) => {
    const env = config.environments[name];
    if (env) environments[name] = resolveEnvironment(config, dir, name, index, env);
  });
  return {
    file,
    displayFile,
    dir,
    project: config.project,
    stateFile: path.resolve(dir, config.state ?? '.airlock/state.db'),
    pipeline: [...config.pipeline],
    services: Object.keys(config.services),
    environments,
    warnings,
    raw: config,
  };
}
