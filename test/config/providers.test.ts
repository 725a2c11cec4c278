/** Provider settings in airlock.yaml: defaults, inheritance, and what each provider requires. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError, formatDiagnostic } from '../../src/errors.ts';
import { yaml } from './yaml-text.ts';

const FILE = '/tmp/p/airlock.yaml';
const parse = (text: string) => parseConfig(text, FILE, 'airlock.yaml', {});
function errors(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('provider settings', () => {
  it('cloudflare: staging is the top level and production env.production by default (seed 000); D1 by binding', () => {
    const config = parse(yaml`
      project: api
      pipeline: [staging, production]
      services:
        api:
          build: { command: npx wrangler deploy --dry-run --outdir dist, output: dist }
          database: { engine: d1, binding: DB }
          cloudflare: { mode: local }
      environments:
        staging:
          provider: cloudflare
          services: { api: { port: 4100 } }
        production:
          provider: cloudflare
          services: { api: { port: 4200, cloudflare: { config: wrangler.prod.toml } } }
    `);
    const staging = config.environments.staging?.services.api;
    const production = config.environments.production?.services.api;
    expect(staging?.provider).toEqual({
      provider: 'cloudflare',
      config: null,
      env: null,
      mode: 'local',
      accountId: null,
    });
    // The environment's section is merged over the service's.
    expect(production?.provider).toEqual({
      provider: 'cloudflare',
      config: '/tmp/p/wrangler.prod.toml',
      env: 'production',
      mode: 'local',
      accountId: null,
    });
    expect(production?.database).toMatchObject({
      engine: 'd1',
      url: 'd1:production/api',
      d1: {
        binding: 'DB',
        wranglerEnv: 'production',
        mode: 'local',
        persistDir: `${config.home.dir}/envs/production/wrangler`,
        serviceDir: '/tmp/p',
      },
    });
    expect(staging?.run).toBe('');
  });

  it('fly and railway settings default to the environment and service names', () => {
    const config = parse(yaml`
      project: web
      pipeline: [staging, production]
      services:
        web:
          build: { command: npm run build, output: dist }
          fly: { config: fly.toml }
      environments:
        staging:
          provider: fly
          services: { web: { fly: { config: fly.staging.toml } } }
        production:
          provider: railway
    `);
    expect(config.environments.staging?.services.web?.provider).toEqual({
      provider: 'fly',
      config: '/tmp/p/fly.staging.toml',
      app: null,
      url: null,
    });
    expect(config.environments.production?.services.web?.provider).toEqual({
      provider: 'railway',
      project: null,
      environment: 'production',
      service: 'web',
      url: null,
    });
  });

  it('names what each provider requires: a deploy command, a run command and ports locally, cloudflare for D1', () => {
    expect(
      errors(yaml`
        project: p
        pipeline: [staging]
        services:
          web:
            build: { command: make, output: out }
            database: { engine: d1 }
        environments:
          staging:
            provider: command
      `),
    ).toEqual([
      "airlock.yaml:8:3: error: environments.staging.services.web.command.deploy: is required: provider command deploys with your own command. Fix: add `command: { deploy: ./deploy.sh }` under services.web (or under this environment's service).",
      "airlock.yaml:9:15: error: environments.staging.provider: is command, but web's database has engine d1, which only the cloudflare provider can reach. Fix: set environments.staging.provider: cloudflare, or use engine sqlite or postgres.",
    ]);
    expect(
      errors(yaml`
        project: p
        pipeline: [staging]
        services:
          web:
            build: { command: make, output: out }
        environments:
          staging:
            services: { web: { port: 4100 } }
      `),
    ).toEqual([
      'airlock.yaml:4:3: error: services.web.run: is required: the local provider starts web with this command (it must listen on $PORT). Fix: add `run: node server.js` (run inside the build output) under services.web.',
    ]);
  });
});
