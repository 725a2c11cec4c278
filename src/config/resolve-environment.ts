/**
 * Resolution of one environment: environment inheritance (wrangler's `[env.production]` model:
 * inheritable service fields fall through from `services`, per-environment ones never do, and
 * `vars` are not inherited), defaults, its provider settings and databases, and its promotion
 * policy with durations in ms.
 */
import ms from 'ms';
import type { CheckSpec } from '../checks/check.ts';
import type { EnvironmentConfig, PromotionConfig } from './environment-schema.ts';
import { expandServiceFields } from './references.ts';
import type {
  PromotionPolicy,
  ResolveContext,
  ResolvedEnvironment,
  ResolvedService,
} from './resolve.ts';
import { resolveDatabase } from './resolve-databases.ts';
import { providerSettings } from './resolve-providers.ts';
import type { Config } from './schema.ts';

/** How long (ms) a switch waits for its checks by default (see `checksLeaseMs`). */
export const DEFAULT_CHECKS_LEASE_MS = 30_000;

/** Service settings (ms) when neither the service nor the environment sets them. */
const DEFAULTS = {
  health: { path: '/health', timeoutMs: 30_000, intervalMs: 100 },
  keepWarmMs: 0,
  keepWarmReleases: 1,
  drainTimeoutMs: 30_000,
  stopTimeoutMs: 10_000,
} as const;

const minutesOf = (hhmm: string): number => {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
};

/** Where the allowed-signers file is when `approval.allowedSigners` is not set. */
export const DEFAULT_ALLOWED_SIGNERS = '.approvals/allowed_signers';

/** An environment's `promotion` as written (validated), with defaults and durations in ms. */
export function normalizePromotion(p: PromotionConfig | undefined): PromotionPolicy {
  const base: PromotionPolicy = {
    policy: 'manual',
    approval: {
      required: 0,
      allowSelfApproval: false,
      approvers: null,
      expiresAfterMs: null,
      identity: 'any',
      dashboardApprovals: false,
      allowedSigners: DEFAULT_ALLOWED_SIGNERS,
      oidc: null,
    },
    soakMs: null,
    ci: false,
    checksMaxAgeMs: null,
    livePrevious: true,
    rollbackRehearsal: 'off',
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
      identity: p.approval?.identity ?? 'any',
      dashboardApprovals: p.approval?.dashboardApprovals ?? false,
      allowedSigners: p.approval?.allowedSigners ?? DEFAULT_ALLOWED_SIGNERS,
      oidc: p.approval?.oidc
        ? {
            repository: p.approval.oidc.repository,
            audience: p.approval.oidc.audience,
            issuer: p.approval.oidc.issuer,
          }
        : null,
    },
    soakMs: duration(p.soak),
    ci: p.ci ?? false,
    checksMaxAgeMs: duration(p.checksMaxAge),
    livePrevious: p.livePrevious ?? true,
    rollbackRehearsal: p.rollbackRehearsal ?? 'off',
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
 * Environment `name` (at `index` in the pipeline) with every service's settings complete.
 * Problems are pushed to `ctx.findings`.
 */
export function resolveEnvironment(
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
    const database = base.database
      ? resolveDatabase(base.database, root, name, serviceName, o.databaseUrl, settings, ctx)
      : null;
    const here = ['environments', name, 'services', serviceName];
    // Not inherited (wrangler's vars): an environment gets only what it sets.
    const fields = expandServiceFields(
      o.vars ?? {},
      (o.checks ?? base.checks ?? []) as CheckSpec[],
      ctx.env,
      {
        environment: name,
        vars: [...here, 'vars'],
        checks: o.checks ? [...here, 'checks'] : ['services', serviceName, 'checks'],
        provided: new Set([
          'BASE_URL',
          'AIRLOCK_ENV',
          'AIRLOCK_RELEASE',
          'AIRLOCK_COMMIT',
          'AIRLOCK_SERVICE',
          ...(database ? ['DATABASE_URL'] : []),
        ]),
      },
      ctx.findings,
    );
    services[serviceName] = {
      name: serviceName,
      root,
      build: {
        command: base.build.command,
        output: base.build.output,
        env: base.build.env ?? {},
        allowLinksOutside: base.build.allowLinksOutside ?? false,
      },
      database,
      run: o.run ?? base.run ?? '',
      provider: settings,
      health,
      checks: fields.checks,
      vars: fields.vars,
      references: fields.references,
      unset: fields.unset,
      port: o.port ?? null,
      keepWarmMs: o.keepWarmMs ?? base.keepWarmMs ?? DEFAULTS.keepWarmMs,
      keepWarmReleases: o.keepWarmReleases ?? base.keepWarmReleases ?? DEFAULTS.keepWarmReleases,
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
    checksLeaseMs: env.checksLeaseMs ?? DEFAULT_CHECKS_LEASE_MS,
    services,
  };
}
