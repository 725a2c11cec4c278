/**
 * Remote mode beyond the contract, against the FAKE wrangler: the exact commands Airlock runs,
 * the same bundle bytes in every environment, rollback and describe from a machine that did not
 * deploy (found by the version's tag), and the token rules.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AirlockError } from '../../../src/errors.ts';
import { CloudflareProvider } from '../../../src/providers/cloudflare/cloudflare-provider.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import {
  cloudflareDeployment,
  cloudflareTarget,
  installFakeWrangler,
  type WorkerProject,
  workerProject,
} from './cloudflare-test-helpers.ts';

const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

async function rejection(promise: Promise<unknown>): Promise<AirlockError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof AirlockError)) throw new Error(`expected an AirlockError, got ${error}`);
  return error;
}

describe('cloudflare provider, remote mode (FAKE wrangler)', () => {
  let project: WorkerProject;
  let fake: ReturnType<typeof installFakeWrangler>;
  let provider: CloudflareProvider;
  let r1: { id: string; dir: string; digest: string };
  let r2: { id: string; dir: string; digest: string };
  const target = (environment: string) => cloudflareTarget(project, environment, 'remote', 0);
  const providerWith = (env: Record<string, string>) =>
    new CloudflareProvider({
      home: project.home,
      env,
      local: new LocalProvider({ home: project.home }),
    });

  beforeEach(() => {
    project = workerProject({ linkNodeModules: false });
    fake = installFakeWrangler(project);
    provider = providerWith(fake.env);
    r1 = { id: 'r1', ...project.release('r1') };
    r2 = { id: 'r2', ...project.release('r2') };
  });
  afterEach(() => rm(project.dir, { recursive: true, force: true }));

  it('deploys with wrangler deploy --no-bundle from the release, and every environment gets the same bytes', async () => {
    const progress: string[] = [];
    const staging = await provider.deploy(cloudflareDeployment(target('staging'), r1), {
      onProgress: (line) => progress.push(line),
    });
    const production = await provider.deploy(
      cloudflareDeployment(target('production'), r1, 'promote'),
    );
    expect(staging.url).toBe('https://notes-worker.airlock-fake.workers.dev');
    expect(production.url).toBe('https://notes-worker-production.airlock-fake.workers.dev');
    expect(progress[0]).toBe('wrangler deploy r1 (the top level, --no-bundle)');

    const [first, second] = fake.invocations();
    const config = path.join(
      project.home,
      'envs',
      'staging',
      'cloudflare',
      'web',
      'wrangler.r1.jsonc',
    );
    expect(first?.argv).toEqual([
      'deploy',
      '--no-bundle',
      '--config',
      config,
      '--env=',
      '--tag',
      'r1',
      '--message',
      `Airlock deploy r1 sha256:${r1.digest.slice(0, 12)} commit ccccccc`,
      '--var',
      `AIRLOCK_COMMIT:${'c'.repeat(40)}`,
      '--var',
      `AIRLOCK_DIGEST:${r1.digest}`,
      '--var',
      'AIRLOCK_ENV:staging',
      '--var',
      'AIRLOCK_RELEASE:r1',
      '--var',
      'AIRLOCK_SERVICE:web',
    ]);
    expect(second?.argv).toContain('--env=production');
    expect(first?.env).toMatchObject({
      CLOUDFLARE_API_TOKEN: 'set',
      CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef',
      WRANGLER_SEND_METRICS: 'false',
    });
    // The generated wrangler file deploys the artifact's bundle as is.
    const generated = readFileSync(config, 'utf8');
    expect(generated).toContain(`"main": "${path.join(r1.dir, 'index.js')}"`);
    expect(generated).not.toContain('"build"');

    // Same bytes everywhere: what each Worker version was uploaded from is the release's bundle.
    const bundle = sha(readFileSync(path.join(r1.dir, 'index.js')));
    expect(fake.worker('notes-worker')?.versions[0]?.main_sha256).toBe(bundle);
    expect(fake.worker('notes-worker-production')?.versions[0]?.main_sha256).toBe(bundle);
    expect(fake.worker('notes-worker-production')?.versions[0]?.vars.AIRLOCK_DIGEST).toBe(
      r1.digest,
    );
  });

  it('rolls back with wrangler rollback <version>; from another machine it finds the version by its tag', async () => {
    await provider.deploy(cloudflareDeployment(target('staging'), r1));
    await provider.deploy(cloudflareDeployment(target('staging'), r2));
    const r1Version = fake.worker('notes-worker')?.versions[0]?.id as string;

    // Another machine (CI): no local record of what was deployed.
    rmSync(path.join(project.home, 'envs', 'staging', 'cloudflare'), { recursive: true });
    const seen = await provider.describe(target('staging'));
    expect(seen).toMatchObject({ release: 'r2', url: '' });

    const outcome = await provider.rollback(
      cloudflareDeployment(target('staging'), r1, 'rollback'),
    );
    expect(outcome).toMatchObject({ reusedWarm: true, bootMs: 0 });
    const calls = fake.invocations().map((c) => c.argv.slice(0, 2).join(' '));
    expect(calls).toEqual([
      'deploy --no-bundle',
      'deploy --no-bundle',
      'deployments status',
      'versions list',
      'versions list',
      `rollback ${r1Version}`,
    ]);
    expect(fake.invocations().at(-1)?.argv).toEqual([
      'rollback',
      r1Version,
      '--config',
      path.join(project.home, 'envs', 'staging', 'cloudflare', 'web', 'wrangler.r1.jsonc'),
      '--env=',
      '--message',
      'Airlock rollback to r1',
      '-y',
    ]);
    expect((await provider.describe(target('staging'))).release).toBe('r1');
  });

  it('a release the platform rejects fails with wrangler’s reason, and the previous one keeps serving', async () => {
    await provider.deploy(cloudflareDeployment(target('staging'), r1));
    const broken = { id: 'r3', ...project.release('r3', 'export default {\n') };
    const error = await rejection(provider.deploy(cloudflareDeployment(target('staging'), broken)));
    expect(error.code).toBe('PROVIDER_COMMAND_FAILED');
    expect(error.message).toMatch(
      /^`wrangler deploy` of r3 to staging exited 1: A request to the Cloudflare API \(.+\/versions\) failed\. Uncaught SyntaxError: .+\[code: 10021\]/,
    );
    expect(error.hint).toContain('r1 keeps serving');
    expect(error.details.tail).toEqual(
      expect.arrayContaining([expect.stringContaining('[ERROR]')]),
    );
    expect(error.details.log).toBe(
      path.join(project.home, 'envs', 'staging', 'logs', 'wrangler-web.log'),
    );
    expect((await provider.describe(target('staging'))).release).toBe('r1');
  });

  it('without CLOUDFLARE_API_TOKEN nothing runs; a refused token is PROVIDER_AUTH, never printed', async () => {
    const { CLOUDFLARE_API_TOKEN: _, ...noToken } = fake.env;
    const missing = await rejection(
      providerWith(noToken).deploy(cloudflareDeployment(target('staging'), r1)),
    );
    expect(missing.code).toBe('PROVIDER_AUTH');
    expect(missing.hint).toContain('CLOUDFLARE_API_TOKEN');
    expect(fake.invocations()).toEqual([]);

    const refused = await rejection(
      providerWith({ ...fake.env, CLOUDFLARE_API_TOKEN: 'expired-token' }).deploy(
        cloudflareDeployment(target('staging'), r1),
      ),
    );
    expect(refused.code).toBe('PROVIDER_AUTH');
    expect(refused.message).toContain('Authentication error [code: 10000]');
    expect(JSON.stringify(refused.toJSON())).not.toContain('expired-token');
  });

  it('CLOUDFLARE_API_TOKEN_<ENV> wins for its environment, and no command carries another environment’s token', async () => {
    const { CLOUDFLARE_API_TOKEN: valid, ...rest } = fake.env;
    const scoped = providerWith({
      ...rest,
      CLOUDFLARE_API_TOKEN_STAGING: 'expired-token',
      CLOUDFLARE_API_TOKEN_PRODUCTION: valid ?? 'valid',
    });
    const production = await scoped.deploy(cloudflareDeployment(target('production'), r1));
    expect(production.url).toBe('https://notes-worker-production.airlock-fake.workers.dev');
    const call = fake.invocations().at(-1);
    expect(call?.env.CLOUDFLARE_API_TOKEN).toBe('set');
    expect(
      Object.keys(call?.env ?? {}).filter((k) => k.startsWith('CLOUDFLARE_API_TOKEN_')),
    ).toEqual([]);

    const staging = await rejection(scoped.deploy(cloudflareDeployment(target('staging'), r1)));
    expect(staging.code).toBe('PROVIDER_AUTH');

    const { CLOUDFLARE_API_TOKEN: _, ...none } = fake.env;
    const missing = await rejection(
      providerWith({ ...none, CLOUDFLARE_API_TOKEN_STAGING: 'x' }).deploy(
        cloudflareDeployment(target('production'), r1),
      ),
    );
    expect(missing.message).toContain('CLOUDFLARE_API_TOKEN_PRODUCTION or CLOUDFLARE_API_TOKEN');
    expect(missing.hint).toContain('`cloudflare: { mode: local }`');
  });

  it('sets secrets with wrangler secret bulk: exact values on stdin only, per environment', async () => {
    await provider.deploy(cloudflareDeployment(target('staging'), r1));
    const value = "multi\nline 'value' with $HOME and trailing space ";
    await provider.setSecrets(target('staging'), { API_KEY: value, OTHER: 'x' });
    const call = fake.invocations().at(-1);
    expect(call?.argv).toEqual([
      'secret',
      'bulk',
      '--config',
      path.join(project.dir, 'wrangler.toml'),
      '--env=',
    ]);
    expect(JSON.stringify(call)).not.toContain('trailing space');
    expect(fake.worker('notes-worker')?.secrets.API_KEY).toBe(sha(value));
    expect(await provider.secretNames(target('staging'))).toEqual(['API_KEY', 'OTHER']);
    // production's Worker was never deployed: it has none (wrangler says "not found").
    expect(await provider.secretNames(target('production'))).toEqual([]);
  });

  it('reports the platform configuration of the wrangler environment, with secret names', async () => {
    await provider.deploy(cloudflareDeployment(target('production'), r1));
    await provider.setSecrets(target('production'), { API_KEY: 'v' });
    const config = await provider.platformConfig(target('production'));
    expect(config.bindings).toEqual({ DB: 'd1' });
    expect(config.vars).toEqual(['GREETING']);
    expect(config.secrets).toEqual(['API_KEY']);
    expect(config.settings).toMatchObject({ name: 'notes-worker-production' });
    expect(config.sources).toEqual([path.join(project.dir, 'wrangler.toml')]);
  });
});
