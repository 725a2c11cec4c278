/**
 * Resolution: applies environment inheritance to the validated config and yields, per
 * environment, the complete settings of every service. Pure. (wrangler's `[env.production]`
 * model: inheritable fields fall through from the top, per-environment fields never do.)
 *
 * This file holds the resolved shapes and `resolveConfig`; the steps have their own files:
 * `resolve-environment.ts` (inheritance, defaults, promotion policy), `resolve-providers.ts`
 * (provider settings) and `resolve-databases.ts` (databases, isolation, the state store).
 */

import path from 'node:path';
import type { CheckSpec } from '../checks/check.ts';
import { type ConfigDiagnostic, ConfigError } from '../errors.ts';
import type { MigrationFolderLayout } from '../migrations/migration-layouts.ts';
import { type NotifySink, resolveNotifySinks } from '../notify/notify-sinks.ts';
import type { HealthProbe } from '../providers/provider.ts';
import type { Finding } from './diagnostics.ts';
import { type AirlockHome, resolveHome } from './home.ts';
import { checkIsolation, resolveState } from './resolve-databases.ts';
import { resolveEnvironment } from './resolve-environment.ts';
import type { Config } from './schema.ts';
import type { SecretStoreConfig } from './secrets-schema.ts';

/** Where an engine-d1 database is: the wrangler file and environment that bind it. */
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
  /** The environment whose database this is (what its claim names: `migrations/database-claim.ts`). */
  environment: string;
  /** engine d1: where the database is (the url is then `d1:` and the provider opens it). */
  d1?: D1Location;
  /** Absolute path of the migrations folder in the working tree. */
  migrationsDir: string;
  /** Migrations folder relative to the service root (where a release snapshot keeps it). */
  migrations: string;
  /** How the folder is laid out (`airlock`, or the tool that writes it) and wrangler's pattern. */
  layout: MigrationFolderLayout;
  /** Also write the tool's own ledger row for each migration Airlock applies (co-existence). */
  toolLedger: boolean;
  migrate: 'before-switch' | 'after-switch';
  /**
   * This environment's own database: a `file:` URL (SQLite, under `<home>/envs/<env>/data/`)
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
   * not hold production's credentials.
   */
  unset?: ConfigDiagnostic;
  /** The variables `url` reads that are not set here (with `unset`). */
  unsetVariables?: string[];
  /** The environment variables `url` was read from (`${NAME}` in airlock.yaml), when any. */
  variables?: string[];
}

/** Where the state store lives. `url` may hold a password: print `display`. */
export type StateLocation =
  | { kind: 'sqlite'; file: string; display: string }
  | { kind: 'postgres'; url: string; display: string }
  | {
      kind: 'd1';
      /** `d1://<account-id>/<database-id>` (no secret in it). */
      url: string;
      display: string;
      accountId: string;
      databaseId: string;
      /** AIRLOCK_STATE_TOKEN, else CLOUDFLARE_API_TOKEN; null when neither is set. Never print it. */
      apiToken: string | null;
      /** Cloudflare's API, or CLOUDFLARE_API_BASE_URL when set (as for wrangler). */
      baseUrl: string | null;
    };

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
/** One service's complete settings in one environment. Times in ms. */
export interface ResolvedService {
  name: string;
  /** Service folder relative to the project root (`.` for the root). */
  root: string;
  build: {
    command: string;
    output: string;
    env: Record<string, string>;
    /** Keep symbolic links in the output that point outside it (audited). */
    allowLinksOutside: boolean;
  };
  database: ResolvedDatabase | null;
  /** Command that starts the app (provider local); empty for providers that do not run one. */
  run: string;
  /** The environment's provider and its settings for this service. */
  provider: ProviderSettings;
  health: HealthProbe;
  /** Checks with their `${NAME}` references read (see references.ts). */
  checks: CheckSpec[];
  /** Variables set for the app, `${NAME}` references read. */
  vars: Record<string, string>;
  /**
   * Variables read into `vars` and `checks`, with their values, so output that would show one
   * masks it instead. Never print this.
   */
  references: Array<{ name: string; value: string }>;
  /**
   * Variables `vars` or `checks` read that are not set here: commands that deploy or check this
   * service in this environment stop with these (see `usableService`); others go on.
   */
  unset: ConfigDiagnostic[];
  /** Stable local port; null only when the provider does not need one. */
  port: number | null;
  keepWarmMs: number;
  /** At most this many earlier releases kept warm at once. */
  keepWarmReleases: number;
  drainTimeoutMs: number;
  stopTimeoutMs: number;
}

/** What proves an approver's identity: `signed` (SSH signature), `oidc` (CI token), `any` (unverified). */
export type ApprovalIdentity = 'signed' | 'oidc' | 'any';

export interface PromotionPolicy {
  policy: 'manual' | 'automatic';
  approval: {
    required: number;
    allowSelfApproval: boolean;
    /** Only these people may approve; null: anyone. */
    approvers: string[] | null;
    /** Approvals older than this (ms) no longer count; null: never expire. */
    expiresAfterMs: number | null;
    /** What proves who approved (see `docs/configuration.md`): a signature, an OIDC token, or nothing. */
    identity: ApprovalIdentity;
    /**
     * With `identity: signed`: approvals given in the dashboard under a token count too (the
     * server's word, not a signature the gate can check again).
     */
    dashboardApprovals: boolean;
    /** Allowed-signers file, relative to the project folder (read at the release's commit). */
    allowedSigners: string;
    /** With `identity: oidc`: the repository, audience and issuer a token must carry. */
    oidc: { repository: string; audience: string; issuer: string } | null;
  };
  /** Minimum time (ms) on the previous environment. */
  soakMs: number | null;
  /** CI must be green at the exact commit (top-level `ci:`). */
  ci: boolean;
  /** Re-run the previous environment's checks when older than this (ms). */
  checksMaxAgeMs: number | null;
  /** Ask the previous environment's platform at promotion time (`pipeline/live-previous.ts`). */
  livePrevious: boolean;
  /**
   * `required`: the previous environment rehearses a rollback of each release that changes its
   * schema (old code on the new schema) and the `rehearsal` gate holds only when it passed.
   */
  rollbackRehearsal: 'required' | 'off';
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
  /** How long (ms) a switch waits for its checks before the local runtime switches back; 0: no lease. */
  checksLeaseMs: number;
  services: Record<string, ResolvedService>;
}

/** Parity: the allow list the user added to the default one, and what the gate does. */
/** `releases:` with defaults applied (see `schema.ts`). */
export interface ReleaseStoreSettings {
  materialize: 'link' | 'copy';
  /** Releases kept per environment by garbage collection (besides what serves, warm, pending). */
  keep: number;
  gcAfterDeploy: boolean;
}

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
  /**
   * This project's Airlock home, outside the project tree (`config/home.ts`): the embedded state
   * database, artifacts, release folders, local environments' databases, runtime files, logs.
   */
  home: AirlockHome;
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
  secrets: SecretsSettings;
  releases: ReleaseStoreSettings;
  /** The shared artifact store (`artifacts:`), e.g. `oci://ghcr.io/acme/app`; null: this machine's store only. */
  artifacts: string | null;
  warnings: ConfigDiagnostic[];
  /** The validated file, defaults applied, before inheritance. */
  raw: Config;
}

/** The `secrets:` section with defaults: `required` per environment of the pipeline. */
export interface SecretsSettings {
  /** True when airlock.yaml has a `secrets:` section (the `secrets` gate is then listed always). */
  configured: boolean;
  /** Names each environment must have. */
  required: Record<string, string[]>;
  /** Names that may hold the same value in several environments. */
  shared: string[];
  store: SecretStoreConfig;
}

function resolveSecrets(config: Config): SecretsSettings {
  const s = config.secrets;
  const required: Record<string, string[]> = {};
  for (const env of config.pipeline)
    required[env] = Array.isArray(s?.required) ? [...s.required] : [...(s?.required?.[env] ?? [])];
  return { configured: !!s, required, shared: s?.shared ?? [], store: s?.store ?? 'platform' };
}

/**
 * `database`, when its URL is known here.
 * @throws ConfigError `CONFIG_VARIABLE_UNSET` naming the variable, and the file, line and
 *   field that read it, when it is not set.
 */
export function usableDatabase(database: ResolvedDatabase): ResolvedDatabase {
  if (database.unset) {
    const names = database.unsetVariables ?? [];
    const list = names.join(', ') || 'A variable';
    throw new ConfigError('CONFIG_VARIABLE_UNSET', [database.unset], {
      title: `${list} ${names.length > 1 ? 'are' : 'is'} not set: ${database.environment}'s database URL is read from ${names.length > 1 ? 'them' : 'it'} (${database.unset.file} itself is valid).`,
      hint: `Set ${names[0] ?? 'it'} in this shell (export), or as a secret of the CI job that runs this command, then run the command again.`,
    });
  }
  return database;
}

/**
 * `service`, when every variable its `vars` and `checks` read is set here.
 * @throws ConfigError `CONFIG_INVALID` naming the file, line and variable of each unset one.
 */
export function usableService(service: ResolvedService): ResolvedService {
  if (service.unset.length > 0) throw new ConfigError('CONFIG_INVALID', service.unset);
  return service;
}

/** What the resolution steps share: the project folder, the variables, the findings so far. */
export interface ResolveContext {
  /** Absolute project folder (holding airlock.yaml). */
  dir: string;
  /** Absolute path of this project's Airlock home (see `config/home.ts`). */
  home: string;
  /** Environment variables `${NAME}` references read. */
  env: Readonly<Record<string, string | undefined>>;
  /** Problems found; `resolveConfig` returns them. */
  findings: Finding[];
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
  const home = resolveHome(dir, config.project, options.env);
  const ctx: ResolveContext = { dir, home: home.dir, env: options.env, findings: [] };
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
      home,
      state,
      ci,
      github,
      notify: notify.sinks,
      parity: { allow: config.parity?.allow ?? [], gate: config.parity?.gate ?? 'block' },
      secrets: resolveSecrets(config),
      releases: {
        materialize: config.releases?.materialize ?? 'link',
        keep: config.releases?.keep ?? 3,
        gcAfterDeploy: config.releases?.gcAfterDeploy ?? true,
      },
      artifacts: config.artifacts ?? null,
      pipeline: [...config.pipeline],
      services: Object.keys(config.services),
      environments,
      warnings: options.warnings,
      raw: config,
    },
    findings: ctx.findings,
  };
}
