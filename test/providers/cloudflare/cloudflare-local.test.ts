/**
 * Local mode beyond the contract, with real workerd: the `wrangler dev` command Airlock starts,
 * each environment's wrangler section and `.dev.vars` (secrets arrive byte for byte, in that
 * environment only, and in no process's argv or environment).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudflareProvider } from '../../../src/providers/cloudflare/cloudflare-provider.ts';
import { LocalWorkers } from '../../../src/providers/cloudflare/local-mode.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { freePort, get } from '../local/local-test-helpers.ts';
import {
  cloudflareDeployment,
  cloudflareTarget,
  type WorkerProject,
  workerProject,
  workerSource,
} from './cloudflare-test-helpers.ts';

const SECRET = "s3cr3t-7ac1 'quoted' $HOME\nsecond line";
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A Worker that also reports a sha256 of its API_KEY secret (never the value). */
const source = workerSource('r1').replace(
  "if (url.pathname === '/version') {",
  `if (url.pathname === '/secret') {
      if (!env.API_KEY) return Response.json({ sha256: null });
      const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(env.API_KEY)));
      return Response.json({ sha256: [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('') });
    }
    if (url.pathname === '/version') {`,
);

/** Pids whose command line or environment holds `text`. */
function processesHolding(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const file of ['cmdline', 'environ']) {
      try {
        if (readFileSync(`/proc/${entry}/${file}`).includes(text)) found.push(Number(entry));
      } catch {
        // gone, or not ours
      }
    }
  }
  return found;
}

describe('cloudflare provider, local mode (wrangler dev, real workerd)', () => {
  let project: WorkerProject;
  let local: LocalProvider;
  let provider: CloudflareProvider;
  const ports = { staging: 0, production: 0 };
  const target = (environment: 'staging' | 'production') =>
    cloudflareTarget(project, environment, 'local', ports[environment]);
  const url = (environment: 'staging' | 'production') => `http://127.0.0.1:${ports[environment]}`;

  beforeAll(async () => {
    project = workerProject();
    local = new LocalProvider({ home: project.home });
    provider = new CloudflareProvider({ home: project.home, env: process.env, local });
    ports.staging = await freePort();
    ports.production = await freePort();
  });
  afterAll(async () => {
    await local?.client.shutdown().catch(() => undefined);
    await rm(project.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it('starts wrangler dev on the release as built, per environment, without secrets on the command line', () => {
    const r1 = { id: 'r1', ...project.release('r1', source) };
    const workers = new LocalWorkers(project.home, process.env, local);
    const settings = target('production').settings as Parameters<LocalWorkers['processFor']>[1];
    const p = workers.processFor(cloudflareDeployment(target('production'), r1), settings);
    const config = path.join(
      project.home,
      'envs',
      'production',
      'cloudflare',
      'web',
      'wrangler.r1.jsonc',
    );
    expect(p.run).toContain(
      ` dev --no-bundle --config ${config} --env=production --ip 127.0.0.1 --port "$PORT" --inspector-port 0 --persist-to ${path.join(project.home, 'envs', 'production', 'wrangler')} --show-interactive-dev-session=false --var AIRLOCK_COMMIT:`,
    );
    expect(p.run).toContain(`--var AIRLOCK_RELEASE:r1 --var AIRLOCK_SERVICE:web`);
    expect(p.run).not.toContain('DATABASE_URL');
    expect(p.secretsFile).toBeUndefined();
    expect(p.env).toMatchObject({
      WRANGLER_SEND_METRICS: 'false',
      WRANGLER_REGISTRY_PATH: path.join(project.home, 'envs', 'production', 'wrangler-registry'),
    });
  });

  it('each environment runs its own wrangler section and gets its own secrets, byte for byte, from .dev.vars only', async () => {
    const r1 = { id: 'r1', ...project.release('r1', source) };
    expect(await provider.setSecrets(target('staging'), { API_KEY: SECRET })).toEqual({
      set: ['API_KEY'],
    });
    await provider.deploy(cloudflareDeployment(target('staging'), r1));
    await provider.deploy(cloudflareDeployment(target('production'), r1, 'promote'));

    expect((await get(`${url('staging')}/secret`)).json).toEqual({ sha256: sha(SECRET) });
    expect((await get(`${url('production')}/secret`)).json).toEqual({ sha256: null });
    expect((await get(`${url('staging')}/version`)).json).toMatchObject({
      release: 'r1',
      environment: 'staging',
      greeting: 'hello from staging',
    });
    expect((await get(`${url('production')}/version`)).json).toMatchObject({
      environment: 'production',
      greeting: 'hello from production',
    });
    expect(processesHolding('s3cr3t-7ac1')).toEqual([]);
    expect(await provider.secretNames(target('staging'))).toEqual(['API_KEY']);
    expect(await provider.secretNames(target('production'))).toEqual([]);

    // Secrets take effect at the next deployment; a process kept warm with older secrets is
    // not reused for a rollback.
    const r2 = {
      id: 'r2',
      ...project.release('r2', source.replace('// release r1', '// release r2')),
    };
    await provider.deploy(cloudflareDeployment(target('production'), r2));
    expect((await provider.describe(target('production'))).warm).toEqual(['r1']);
    await provider.setSecrets(target('production'), { API_KEY: 'production-key-91' });
    const back = await provider.rollback(
      cloudflareDeployment(target('production'), r1, 'rollback'),
    );
    expect(back).toMatchObject({ reusedWarm: false, previousRelease: 'r2' });
    expect((await get(`${url('production')}/secret`)).json).toEqual({
      sha256: sha('production-key-91'),
    });
    expect((await get(`${url('staging')}/secret`)).json).toEqual({ sha256: sha(SECRET) });
  });
});
