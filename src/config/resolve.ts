/**
 * Resolution: applies environment inheritance to the validated config and yields, per
 * environment, the complete settings of every service. Pure. (wrangler's `[env.production]`
 * model: inheritable fields fall through from the top, per-environment fields never do.)
 */

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ms from 'ms';
import type { CheckSpec } from '../checks/check.ts';
import { type ConfigDiagnostic, ConfigError } from '../errors.ts';
import { type NotifySink, resolveNotifySinks } from '../notify/notify-config.ts';
import type { HealthProbe } from '../providers/provider.ts';
import type { Finding } from './diagnostics.ts';
import type { EnvironmentConfig, PromotionConfig } from './environment-schema.ts';
import type { Config } from './schema.ts';

/** Where an engine-d1 database is: the wrangler file and environment that bind it (issue 6). */
export interface D1Location {
  /** The Airlock environment (selects CLOUDFLARE_API_TOKEN_<ENV> over CLOUDFLARE_API_TOKEN). */
  environment: string;
  /** The binding name ([[d1_databases]] binding); null: the only D1 database of the file. */
  binding: string | null;
  /** Absolute path of the wrangler file; null: found in `serviceDir` when used. */
  wranglerConfig: string | null;
  /** Absolute path of the service folder. */
  serviceDir: string;
  /** The wrangler environment (null: the top level). */
  wranglerEnv: string | null;
  /** `local`: the database wrangler dev (miniflare) keeps under `persistDir`; `remote`: Cloudflare's, through the D1 HTTP API. */
  mode: 'local' | 'remote';
  /** Absolute path `wrangler dev --persist-to` uses for this environment (local mode). */
  persistDir: string;
  /** Cloudflare account id for the D1 HTTP API (remote mode); null: CLOUDFLARE_ACCOUNT_ID or the wrangler file. */
  accountId: string | null;
}

export interface ResolvedDatabase {
  engine: 'sqlite' | 'postgres' | 'd1';
  /** engine d1: where the database is (the url is then `d1:` and the provider opens it). */
  d1?: D1Location;
  /** Absolute path of the migrations folder in the working tree. */
  migrationsDir: string;
  /** Migrations folder relative to the service root (where a release snapshot keeps it). */
  migrations: string;
  migrate: 'before-switch' | 'after-switch';
  /**
   * This environment's own database: a `file:` URL (SQLite, under `.airlock/envs/<env>/data/`)
   * or a `postgres://` URL. It may hold a password: never print it; print `display`.
   */
  url: string;
  /** `url` with its password masked. */
  display: string;
  /** Postgres `lock_timeout` for migrations (ms). */
  lockTimeoutMs: number;
  /** Postgres `statement_timeout` for migrations (ms). */
  statementTimeoutMs: number;
  /** What schema drift does to a promotion: fail the `drift` gate, or only warn. */
  drift: 'block' | 'warn';
  /**
   * Set when `url` reads an environment variable that is not set here: only commands that use
   * this database stop, with this diagnostic (see `usableDatabase`). A CI job for staging need
   * not hold production's credentials (seeds 001, 003).
   */
  unset?: ConfigDiagnostic;
}

/** Where the state store lives. `url` may hold a password: print `display`. */
export type StateLocation =
  | { kind: 'sqlite'; file: string; display: string }
  | { kind: 'postgres'; url: string; display: string };

/** One service's complete settings in one environment. Times in ms. */
/** A provider's own settings for one environment and service, with defaults applied. */
export type ProviderSettings =
  | { provider: 'local' }
  | {
      provider: 'cloudflare';
      /** Absolute path of the wrangler file; null: the first of wrangler.jsonc/.json/.toml in the service folder. */
      config: string | null;
      /** The wrangler environment; null: the top level. */
      env: string | null;
      mode: 'remote' | 'local';
      accountId: string | null;
    }
  | {
      provider: 'fly';
      /** Absolute path of this environment's fly.toml; null: fly.<env>.toml when it exists, else fly.toml. */
      config: string | null;
      app: string | null;
      /** The public URL (custom domain); null: the app's hostname. */
      url: string | null;
    }
  | {
      provider: 'railway';
      project: string | null;
      environment: string;
      service: string;
      /** The public URL (custom domain); null: RAILWAY_PUBLIC_DOMAIN. */
      url: string | null;
    }
  | {
      provider: 'command';
      deploy: string;
      rollback: string | null;
      url: string | null;
      describe: string | null;
      secrets: string | null;
      timeoutMs: number;
    };

export interface ResolvedService {
  name: string;
  /** Service folder relative to the project root (`.` for the root). */
  root: string;
  build: { command: string; output: string; env: Record<string, string> };
  database: ResolvedDatabase | null;
  /** Command that starts the app (provider local); empty for providers that do not run one. */
  run: string;
  /** The environment's provider and its settings for this service. */
  provider: ProviderSettings;
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
  approval: {
    required: number;
    allowSelfApproval: boolean;
    /** Only these people may approve; null: anyone. */
    approvers: string[] | null;
    /** Approvals older than this (ms) no longer count; null: never expire. */
    expiresAfterMs: number | null;
  };
  /** Minimum time (ms) on the previous environment. */
  soakMs: number | null;
  /** CI must be green at the exact commit (top-level `ci:`). */
  ci: boolean;
  /** Re-run the previous environment's checks when older than this (ms). */
  checksMaxAgeMs: number | null;
  /** Days, local minutes [start, end) and time zone promotions may run in; null: any time. */
  window: {
    days: string[];
    startMinute: number;
    endMinute: number;
    timezone: string;
    text: string;
  } | null;
  freeze: Array<{ from: string; to: string; reason: string }>;
}

/** What "CI green at the exact commit" means. */
export type CiDefinition =
  | { kind: 'github'; required: string[] | null }
  | { kind: 'command'; command: string; timeoutMs: number };

export interface GitHubSettings {
  repository: string;
  deployments: boolean;
  apiUrl: string | null;
}

export interface ResolvedEnvironment {
  name: string;
  /** Position in the pipeline, 0-based. */
  index: number;
  /** The environment a promotion into this one comes from; null for the first. */
  previous: string | null;
  next: string | null;
  provider: ProviderSettings['provider'];
  promotion: PromotionPolicy;
  protected: boolean;
  onCheckFailure: 'rollback' | 'keep';
  services: Record<string, ResolvedService>;
}

/** Parity (issue 6): the allow list the user added to the default one, and what the gate does. */
export interface ParitySettings {
  /** Globs over dotted profile keys, added to `DEFAULT_PARITY_ALLOW`. */
  allow: string[];
  gate: 'block' | 'warn' | 'off';
}

export interface ResolvedConfig {
  /** Absolute path of airlock.yaml. */
  file: string;
  /** The file as shown in messages (relative to the working directory when inside it). */
  displayFile: string;
  /** Project root: the folder holding airlock.yaml. */
  dir: string;
  project: string;
  /** The state store: a SQLite file, or Postgres in team mode. */
  state: StateLocation;
  pipeline: string[];
  /** Service names in declaration order. */
  services: string[];
  environments: Record<string, ResolvedEnvironment>;
  ci: CiDefinition | null;
  github: GitHubSettings | null;
  /** Notification sinks (credentials resolved: never print one; see `describeSink`). */
  notify: NotifySink[];
  parity: ParitySettings;
  warnings: ConfigDiagnostic[];
  /** The validated file, defaults applied, before inheritance. */
  raw: Config;
}

export const DEFAULTS = {
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 60_000,
  health: { path: '/health', timeoutMs: 30_000, intervalMs: 100 },
  keepWarmMs: 0,
  drainTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
} as const;

const minutesOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

function normalizePromotion(p: PromotionConfig | undefined): PromotionPolicy {
  const base: PromotionPolicy = {
    policy: 'manual',
    approval: { required: 0, allowSelfApproval: false, approvers: null, expiresAfterMs: null },
    soakMs: null,
    ci: false,
    checksMaxAgeMs: null,
    window: null,
    freeze: [],
  };
  if (p === undefined || p === 'manual') return base;
  if (p === 'automatic') return { ...base, policy: 'automatic' };
  const duration = (text: string | undefined) =>
    text === undefined ? null : ms(text as ms.StringValue);
  const [start = '09:00', end = '17:00'] = p.window?.hours.split('-') ?? [];
  return {
    policy: p.policy,
    approval: {
      required: p.approval?.required ?? 0,
      allowSelfApproval: p.approval?.allowSelfApproval ?? false,
      approvers: p.approval?.approvers ?? null,
      expiresAfterMs: duration(p.approval?.expiresAfter),
    },
    soakMs: duration(p.soak),
    ci: p.ci ?? false,
    checksMaxAgeMs: duration(p.checksMaxAge),
    window: p.window
      ? {
          days: p.window.days,
          startMinute: minutesOf(start),
          endMinute: minutesOf(end),
          timezone: p.window.timezone,
          text: `${p.window.days.join(',')} ${p.window.hours} ${p.window.timezone}`,
        }
      : null,
    freeze: p.freeze ?? [],
  };
}

/**
 * `database`, when its URL is known here.
 * @throws ConfigError `CONFIG_INVALID` naming the file, line and variable when it is not set.
 */
export function usableDatabase(database: ResolvedDatabase): ResolvedDatabase {
  if (database.unset) throw new ConfigError('CONFIG_INVALID', [database.unset]);
  return database;
}

/** A connection URL with its password replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` with the environment variable NAME; lists names that are not set. */
export function expandEnv(
  value: string,
  env: Readonly<Record<string, string | undefined>>,
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const expanded = value.replace(ENV_REFERENCE, (_, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') missing.push(name);
    return v ?? '';
  });
  return { value: expanded, missing };
}

interface ResolveContext {
  dir: string;
  env: Readonly<Record<string, string | undefined>>;
  findings: Finding[];
}

function resolveDatabase(
  base: NonNullable<Config['services'][string]['database']>,
  root: string,
  environment: string,
  service: string,
  databaseUrl: string | undefined,
  settings: ProviderSettings,
  ctx: ResolveContext,
): ResolvedDatabase {
  const common = {
    engine: base.engine,
    migrations: base.migrations,
    migrationsDir: path.resolve(ctx.dir, root, base.migrations),
    migrate: base.migrate,
    lockTimeoutMs: base.lockTimeoutMs ?? DEFAULTS.lockTimeoutMs,
    statementTimeoutMs: base.statementTimeoutMs ?? DEFAULTS.statementTimeoutMs,
    drift: base.drift,
  };
  const where = ['environments', environment, 'services', service, 'databaseUrl'];
  if (base.engine === 'd1') {
    if (databaseUrl !== undefined) {
      ctx.findings.push({
        severity: 'error',
        path: where,
        at: 'key',
        message:
          "is only for engine postgres; a D1 database is the one each environment's wrangler configuration binds.",
        fix: `remove databaseUrl; set services.${service}.database.binding to the D1 binding name.`,
      });
    }
    if (settings.provider !== 'cloudflare') {
      ctx.findings.push({
        severity: 'error',
        path: ['environments', environment, 'provider'],
        message: `is ${settings.provider}, but ${service}'s database has engine d1, which only the cloudflare provider can reach.`,
        fix: `set environments.${environment}.provider: cloudflare, or use engine sqlite or postgres.`,
      });
      return { ...common, url: '', display: '' };
    }
    const d1: D1Location = {
      environment,
      binding: base.binding ?? null,
      wranglerConfig: settings.config,
      serviceDir: path.resolve(ctx.dir, root),
      wranglerEnv: settings.env,
      mode: settings.mode,
      persistDir: path.join(ctx.dir, '.airlock', 'envs', environment, 'wrangler'),
      accountId: settings.accountId,
    };
    const display = `d1 ${d1.binding ?? '(the only D1 binding)'} of ${d1.wranglerEnv ? `env.${d1.wranglerEnv}` : 'the top level'} (${d1.mode})`;
    return { ...common, url: `d1:${environment}/${service}`, display, d1 };
  }
  if (base.engine === 'sqlite') {
    if (databaseUrl !== undefined) {
      ctx.findings.push({
        severity: 'error',
        path: where,
        at: 'key',
        message:
          'is only for engine postgres; with sqlite each environment gets its own file under .airlock/envs/<env>/data/.',
        fix: `remove databaseUrl, or set services.${service}.database.engine: postgres.`,
      });
    }
    const file = path.join(ctx.dir, '.airlock', 'envs', environment, 'data', `${service}.db`);
    const url = pathToFileURL(file).href;
    return { ...common, url, display: url };
  }
  if (databaseUrl === undefined) {
    ctx.findings.push({
      severity: 'error',
      path: where,
      at: 'key',
      message: `is required: with engine postgres every environment names its own database (seeds 001 and 003: never shared).`,
      fix: `add \`databaseUrl: \${${environment.toUpperCase().replaceAll('-', '_')}_DATABASE_URL}\` under environments.${environment}.services.${service}, and export that variable.`,
    });
    return { ...common, url: '', display: '' };
  }
  const { value, missing } = expandEnv(databaseUrl, ctx.env);
  if (missing.length > 0) {
    const database: ResolvedDatabase = {
      ...common,
      url: '',
      display: `(unset: ${missing.map((m) => `$${m}`).join(', ')})`,
    };
    ctx.findings.push({
      severity: 'error',
      path: where,
      message: `reads ${missing.map((m) => `$${m}`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set in the environment.`,
      fix: `export ${missing[0]}=postgres://user:password@host:5432/${service}_${environment} (this environment's database) before running a command that touches ${environment}.`,
      deferred: (diagnostic) => {
        database.unset = diagnostic;
      },
    });
    return database;
  }
  if (!/^postgres(ql)?:\/\//.test(value)) {
    ctx.findings.push({
      severity: 'error',
      path: where,
      message: `expected a postgres:// URL, got ${value.includes('://') ? `"${maskUrl(value).split('://')[0]}://…"` : 'something else'}.`,
      fix: 'use postgres://user:password@host:5432/database.',
    });
  }
  return { ...common, url: value, display: maskUrl(value) };
}

/**
 * The provider settings of one service in one environment: the service's section for the
 * environment's provider, with the environment's fields over it, defaults applied.
 */
function providerSettings(
  config: Config,
  environment: string,
  index: number,
  service: string,
  provider: EnvironmentConfig['provider'],
  ctx: ResolveContext,
): ProviderSettings {
  const base = config.services[service];
  const o = config.environments[environment]?.services?.[service];
  const serviceDir = path.resolve(ctx.dir, base?.root ?? '.');
  const file = (rel: string | undefined) => (rel ? path.resolve(serviceDir, rel) : null);
  switch (provider) {
    case 'cloudflare': {
      const s = { ...base?.cloudflare, ...o?.cloudflare };
      return {
        provider,
        config: file(s.config),
        env: s.env !== undefined ? s.env : index === 0 ? null : environment,
        mode: s.mode ?? 'remote',
        accountId: s.accountId ?? null,
      };
    }
    case 'fly': {
      const s = { ...base?.fly, ...o?.fly };
      return { provider, config: file(s.config), app: s.app ?? null, url: s.url ?? null };
    }
    case 'railway': {
      const s = { ...base?.railway, ...o?.railway };
      return {
        provider,
        project: s.project ?? null,
        environment: s.environment ?? environment,
        service: s.service ?? service,
        url: s.url ?? null,
      };
    }
    case 'command': {
      const s = { ...base?.command, ...o?.command };
      if (!s.deploy) {
        ctx.findings.push({
          severity: 'error',
          path: ['environments', environment, 'services', service, 'command', 'deploy'],
          at: 'key',
          message: 'is required: provider command deploys with your own command.',
          fix: `add \`command: { deploy: ./deploy.sh }\` under services.${service} (or under this environment's service).`,
        });
      }
      return {
        provider,
        deploy: s.deploy ?? '',
        rollback: s.rollback ?? null,
        url: s.url ?? null,
        describe: s.describe ?? null,
        secrets: s.secrets ?? null,
        timeoutMs: s.timeoutMs ?? 600_000,
      };
    }
    default:
      return { provider: 'local' };
  }
}

function resolveEnvironment(
  config: Config,
  name: string,
  index: number,
  env: EnvironmentConfig,
  ctx: ResolveContext,
): ResolvedEnvironment {
  const last = config.pipeline.length - 1;
  const services: Record<string, ResolvedService> = {};
  for (const [serviceName, base] of Object.entries(config.services)) {
    const o = env.services?.[serviceName] ?? {};
    const root = base.root;
    const health = { ...DEFAULTS.health, ...base.health, ...o.health };
    const settings = providerSettings(config, name, index, serviceName, env.provider, ctx);
    services[serviceName] = {
      name: serviceName,
      root,
      build: { command: base.build.command, output: base.build.output, env: base.build.env ?? {} },
      database: base.database
        ? resolveDatabase(base.database, root, name, serviceName, o.databaseUrl, settings, ctx)
        : null,
      run: o.run ?? base.run ?? '',
      provider: settings,
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

/** `host:port/database` of a Postgres URL (localhost and 127.0.0.1 are one host), or null. */
export function databaseIdentity(url: string): string | null {
  try {
    const u = new URL(url);
    const host = u.hostname.toLowerCase() === 'localhost' ? '127.0.0.1' : u.hostname.toLowerCase();
    const database = decodeURIComponent(u.pathname.replace(/^\//, '')) || u.username || 'postgres';
    return `${host}:${u.port || '5432'}/${database}`;
  } catch {
    return null;
  }
}

/** Seeds 001 and 003: no two environments may resolve to the same database. */
function checkIsolation(
  environments: Record<string, ResolvedEnvironment>,
  findings: Finding[],
): void {
  const owner = new Map<string, { environment: string; service: string }>();
  for (const env of Object.values(environments)) {
    for (const service of Object.values(env.services)) {
      if (service.database?.engine !== 'postgres' || !service.database.url) continue;
      const id = databaseIdentity(service.database.url);
      if (!id) continue;
      const first = owner.get(id);
      if (first && first.environment !== env.name) {
        findings.push({
          severity: 'error',
          path: ['environments', env.name, 'services', service.name, 'databaseUrl'],
          message: `${env.name} and ${first.environment} resolve to the same database (${id}); environments never share a database, so a staging mistake cannot touch production data.`,
          fix: `give ${env.name} its own database (e.g. ${id.replace(/\/[^/]*$/, `/${service.name}_${env.name}`)}).`,
        });
      } else if (!first) {
        owner.set(id, { environment: env.name, service: service.name });
      }
    }
  }
}

function resolveState(config: Config, ctx: ResolveContext): StateLocation {
  const override = ctx.env.AIRLOCK_STATE_URL;
  const raw = override || config.state || '.airlock/state.db';
  const { value, missing } = expandEnv(raw, ctx.env);
  if (missing.length > 0) {
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `reads ${missing.map((m) => `$${m}`).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not set in the environment.`,
      fix: `export ${missing[0]}=postgres://user:password@host:5432/airlock, or remove state to use .airlock/state.db.`,
    });
  }
  if (/^postgres(ql)?:\/\//.test(value))
    return { kind: 'postgres', url: value, display: maskUrl(value) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    ctx.findings.push({
      severity: 'error',
      path: ['state'],
      message: `expected a file path or a postgres:// URL, got a ${value.split('://')[0]}:// URL (its value is not shown: it may hold a password).`,
      fix: 'remove state (the default is .airlock/state.db), give a file path, or a postgres:// URL.',
    });
  }
  const file = path.resolve(ctx.dir, value);
  return { kind: 'sqlite', file, display: file };
}

/**
 * Resolves a validated config (rules already passed) into per-environment settings, reading
 * `${NAME}` references from `env` (passed in; never read from process.env here).
 * @returns the config and the findings (missing variables, shared databases) to report.
 */
export function resolveConfig(
  config: Config,
  options: {
    file: string;
    displayFile: string;
    warnings: ConfigDiagnostic[];
    env: Readonly<Record<string, string | undefined>>;
  },
): { resolved: ResolvedConfig; findings: Finding[] } {
  const dir = path.dirname(options.file);
  const ctx: ResolveContext = { dir, env: options.env, findings: [] };
  const environments: Record<string, ResolvedEnvironment> = {};
  config.pipeline.forEach((name, index) => {
    const env = config.environments[name];
    if (env) environments[name] = resolveEnvironment(config, name, index, env, ctx);
  });
  checkIsolation(environments, ctx.findings);
  const state = resolveState(config, ctx);
  const ci: CiDefinition | null = config.ci
    ? 'github' in config.ci
      ? { kind: 'github', required: config.ci.github.required ?? null }
      : { kind: 'command', command: config.ci.command, timeoutMs: config.ci.timeoutMs }
    : null;
  if (ci?.kind === 'github' && !config.github) {
    ctx.findings.push({
      severity: 'error',
      path: ['ci', 'github'],
      at: 'key',
      message:
        'reads GitHub commit statuses, but there is no github: section naming the repository.',
      fix: 'add `github: { repository: owner/name }` (the token comes from GITHUB_TOKEN).',
    });
  }
  for (const [name, env] of Object.entries(environments)) {
    if (env.promotion.ci && !ci) {
      ctx.findings.push({
        severity: 'error',
        path: ['environments', name, 'promotion', 'ci'],
        message:
          'requires CI green at the commit, but the top-level ci: section does not say what CI is.',
        fix: 'add `ci: { github: {} }` (commit statuses and check runs) or `ci: { command: npm test }`.',
      });
    }
  }
  const github: GitHubSettings | null = config.github
    ? {
        repository: config.github.repository,
        deployments: config.github.deployments,
        apiUrl: config.github.apiUrl ?? null,
      }
    : null;
  const notify = resolveNotifySinks(config.notify, { env: options.env, pipeline: config.pipeline });
  ctx.findings.push(...notify.findings);
  return {
    resolved: {
      file: options.file,
      displayFile: options.displayFile,
      dir,
      project: config.project,
      state,
      ci,
      github,
      notify: notify.sinks,
      parity: { allow: config.parity?.allow ?? [], gate: config.parity?.gate ?? 'block' },
      pipeline: [...config.pipeline],
      services: Object.keys(config.services),
      environments,
      warnings: options.warnings,
      raw: config,
    },
    findings: ctx.findings,
  };
}
