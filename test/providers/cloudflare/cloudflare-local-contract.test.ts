/**
 * The cloudflare provider in local mode passes the provider contract with real workerd: the
 * pinned wrangler's `wrangler dev` under Airlock's real local runtime, behind real ports, with
 * each environment's secrets in its own `.dev.vars`.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CloudflareProvider } from '../../../src/providers/cloudflare/cloudflare-provider.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { describeProviderContract } from '../contract.ts';
import { freePort, get } from '../local/local-test-helpers.ts';
import {
  cloudflareDeployment,
  cloudflareTarget,
  workerProject,
} from './cloudflare-test-helpers.ts';

/** Every file Airlock wrote under `dir` (logs, state, generated configs), but the `.dev.vars`. */
async function allText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries
    .filter((e) => e.isFile() && e.name !== '.dev.vars' && !e.name.endsWith('.sqlite'))
    .map((e) => path.join(e.parentPath, e.name));
  return (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).join('\n');
}

describeProviderContract(
  'cloudflare (local mode: wrangler dev, real workerd)',
  async () => {
    const project = workerProject();
    const local = new LocalProvider({ home: project.home });
    const provider = new CloudflareProvider({ home: project.home, env: process.env, local });
    const ports: Record<string, number> = {
      staging: await freePort(),
      production: await freePort(),
    };
    const builds = {
      r1: { id: 'r1', ...project.release('r1') },
      r2: { id: 'r2', ...project.release('r2') },
      // A bundle workerd cannot load: wrangler dev exits, and the runtime says so.
      broken: { id: 'r3', ...project.release('r3', 'export default { fetch() {\n') },
    };
    const target = (environment: string) =>
      cloudflareTarget(project, environment, 'local', ports[environment] ?? 0);
    return {
      provider,
      environments: ['staging', 'production'],
      target,
      async deployment(environment, release, kind = 'deploy') {
        return cloudflareDeployment(target(environment), builds[release], kind);
      },
      async servedRelease(url) {
        const response = await get(`${url}/version`);
        return (response.json as { release: string | null }).release;
      },
      transcript: () => allText(project.home),
      async cleanup() {
        await local.client.shutdown().catch(() => undefined);
        await rm(project.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      },
    };
  },
  { timeoutMs: 120_000 },
);
