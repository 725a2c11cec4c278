/**
 * The railway provider against the FAKE Railway CLI (the Railway CLI cannot run here): the exact
 * commands it runs, secrets only on stdin, the same artifact bytes in both environments, one
 * token per environment, and the failure paths (a failing or crashing deployment, a missing or
 * expired token, an unknown environment, no CLI).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AirlockError } from '../../../src/errors.ts';
import { RailwayProvider } from '../../../src/providers/railway/railway-provider.ts';
import { treeDigest } from '../../fakes/cli/fake-cli-common.ts';
import {
  commitOf,
  digestOf,
  PRODUCTION_TOKEN,
  type RailwayTestProject,
  railwayTestProject,
  STAGING_TOKEN,
} from './railway-test-project.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const projects: RailwayTestProject[] = [];
function project(options?: Parameters<typeof railwayTestProject>[0]) {
  const p = railwayTestProject(options);
  projects.push(p);
  return p;
}
afterEach(() => {
  for (const p of projects.splice(0)) p.cleanup();
});
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as AirlockError,
  );
const scope = (env: string) => ['--service', 'web', '--environment', env];

describe('railway provider (FAKE Railway CLI): commands', () => {
  it('runs exactly these railway commands to deploy a release', async () => {
    const p = project();
    const artifact = p.artifact('r1');
    await p.provider.deploy(p.deployment('staging', 'r1'));
    const argv = p.fake.invocations().map((i) => i.argv);
    expect(argv).toEqual([
      ['variable', 'list', ...scope('staging'), '--json'],
      ['deployment', 'list', ...scope('staging'), '--json', '--limit', '20'],
      [
        'variable',
        'set',
        `AIRLOCK_COMMIT=${commitOf('r1')}`,
        `AIRLOCK_DIGEST=${digestOf('r1')}`,
        'AIRLOCK_ENV=staging',
        'AIRLOCK_RELEASE=r1',
        'AIRLOCK_SERVICE=web',
        'LOG_LEVEL=debug',
        ...scope('staging'),
        '--skip-deploys',
        '--json',
      ],
      [
        'up',
        artifact,
        '--path-as-root',
        '--no-gitignore',
        ...scope('staging'),
        '--detach',
        '--json',
        '--message',
        `airlock r1 sha256:${digestOf('r1').slice(0, 12)} ${commitOf('r1').slice(0, 7)}`,
      ],
      ['deployment', 'list', ...scope('staging'), '--json', '--limit', '20'],
      ['deployment', 'list', ...scope('staging'), '--json', '--limit', '20'],
    ]);
    for (const call of p.fake.invocations()) expect(call.cwd).toBe(p.serviceDir);
  });

  it('passes --project when the project is configured, and never DATABASE_URL', async () => {
    const p = project({ env: { RAILWAY_PROJECT_ID: 'a1b2c3d4-project' } });
    await p.provider.deploy(p.deployment('staging', 'r1'));
    const up = p.fake.invocations().find((i) => i.argv[0] === 'up');
    expect(up?.argv.slice(-6, -3)).toEqual(['--project', 'a1b2c3d4-project', '--detach']);
    const all = p.fake
      .invocations()
      .flatMap((i) => i.argv)
      .join(' ');
    expect(all).not.toContain('DATABASE_URL');
    expect(all).not.toContain('pw-staging');
  });

  it('sets only the variables that changed', async () => {
    const p = project();
    await p.provider.deploy(p.deployment('staging', 'r1'));
    await p.provider.deploy(p.deployment('staging', 'r2'));
    const sets = p.fake
      .invocations()
      .filter((i) => i.argv[0] === 'variable' && i.argv[1] === 'set');
    expect(sets[1]?.argv.slice(2, 5)).toEqual([
      `AIRLOCK_COMMIT=${commitOf('r2')}`,
      `AIRLOCK_DIGEST=${digestOf('r2')}`,
      'AIRLOCK_RELEASE=r2',
    ]);
  });
});

describe('railway provider (FAKE Railway CLI): build once, promote those bytes (seed 001)', () => {
  it('uploads the identical artifact to staging and production, and each reports its release', async () => {
    const p = project();
    const artifact = p.artifact('r1');
    const staging = await p.provider.deploy(p.deployment('staging', 'r1'));
    const production = await p.provider.deploy(p.deployment('production', 'r1', 'promote'));
    expect(staging.url).toMatch(/^https:\/\/web-staging-.*\.up\.railway\.app$/);
    expect(production.url).toMatch(/^https:\/\/web-production-.*\.up\.railway\.app$/);
    const deployments = p.fake.railwayState().deployments;
    expect(deployments.map((d) => [d.environment, d.status, d.digest])).toEqual([
      ['staging', 'SUCCESS', treeDigest(artifact)],
      ['production', 'SUCCESS', treeDigest(artifact)],
    ]);
    expect((await p.provider.describe(p.target('production'))).release).toBe('r1');
    expect(p.fake.railwayState().variables.production?.web).toMatchObject({
      AIRLOCK_RELEASE: 'r1',
      AIRLOCK_ENV: 'production',
      LOG_LEVEL: 'info',
    });
  });

  it('rolls back by uploading the earlier release’s artifact again', async () => {
    const p = project();
    const r1 = p.artifact('r1');
    await p.provider.deploy(p.deployment('staging', 'r1'));
    await p.provider.deploy(p.deployment('staging', 'r2'));
    const outcome = await p.provider.rollback(p.deployment('staging', 'r1', 'rollback'));
    expect(outcome.previousRelease).toBe('r2');
    const last = p.fake.railwayState().deployments.at(-1);
    expect(last).toMatchObject({ status: 'SUCCESS', digest: treeDigest(r1) });
  });

  it('knows the serving release from its ledger when the deployment message is gone', async () => {
    const p = project();
    await p.provider.deploy(p.deployment('staging', 'r1'));
    p.fake.updateRailwayState((s) => {
      for (const d of s.deployments) d.meta = { reason: 'deploy' };
    });
    expect((await p.provider.describe(p.target('staging'))).release).toBe('r1');
  });
});

describe('railway provider (FAKE Railway CLI): secrets and configuration', () => {
  it('sends each secret value on stdin only: never in argv, the transcript or progress', async () => {
    const p = project();
    const secrets = {
      API_KEY: 'sk-railway-5e4d3c2b1a',
      SENTRY_DSN: 'https://k@o1.ingest.example/2',
    };
    const result = await p.provider.setSecrets(p.target('staging'), secrets, {
      onProgress: (line) => p.lines.push(line),
    });
    expect(result.set).toEqual(['API_KEY', 'SENTRY_DSN']);
    const calls = p.fake.invocations();
    expect(calls.map((c) => c.argv)).toEqual([
      ['variable', 'set', 'API_KEY', '--stdin', ...scope('staging'), '--skip-deploys', '--json'],
      ['variable', 'set', 'SENTRY_DSN', '--stdin', ...scope('staging'), '--skip-deploys', '--json'],
    ]);
    expect(calls.map((c) => c.stdin.values)).toEqual([
      { API_KEY: sha256(secrets.API_KEY) },
      { SENTRY_DSN: sha256(secrets.SENTRY_DSN) },
    ]);
    const everything = `${p.fake.transcriptText()}\n${p.lines.join('\n')}`;
    for (const value of [...Object.values(secrets), STAGING_TOKEN, PRODUCTION_TOKEN])
      expect(everything).not.toContain(value);
    expect(await p.provider.secretNames(p.target('staging'))).toEqual(['API_KEY', 'SENTRY_DSN']);
    expect(await p.provider.secretNames(p.target('production'))).toEqual([]);
  });

  it('refuses values the CLI would change (empty, a trailing line break), before running anything', async () => {
    const p = project();
    for (const value of ['', 'abc\n']) {
      const error = await failure(p.provider.setSecrets(p.target('staging'), { TOKEN_X: value }));
      expect(error.code).toBe('USAGE');
    }
    expect(p.fake.invocations()).toEqual([]);
  });

  it('reports railway.json with the environment’s overrides, plain vars and secret names apart', async () => {
    const p = project();
    await p.provider.deploy(p.deployment('production', 'r1'));
    await p.provider.setSecrets(p.target('production'), { STRIPE_KEY: 'sk_live_x1y2z3' });
    const staging = await p.provider.platformConfig(p.target('staging'));
    const production = await p.provider.platformConfig(p.target('production'));
    expect(staging.settings).toMatchObject({
      'build.builder': 'RAILPACK',
      'deploy.healthcheckPath': '/health',
      'deploy.numReplicas': '1',
    });
    expect(production.settings['deploy.numReplicas']).toBe('2');
    expect(production.sources).toEqual([path.join(p.serviceDir, 'railway.json')]);
    expect(production.vars).toEqual(['LOG_LEVEL']);
    expect(production.secrets).toEqual(['STRIPE_KEY']);
    expect(JSON.stringify(production)).not.toContain('sk_live_x1y2z3');
  });
});

describe('railway provider (FAKE Railway CLI): failures', () => {
  it('a failed deployment keeps the previous one serving and puts the variables back', async () => {
    const p = project();
    await p.provider.deploy(p.deployment('staging', 'r1'));
    p.fake.updateRailwayState((s) => {
      s.faults.failDeploy = ['staging/web'];
    });
    const error = await failure(p.provider.deploy(p.deployment('staging', 'r2')));
    expect(error.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(error.message).toMatch(/ended FAILED\. r1 keeps serving\.$/);
    expect(error.hint).toContain('https://railway.com/project/');
    expect(await p.provider.describe(p.target('staging'))).toMatchObject({
      release: 'r1',
      healthy: true,
    });
    expect(p.fake.railwayState().variables.staging?.web).toMatchObject({
      AIRLOCK_RELEASE: 'r1',
      AIRLOCK_DIGEST: digestOf('r1'),
    });
  });

  it('a crashing deployment is APP_EXITED; variables Airlock added are deleted again', async () => {
    const p = project();
    p.fake.updateRailwayState((s) => {
      s.faults.crashDeploy = ['staging/web'];
    });
    const error = await failure(p.provider.deploy(p.deployment('staging', 'r1')));
    expect(error.code).toBe('APP_EXITED');
    const vars = p.fake.railwayState().variables.staging?.web ?? {};
    expect(Object.keys(vars).filter((n) => n.startsWith('AIRLOCK_') || n === 'LOG_LEVEL')).toEqual(
      [],
    );
  });

  it('an expired token is a PROVIDER_AUTH error naming the variable, never its value', async () => {
    const p = project();
    p.fake.updateRailwayState((s) => {
      s.faults.expiredToken = true;
    });
    const error = await failure(p.provider.describe(p.target('staging')));
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.message).toContain('RAILWAY_TOKEN_STAGING');
    expect(error.message).toContain('Unauthorized. Please check that your RAILWAY_TOKEN is valid');
    expect(JSON.stringify(error.toJSON())).not.toContain(STAGING_TOKEN);
  });

  it('staging’s token never reaches production: without a production token, production is refused', async () => {
    const p = project({ tokens: false, env: { RAILWAY_TOKEN_STAGING: STAGING_TOKEN } });
    await p.provider.deploy(p.deployment('staging', 'r1'));
    const error = await failure(p.provider.deploy(p.deployment('production', 'r1', 'promote')));
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.message).toContain('has no token for web in production');
    expect(error.hint).toContain('RAILWAY_TOKEN_PRODUCTION');
    const calls = p.fake.invocations();
    for (const call of calls) {
      const production = call.argv.includes('production');
      expect(call.env.RAILWAY_TOKEN).toBe(production ? undefined : 'present');
      expect(Object.keys(call.env).filter((n) => n.startsWith('RAILWAY_TOKEN_'))).toEqual([]);
    }
  });

  it('an unknown Railway environment is a configuration error that says where to fix it', async () => {
    const p = project({
      scopedTokens: false,
      tokens: false,
      env: { RAILWAY_API_TOKEN: 'acct-FAKE-token' },
    });
    const target = p.target('staging');
    const error = await failure(
      p.provider.describe({
        ...target,
        settings: {
          provider: 'railway',
          project: null,
          environment: 'stagin',
          service: 'web',
          url: null,
        },
      }),
    );
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.message).toContain('Environment "stagin" not found');
  });

  it('refuses to deploy when two environments resolve to the same Railway environment', async () => {
    const p = project({ railwayEnvironments: { staging: 'production' }, scopedTokens: false });
    const error = await failure(p.provider.deploy(p.deployment('staging', 'r1')));
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.message).toContain(
      'staging and production both deploy to Railway service web in environment production',
    );
    expect(p.fake.invocations()).toEqual([]);
  });

  it('says so when the Railway CLI is not installed', async () => {
    const p = project();
    const provider = new RailwayProvider({ env: { PATH: '/nonexistent' }, home: p.home });
    const error = await failure(provider.describe(p.target('staging')));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.hint).toContain('@railway/cli');
  });
});
