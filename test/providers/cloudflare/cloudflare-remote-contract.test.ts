/**
 * The cloudflare provider in remote mode passes the provider contract against a FAKE wrangler
 * (test/fakes/cloudflare/fake-wrangler.ts, installed as the project's node_modules/.bin/wrangler):
 * Cloudflare's API cannot be reached from here. The fake keeps a fake platform (versions,
 * deployments, secret names), so the harness can say which release a URL serves: the
 * AIRLOCK_RELEASE var of the version deployed at 100%.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CloudflareProvider } from '../../../src/providers/cloudflare/cloudflare-provider.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { describeProviderContract } from '../contract.ts';
import {
  cloudflareDeployment,
  cloudflareTarget,
  installFakeWrangler,
  workerProject,
} from './cloudflare-test-helpers.ts';

async function allText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  return (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).join('\n');
}

describeProviderContract('cloudflare (remote mode, FAKE wrangler)', async () => {
  const project = workerProject({ linkNodeModules: false });
  const fake = installFakeWrangler(project);
  const local = new LocalProvider({ home: project.home });
  const provider = new CloudflareProvider({ home: project.home, env: fake.env, local });
  const builds = {
    r1: { id: 'r1', ...project.release('r1') },
    r2: { id: 'r2', ...project.release('r2') },
    broken: { id: 'r3', ...project.release('r3', 'export default { fetch() {\n') },
  };
  const target = (environment: string) => cloudflareTarget(project, environment, 'remote', 0);
  return {
    provider,
    environments: ['staging', 'production'],
    target,
    async deployment(environment, release, kind = 'deploy') {
      return cloudflareDeployment(target(environment), builds[release], kind);
    },
    async servedRelease(url) {
      const name = /^https:\/\/([^.]+)\./.exec(url)?.[1] ?? '';
      const worker = fake.worker(name);
      const serving = worker?.deployments.at(-1)?.versions[0]?.version_id;
      return worker?.versions.find((v) => v.id === serving)?.vars.AIRLOCK_RELEASE ?? null;
    },
    async transcript() {
      return [
        await readFile(path.join(fake.state, 'invocations.jsonl'), 'utf8').catch(() => ''),
        await allText(project.home),
      ].join('\n');
    },
    async cleanup() {
      await rm(project.dir, { recursive: true, force: true });
    },
  };
});
