/**
 * The fly provider against the FAKE flyctl (flyctl cannot run here): the exact commands it runs,
 * secrets only on stdin, one image promoted by digest to both apps of seed 003, and the failure
 * paths (a failing deploy, a missing or expired token, no flyctl, a release without an image).
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AirlockError } from '../../../src/errors.ts';
import { FlyProvider, imageLabel } from '../../../src/providers/fly/fly-provider.ts';
import { scopedTokenEnv } from '../../../src/providers/platform-cli.ts';
import { FLY_TOKEN, type FlyTestProject, flyTestProject } from './fly-test-project.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const projects: FlyTestProject[] = [];
async function project(options?: Parameters<typeof flyTestProject>[0]) {
  const p = await flyTestProject(options);
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

describe('fly provider (FAKE flyctl): commands', () => {
  it('runs exactly these flyctl commands to build once, deploy, describe and manage secrets', async () => {
    const p = await project();
    const output = await p.packageRelease('r1');
    const image = JSON.parse(readFileSync(path.join(output, 'fly-image.json'), 'utf8'));
    await p.provider.deploy(p.deployment('staging', 'r1'));
    await p.provider.setSecrets(p.target('staging'), { API_KEY: 'k-1' });
    await p.provider.secretNames(p.target('staging'));

    const staging = path.join(p.serviceDir, 'fly.staging.toml');
    const checkout = path.dirname(output);
    const calls = p.fake.invocations().map((i) => ({ argv: i.argv, cwd: i.cwd }));
    expect(calls).toEqual([
      {
        argv: [
          'deploy',
          '--build-only',
          '--push',
          '--config',
          path.join(checkout, 'fly.staging.toml'),
          '--app',
          'notes-staging',
          '--image-label',
          image.label,
        ],
        cwd: checkout,
      },
      {
        argv: ['status', '--json', '--config', staging, '--app', 'notes-staging'],
        cwd: p.serviceDir,
      },
      {
        argv: [
          'deploy',
          '--config',
          staging,
          '--app',
          'notes-staging',
          '--image',
          image.ref,
          '--env',
          `AIRLOCK_COMMIT=${p.deployment('staging', 'r1').release.commit}`,
          '--env',
          `AIRLOCK_DIGEST=${p.deployment('staging', 'r1').release.digest}`,
          '--env',
          'AIRLOCK_ENV=staging',
          '--env',
          'AIRLOCK_RELEASE=r1',
          '--env',
          'AIRLOCK_SERVICE=web',
          '--env',
          'LOG_LEVEL=debug',
          '--strategy',
          'bluegreen',
          '--wait-timeout',
          '30s',
          '--yes',
        ],
        cwd: p.serviceDir,
      },
      {
        argv: ['status', '--json', '--config', staging, '--app', 'notes-staging'],
        cwd: p.serviceDir,
      },
      {
        argv: ['secrets', 'import', '--stage', '--config', staging, '--app', 'notes-staging'],
        cwd: p.serviceDir,
      },
      {
        argv: ['secrets', 'list', '--json', '--config', staging, '--app', 'notes-staging'],
        cwd: p.serviceDir,
      },
    ]);
    expect(image).toMatchObject({
      schema: 1,
      app: 'notes-staging',
      image: `registry.fly.io/notes-staging:${image.label}`,
      ref: `registry.fly.io/notes-staging@${image.digest}`,
      dirty: false,
    });
    expect(image.label).toMatch(/^airlock-[0-9a-f]{12}-[0-9a-z]+$/);
    expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('never passes DATABASE_URL (a Fly secret) on the command line', async () => {
    const p = await project();
    await p.packageRelease('r1');
    await p.provider.deploy(p.deployment('staging', 'r1'));
    const argv = p.fake.invocations().flatMap((i) => i.argv);
    expect(argv.join(' ')).not.toContain('DATABASE_URL');
    expect(argv.join(' ')).not.toContain('pw-staging');
  });

  it('reports the custom domain set as fly.url, where checks then run', async () => {
    const p = await project();
    await p.packageRelease('r1');
    const url = 'https://staging.notes.example.com';
    const deployment = p.deployment('staging', 'r1');
    const outcome = await p.provider.deploy({
      ...deployment,
      settings: { provider: 'fly', config: null, app: null, url },
    });
    expect(outcome.url).toBe(url);
    expect((await p.provider.deploy(deployment)).url).toMatch(/^https:\/\/[a-z0-9-]+\.fly\.dev$/);
  });

  it('leaves the strategy to fly.toml when it names one', async () => {
    const p = await project();
    const file = path.join(p.serviceDir, 'fly.staging.toml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n[deploy]\n  strategy = "canary"\n`);
    await p.packageRelease('r1');
    await p.provider.deploy(p.deployment('staging', 'r1'));
    const deploy = p.fake.invocations().find((i) => i.argv.includes('--image'));
    expect(deploy?.argv).not.toContain('--strategy');
  });
});

describe('fly provider (FAKE flyctl): secrets', () => {
  it('sends secret values on stdin only: never in argv, the transcript, progress or the platform config', async () => {
    const p = await project();
    const secrets = { API_KEY: 'sk-live-1f2e3d4c5b6a', PEM: 'line one\nline two\n' };
    const result = await p.provider.setSecrets(p.target('staging'), secrets, {
      onProgress: (line) => p.lines.push(line),
    });
    expect(result.set).toEqual(['API_KEY', 'PEM']);
    const call = p.fake.invocations().find((i) => i.argv[1] === 'import');
    // What flyctl received on stdin carried exactly these values (digests recorded, not values).
    expect(call?.stdin.values).toEqual({
      API_KEY: sha256(secrets.API_KEY),
      PEM: sha256(secrets.PEM),
    });
    expect(call?.stdin.bytes).toBeGreaterThan(0);
    const everything = [
      p.fake.transcriptText(),
      p.lines.join('\n'),
      JSON.stringify(await p.provider.platformConfig(p.target('staging'))),
    ].join('\n');
    for (const value of ['sk-live-1f2e3d4c5b6a', 'line one', FLY_TOKEN])
      expect(everything).not.toContain(value);
    expect(await p.provider.secretNames(p.target('staging'))).toEqual(['API_KEY', 'PEM']);
    expect(await p.provider.secretNames(p.target('production'))).toEqual([]);
  });

  it('refuses a value fly secrets import cannot carry unchanged, before running anything', async () => {
    const p = await project();
    const error = await failure(p.provider.setSecrets(p.target('staging'), { QUOTED: '"""oops' }));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain('QUOTED');
    expect(error.message).not.toContain('oops');
    expect(p.fake.invocations()).toEqual([]);
  });
});

describe('fly provider (FAKE flyctl): one image, promoted by digest (seed 003)', () => {
  it('builds once and runs the same image digest on notes-staging and notes, each with its own fly.toml', async () => {
    const p = await project();
    const output = await p.packageRelease('r1');
    const image = JSON.parse(readFileSync(path.join(output, 'fly-image.json'), 'utf8'));
    const staging = await p.provider.deploy(p.deployment('staging', 'r1'));
    const production = await p.provider.deploy(p.deployment('production', 'r1', 'promote'));

    expect(staging.url).toBe('https://notes-staging.fly.dev');
    expect(production.url).toBe('https://notes.fly.dev');
    const builds = p.fake.invocations().filter((i) => i.argv.includes('--build-only'));
    expect(builds).toHaveLength(1);
    const state = p.fake.flyState();
    for (const [app, env] of [
      ['notes-staging', 'staging'],
      ['notes', 'production'],
    ] as const) {
      const machines = state.apps[app]?.machines ?? [];
      expect(machines.length).toBeGreaterThan(0);
      for (const m of machines) {
        expect(m.image.digest).toBe(image.digest);
        expect(m.image.repository).toBe('notes-staging');
        expect(m.env).toMatchObject({ AIRLOCK_RELEASE: 'r1', APP_ENV: env });
      }
    }
    const deploys = p.fake.invocations().filter((i) => i.argv.includes('--image'));
    expect(deploys.map((d) => d.argv[d.argv.indexOf('--config') + 1])).toEqual([
      path.join(p.serviceDir, 'fly.staging.toml'),
      path.join(p.serviceDir, 'fly.toml'),
    ]);
  });

  it('rolls back by deploying the earlier release’s digest, without building', async () => {
    const p = await project();
    const r1 = JSON.parse(
      readFileSync(path.join(await p.packageRelease('r1'), 'fly-image.json'), 'utf8'),
    );
    await p.packageRelease('r2');
    await p.provider.deploy(p.deployment('production', 'r1'));
    await p.provider.deploy(p.deployment('production', 'r2'));
    const before = p.fake.invocations().filter((i) => i.argv.includes('--build-only')).length;
    const outcome = await p.provider.rollback(p.deployment('production', 'r1', 'rollback'));
    expect(outcome.previousRelease).toBe('r2');
    expect(p.fake.invocations().filter((i) => i.argv.includes('--build-only'))).toHaveLength(
      before,
    );
    expect(p.fake.flyState().apps.notes?.machines.map((m) => m.image.digest)).toEqual([r1.digest]);
    expect((await p.provider.describe(p.target('production'))).release).toBe('r1');
  });

  it('asks Fly’s registry for the digest when the builder does not print it', async () => {
    let images: () => Array<{ tag: string; digest: string }> = () => [];
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      seen.push(`${req.url} ${auth.split(' ')[0]}`);
      if (req.url?.startsWith('/token')) {
        const ok = auth === `Basic ${Buffer.from(`x:${FLY_TOKEN}`).toString('base64')}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? JSON.stringify({ token: 'registry-bearer' }) : '{}');
        return;
      }
      if (auth !== 'Bearer registry-bearer') {
        const { port } = server.address() as AddressInfo;
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="registry.fly.io",scope="repository:notes-staging:pull"`,
        });
        res.end();
        return;
      }
      const tag = decodeURIComponent(req.url?.split('/manifests/')[1] ?? '');
      const image = images().find((i) => i.tag === tag);
      res.writeHead(image ? 200 : 404, image ? { 'docker-content-digest': image.digest } : {});
      res.end(image ? '{}' : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const p = await project({ registryUrl: `http://127.0.0.1:${port}` });
      p.fake.updateFlyState((s) => {
        s.faults.omitPushDigest = true;
      });
      // The registry knows what the fake flyctl pushed.
      images = () => p.fake.flyState().images;
      const output = await p.packageRelease('r1');
      const image = JSON.parse(readFileSync(path.join(output, 'fly-image.json'), 'utf8'));
      expect(image.digest).toBe(p.fake.flyState().images[0]?.digest);
      expect(seen).toEqual([
        expect.stringMatching(/^\/v2\/notes-staging\/manifests\/airlock-.* Basic$/),
        expect.stringMatching(/^\/token\?.*scope=repository%3Anotes-staging%3Apull.* Basic$/),
        expect.stringMatching(/^\/v2\/notes-staging\/manifests\/airlock-.* Bearer$/),
      ]);
    } finally {
      server.close();
    }
  });
});

describe('fly provider (FAKE flyctl): failures', () => {
  it('a deploy whose machines fail their checks keeps the previous release serving (blue-green)', async () => {
    const p = await project();
    await p.packageRelease('r1');
    await p.packageRelease('r2');
    await p.provider.deploy(p.deployment('staging', 'r1'));
    p.fake.updateFlyState((s) => {
      s.faults.failDeploy = ['notes-staging'];
    });
    const error = await failure(p.provider.deploy(p.deployment('staging', 'r2')));
    expect(error.kind).toBe('provider');
    expect(error.code).toBe('HEALTH_TIMEOUT');
    expect(error.message).toContain('could not get all green machines to be healthy');
    expect(error.message).toContain('r1 keeps serving on notes-staging');
    expect(error.hint).toContain('fly logs --app notes-staging');
    const state = await p.provider.describe(p.target('staging'));
    expect(state).toMatchObject({ release: 'r1', healthy: true });
  });

  it('an expired token is a PROVIDER_AUTH error naming the variable, never its value', async () => {
    const p = await project();
    p.fake.updateFlyState((s) => {
      s.faults.expiredToken = true;
    });
    const error = await failure(p.provider.describe(p.target('staging')));
    expect(error.code).toBe('PROVIDER_AUTH');
    expect(error.message).toContain('FLY_API_TOKEN');
    expect(error.message).toContain('You must be authenticated');
    expect(error.hint).toContain('fly tokens create deploy -a notes-staging');
    expect(JSON.stringify(error.toJSON())).not.toContain(FLY_TOKEN);
  });

  it('a missing token is a PROVIDER_AUTH error that says which variable to set', async () => {
    const p = await project({ token: false });
    await expect(p.packageRelease('r1')).rejects.toMatchObject({
      code: 'PROVIDER_AUTH',
      message: expect.stringContaining('flyctl has no token for app notes-staging (staging)'),
      hint: expect.stringContaining('FLY_API_TOKEN_STAGING'),
    });
  });

  it('each environment gets its own token; the other environment’s never reaches flyctl', async () => {
    const p = await project({
      token: false,
      env: {
        FLY_API_TOKEN_STAGING: 'fo1_staging_only_token',
        FLY_API_TOKEN_PRODUCTION: 'fo1_prod_only_token',
      },
    });
    await p.packageRelease('r1');
    await p.provider.deploy(p.deployment('production', 'r1', 'promote'));
    for (const call of p.fake.invocations()) {
      expect(call.env.FLY_API_TOKEN).toBe('present');
      expect(Object.keys(call.env).filter((n) => n.startsWith('FLY_API_TOKEN_'))).toEqual([]);
    }
    const chosen = scopedTokenEnv(
      { FLY_API_TOKEN: 'shared', FLY_API_TOKEN_PRODUCTION: 'prod' },
      ['FLY_API_TOKEN'],
      'production',
    );
    expect(chosen.env.FLY_API_TOKEN).toBe('prod');
    expect(chosen.env.FLY_API_TOKEN_PRODUCTION).toBeUndefined();
    expect(
      scopedTokenEnv({ FLY_API_TOKEN: 'shared' }, ['FLY_API_TOKEN'], 'staging').env.FLY_API_TOKEN,
    ).toBe('shared');
    // GitHub Actions gives '' for a secret that is not set: that counts as unset.
    expect(
      scopedTokenEnv(
        { FLY_API_TOKEN: 'shared', FLY_API_TOKEN_STAGING: '' },
        ['FLY_API_TOKEN'],
        'staging',
      ).env.FLY_API_TOKEN,
    ).toBe('shared');
  });

  it('says so when flyctl is not installed', async () => {
    const provider = new FlyProvider({ env: { PATH: '/nonexistent' }, buildOutputs: {} });
    const p = await project();
    const error = await failure(provider.describe(p.target('staging')));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.hint).toContain('https://fly.io/docs/flyctl/install/');
  });

  it('refuses a release whose artifact has no fly-image.json (built without the fly provider)', async () => {
    const p = await project();
    await p.packageRelease('r1');
    const error = await failure(
      p.provider.deploy({ ...p.deployment('staging', 'r1'), artifactDir: p.serviceDir }),
    );
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.hint).toContain('airlock build --rebuild');
  });

  it('refuses to deploy when two environments resolve to the same app, before running flyctl', async () => {
    const p = await project();
    await p.packageRelease('r1');
    // Without fly.staging.toml, staging would read fly.toml: production's app.
    rmSync(path.join(p.serviceDir, 'fly.staging.toml'));
    const calls = p.fake.invocations().length;
    const error = await failure(p.provider.deploy(p.deployment('staging', 'r1')));
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.message).toContain('staging and production both deploy web to the Fly app notes');
    expect(error.hint).toContain('fly.staging.toml');
    expect(p.fake.invocations()).toHaveLength(calls);
  });

  it('names the missing fly.toml', async () => {
    const p = await project();
    const error = await failure(
      p.provider.describe({ ...p.target('staging'), serviceDir: path.join(p.projectDir, 'nope') }),
    );
    expect(error.code).toBe('PROVIDER_CONFIG_INVALID');
    expect(error.message).toContain(path.join(p.projectDir, 'nope', 'fly.toml'));
  });

  it('labels every image uniquely, so a tag is never overwritten', () => {
    const commit = 'a'.repeat(40);
    expect(imageLabel({ commit, dirty: false }, 1)).not.toBe(
      imageLabel({ commit, dirty: false }, 2),
    );
    expect(imageLabel({ commit, dirty: true }, 1)).toContain('-dirty-');
  });
});
