/**
 * The local provider passes the provider contract: real runtime daemon, real processes
 * behind real proxy ports, real secrets file.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { describeProviderContract } from '../contract.ts';
import {
  asServiceDeployment,
  echoDeployment,
  freePort,
  localTarget,
  makeHome,
  servedRelease,
} from './local-test-helpers.ts';

/**
 * Every file under `dir` as text (the runtime's logs, events and state), except the secrets
 * files, which hold the values by design (mode 0600).
 */
async function allText(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const files = entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((file) => !file.includes(`${path.sep}secrets${path.sep}`));
  return (await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')))).join('\n');
}

describeProviderContract('local', async () => {
  const home = await makeHome();
  const provider = new LocalProvider({ home });
  const ports: Record<string, number> = { staging: await freePort(), production: await freePort() };
  return {
    provider,
    environments: ['staging', 'production'],
    target: (environment) => localTarget(environment, 'web', ports[environment] ?? 0, home),
    async deployment(environment, release, kind = 'deploy') {
      const broken = release === 'broken';
      const p = echoDeployment({
        environment,
        release: broken ? 'r3' : release,
        port: ports[environment] ?? 0,
        artifactDir: home,
        ...(broken ? { env: { BOOT_EXIT: '3' } } : {}),
      });
      return { ...asServiceDeployment(p), ...localTarget(environment, 'web', p.port, home), kind };
    },
    servedRelease: (url) => servedRelease(Number(new URL(url).port)),
    transcript: () => allText(home),
    async cleanup() {
      await provider.client.shutdown().catch(() => undefined);
      await rm(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    },
  };
});
