/**
 * The OCI registry adapter of the shared artifact store against a real registry (the CNCF
 * distribution registry, Debian's docker-registry), without auth and behind HTTP basic auth
 * (htpasswd): the shared contract, and credentials that are refused or missing.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { OciStore, parseOciUrl } from '../../src/releases/oci-store.ts';
import { REGISTRY_NEEDED, registryAvailable, startRegistry } from '../helpers/oci-registry.ts';
import { remoteGcContract } from './remote-gc-contract.ts';
import { remoteStoreContract } from './remote-store-contract.ts';

const skip = !registryAvailable && !process.env.CI && `needs ${REGISTRY_NEEDED}`;
if (skip) console.warn(`skipping the OCI registry tests: ${skip}`);

const AUTH = { user: 'ci', password: 'registry-password-for-tests' };

for (const auth of [false, true]) {
  remoteStoreContract(
    `OCI registry (docker-registry${auth ? ', basic auth (htpasswd)' : ', no auth'})`,
    async () => {
      const registry = await startRegistry(auth ? { auth: AUTH } : {});
      const url = registry.url('team/app');
      return {
        client: () => new OciStore(url, auth ? { user: AUTH.user, token: AUTH.password } : {}),
        blobs: () => registry.blobs(),
        tamper: (sha) => {
          const file = registry.blobFile(sha);
          const bytes = readFileSync(file);
          bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
          writeFileSync(file, bytes);
        },
        stop: () => registry.stop(),
      };
    },
    { skip, extraBlobs: 1 },
  );
}

it.skipIf(Boolean(skip))(
  'a registry refusing the credentials fails with a fix, never showing them',
  async () => {
    const registry = await startRegistry({ auth: AUTH });
    try {
      const secret = 'wrong-password-never-shown';
      const store = new OciStore(registry.url('team/app'), { user: 'ci', token: secret });
      const error = await store
        .pull('a'.repeat(64), {
          objectPath: () => '',
          hasObject: () => false,
          addObject: async () => {},
          addManifest: async () => {},
        })
        .catch((e: unknown) => e);
      expect(hasCode(error, 'ARTIFACT_STORE_FAILED')).toBe(true);
      const shown = JSON.stringify(error) + String((error as Error).message);
      expect(shown).toContain('401');
      expect(shown).toContain('AIRLOCK_REGISTRY_TOKEN');
      expect(shown).not.toContain(secret);
    } finally {
      await registry.stop();
    }
  },
);

it('oci:// addresses: loopback over HTTP, others HTTPS; credentials in the address refused', () => {
  expect(parseOciUrl('oci://127.0.0.1:5000/team/app').base).toBe('http://127.0.0.1:5000');
  expect(parseOciUrl('oci://ghcr.io/acme/app')).toMatchObject({
    base: 'https://ghcr.io',
    repository: 'acme/app',
  });
  expect(() => parseOciUrl('oci://user:pw@ghcr.io/acme/app')).toThrow(/no credentials/);
});

it.skipIf(Boolean(skip))(
  'a blob the registry lost since this machine pushed it is sent again (the manifest refused, every blob asked about)',
  async () => {
    const registry = await startRegistry();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-oci-lost-'));
    try {
      const url = registry.url('team/app');
      const build = path.join(tmp, 'build');
      mkdirSync(build);
      writeFileSync(path.join(build, 'shared.js'), 'module.exports = "shared";\n');
      writeFileSync(path.join(build, 'v.txt'), '1\n');
      const a = new ArtifactStore(path.join(tmp, 'a'), { remote: new OciStore(url) });
      const first = await a.put(build);
      const shared = (await a.manifest(first.digest)).entries.find((e) => e.path === 'shared.js');
      if (shared?.kind !== 'file') throw new Error('no shared.js');
      rmSync(path.dirname(registry.blobFile(shared.sha256)), { recursive: true });
      writeFileSync(path.join(build, 'v.txt'), '2\n');
      const second = await new ArtifactStore(path.join(tmp, 'a'), {
        remote: new OciStore(url),
      }).put(build);
      expect(registry.blobs().has(shared.sha256)).toBe(true);
      await new ArtifactStore(path.join(tmp, 'b'), { remote: new OciStore(url) }).verify(
        second.digest,
      );
    } finally {
      await registry.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);

remoteGcContract(
  'OCI registry (docker-registry, deletes enabled)',
  async () => {
    const registry = await startRegistry();
    return { client: () => new OciStore(registry.url('team/gc')), stop: () => registry.stop() };
  },
  { skip, removesBlobs: false },
);
