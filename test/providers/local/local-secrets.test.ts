/**
 * Local secrets reach the app at its next start, from an owner-only file, and nowhere else:
 * not the runtime's state, events or logs.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { localSecretsFile } from '../../../src/providers/local/local-secrets.ts';
import {
  asServiceDeployment,
  echoDeployment,
  freePort,
  get,
  localTarget,
  makeHome,
} from './local-test-helpers.ts';

describe('local secrets', () => {
  let home: string;
  let port: number;
  let provider: LocalProvider;
  const value = 'sk_live_local-secret-5be0c1';

  beforeAll(async () => {
    home = await makeHome();
    port = await freePort();
    provider = new LocalProvider({ home });
  });
  afterAll(async () => {
    await provider.client.shutdown().catch(() => undefined);
    await rm(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  });

  it('are set by name, read by the app at its next start, and kept out of the runtime’s files', async () => {
    const target = localTarget('staging', 'web', port, home);
    const deploy = (release: string) =>
      provider.deploy({
        ...asServiceDeployment(echoDeployment({ release, port, artifactDir: home })),
        ...target,
      });
    await deploy('r1');
    const before = await get(`http://127.0.0.1:${port}/env-digest?name=API_KEY`);
    expect(before.json).toEqual({ present: false, sha256: null });

    expect(await provider.setSecrets(target, { API_KEY: value })).toEqual({ set: ['API_KEY'] });
    const file = localSecretsFile(home, 'staging', 'web');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(await provider.secretNames(target)).toEqual(['API_KEY']);

    await deploy('r2');
    const after = await get(`http://127.0.0.1:${port}/env-digest?name=API_KEY`);
    expect(after.json).toEqual({
      present: true,
      sha256: createHash('sha256').update(value).digest('hex'),
    });

    const others = (await readdir(home, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name))
      .filter((f) => f !== file);
    for (const f of others)
      expect(await readFile(f, 'utf8').catch(() => ''), f).not.toContain(value);
  });
});
