/**
 * Resolution of provider settings: for one service in one environment, the service's section
 * for the environment's provider (`cloudflare`, `fly`, `railway`, `command`) with the
 * environment's fields over it and defaults applied.
 */
import path from 'node:path';
import type { EnvironmentConfig } from './environment-schema.ts';
import type { ProviderSettings, ResolveContext } from './resolve.ts';
import type { Config } from './schema.ts';

/**
 * The provider settings of one service in one environment: the service's section for the
 * environment's provider, with the environment's fields over it, defaults applied. A
 * `provider: command` without a deploy command is an error finding.
 */
export function providerSettings(
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
