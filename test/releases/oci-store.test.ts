/**
 * The OCI registry adapter of the shared artifact store against a real registry (the CNCF
 * distribution registry, Debian's docker-registry), without auth, behind HTTP basic auth
 * (htpasswd) and behind token auth (a bearer token from the token service the registry trusts):
 * the shared contract, and credentials that are refused.
 */
import { hash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { serializeManifest } from '../../src/releases/manifest.ts';
import { OciStore, ociCredentialsFromEnv, parseOciUrl } from '../../src/releases/oci-store.ts';
import { planLayers } from '../../src/releases/remote-transfer.ts';
import { REGISTRY_NEEDED, registryAvailable, startRegistry } from '../helpers/oci-registry.ts';
import { remoteGcContract } from './remote-gc-contract.ts';
import { newBlobBytes, remoteStoreContract } from './remote-store-contract.ts';

const skip = !registryAvailable && !process.env.CI && `needs ${REGISTRY_NEEDED}`;
if (skip) console.warn(`skipping the OCI registry tests: ${skip}`);

const AUTH = { user: 'ci', password: 'registry-password-for-tests' };

const SCHEMES = {
  none: 'no auth',
  basic: 'basic auth (htpasswd)',
  token: 'token auth (bearer token from its token service)',
} as const;

// The whole contract without auth and behind token auth (the flow ghcr.io and Docker Hub use);
// basic auth, a header on every request, is checked by the credentials test below.
for (const scheme of ['none', 'token'] as const) {
  const title = SCHEMES[scheme];
  const auth = scheme === 'none' ? null : { ...AUTH, scheme };
  remoteStoreContract(
    `OCI registry (docker-registry, ${title})`,
    async () => {
      const registry = await startRegistry(auth ? { auth } : {});
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
    { skip, extraBlobs: 1, packs: newBlobBytes },
  );
}

const nothingLocal = {
  objectPath: () => '',
  hasObject: () => false,
  addObject: async () => {},
  addManifest: async () => {},
};

for (const scheme of ['basic', 'token'] as const)
  it.skipIf(Boolean(skip))(
    `a registry (${SCHEMES[scheme]}) refusing the credentials fails with a fix, never showing them; the right ones are accepted`,
    async () => {
      const registry = await startRegistry({ auth: { ...AUTH, scheme } });
      try {
        const secret = 'wrong-password-never-shown';
        const store = new OciStore(registry.url('team/app'), { user: 'ci', token: secret });
        const error = await store.pull('a'.repeat(64), nothingLocal).catch((e: unknown) => e);
        expect(hasCode(error, 'ARTIFACT_STORE_FAILED')).toBe(true);
        const shown = JSON.stringify(error) + String((error as Error).message);
        expect(shown).toContain('401');
        expect(shown).toContain('AIRLOCK_REGISTRY_TOKEN');
        expect(shown).not.toContain(secret);
        expect(registry.tokensIssued()).toBe(0);
        // The right credentials are accepted (with token auth: a token the registry trusts):
        // the artifact is simply not there.
        const right = new OciStore(registry.url('team/app'), {
          user: AUTH.user,
          token: AUTH.password,
        });
        const missing = await right.pull('b'.repeat(64), nothingLocal).catch((e: unknown) => e);
        expect(hasCode(missing, 'DIGEST_MISMATCH')).toBe(true);
        expect(registry.tokensIssued()).toBe(scheme === 'token' ? 1 : 0);
      } finally {
        await registry.stop();
      }
    },
  );

it('credentials from the environment; on ghcr.io a workflow job token serves when no registry token is set', () => {
  const env = { AIRLOCK_REGISTRY_USER: 'ci', GITHUB_TOKEN: 'job-token' };
  expect(ociCredentialsFromEnv('oci://ghcr.io/acme/app', env)).toEqual({
    user: 'ci',
    token: 'job-token',
  });
  expect(
    ociCredentialsFromEnv('oci://ghcr.io/acme/app', { ...env, AIRLOCK_REGISTRY_TOKEN: 'pat' }),
  ).toEqual({ user: 'ci', token: 'pat' });
  // Another registry never gets GitHub's token.
  expect(ociCredentialsFromEnv('oci://registry.fly.io/app', env)).toEqual({ user: 'ci' });
});

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
      // Larger than a pack's files: a blob of its own, named by its sha256.
      writeFileSync(path.join(build, 'shared.js'), `// ${'x'.repeat(70_000)}\n`);
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

it.skipIf(Boolean(skip))(
  'small files travel in packs: a pull of one changed file fetches its byte range; a tampered pack is refused, naming the pack or the file',
  async () => {
    const registry = await startRegistry();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-oci-packs-'));
    try {
      const url = registry.url('team/app');
      const build = path.join(tmp, 'build');
      mkdirSync(build);
      for (let i = 0; i < 300; i++)
        writeFileSync(path.join(build, `f${i}.js`), `module.exports = ${i};\n`.repeat(20));
      const a = new ArtifactStore(path.join(tmp, 'a'), { remote: new OciStore(url) });
      const first = await a.put(build);
      // 300 files, 64 packs: about 5 files a pack, no blob per file.
      expect(registry.blobs().size).toBeLessThanOrEqual(64 + 2);
      const fetched: number[] = [];
      const b = new ArtifactStore(path.join(tmp, 'b'), {
        remote: new OciStore(url),
        onTransfer: ({ stats }) => fetched.push(stats.bytes),
      });
      await b.verify(first.digest);
      writeFileSync(path.join(build, 'f7.js'), 'module.exports = "seven";\n');
      const second = await a.put(build);
      const manifest = await a.manifest(second.digest);
      const changed = manifest.entries.find((e) => e.path === 'f7.js');
      if (changed?.kind !== 'file') throw new Error('no f7.js');
      const pack = planLayers(manifest).packs.find((p) =>
        p.members.some((m) => m.sha === changed.sha256),
      );
      if (!pack) throw new Error('f7.js in no pack');
      const packBytes = Buffer.concat(
        pack.members.map((m) => readFileSync(a.objectPath(m.sha, m.mode))),
      );
      const packSha = hash('sha256', packBytes, 'hex');
      expect(pack.members.length).toBeGreaterThan(2);
      // Tamper with the changed file's bytes inside its pack.
      const member = pack.members.find((m) => m.sha === changed.sha256);
      const file = registry.blobFile(packSha);
      const stored = readFileSync(file);
      stored.writeUInt8((stored[member?.offset ?? 0] ?? 0) ^ 0xff, member?.offset ?? 0);
      writeFileSync(file, stored);
      // B holds the first: it asks for the changed file's range only, and refuses it.
      const ranged = await b.verify(second.digest).catch((e: unknown) => e);
      expect(hasCode(ranged, 'DIGEST_MISMATCH')).toBe(true);
      expect((ranged as Error).message).toContain(`sha256:${changed.sha256}`);
      // A fresh store fetches whole packs, and refuses the tampered one.
      const resumed: number[] = [];
      const fresh = new ArtifactStore(path.join(tmp, 'c'), {
        remote: new OciStore(url),
        onTransfer: ({ stats }) => resumed.push(stats.bytes),
      });
      const whole = await fresh.verify(second.digest).catch((e: unknown) => e);
      expect(hasCode(whole, 'DIGEST_MISMATCH')).toBe(true);
      expect((whole as Error).message).toContain(`sha256:${packSha}`);
      expect(fresh.has(second.digest)).toBe(false);
      // Repaired, B's pull of the second release fetches that file's bytes and the manifest.
      writeFileSync(file, packBytes);
      await b.verify(second.digest);
      const manifestBytes = Buffer.byteLength(serializeManifest(manifest));
      expect(fetched.at(-1)).toBe(manifestBytes + changed.size);
      // The fresh store kept what verified before the refusal: its next pull resumes, fetching
      // less than the whole artifact.
      await fresh.verify(second.digest);
      expect(resumed).toHaveLength(1);
      expect(resumed[0]).toBeLessThan(manifestBytes + manifest.bytes);
      expect(resumed[0]).toBeGreaterThanOrEqual(manifestBytes + packBytes.length);
    } finally {
      await registry.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);

it.skipIf(Boolean(skip))(
  'an artifact pushed as one blob per file (before packs) still pulls and verifies',
  async () => {
    const registry = await startRegistry();
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-oci-per-file-'));
    try {
      const build = path.join(tmp, 'build');
      mkdirSync(build);
      for (let i = 0; i < 3; i++) writeFileSync(path.join(build, `f${i}.js`), `// ${i}\n`);
      const a = new ArtifactStore(path.join(tmp, 'a'));
      const { digest } = await a.put(build);
      const manifest = await a.manifest(digest);
      const base = `http://${registry.host}/v2/team/app`;
      const upload = async (bytes: Uint8Array) => {
        const sha = hash('sha256', bytes, 'hex');
        const started = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
        const put = await fetch(`${started.headers.get('location')}&digest=sha256:${sha}`, {
          method: 'PUT',
          body: bytes,
        });
        expect(put.status).toBe(201);
        return { digest: `sha256:${sha}`, size: bytes.length };
      };
      const config = await upload(Buffer.from(serializeManifest(manifest)));
      const layers = [];
      for (const e of manifest.entries)
        if (e.kind === 'file')
          layers.push({
            mediaType: 'application/vnd.airlock.file.v1',
            ...(await upload(readFileSync(a.objectPath(e.sha256, e.mode)))),
          });
      const stored = await fetch(`${base}/manifests/${OciStore.tagOf(digest)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        body: JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.airlock.manifest.v1+json', ...config },
          layers,
        }),
      });
      expect(stored.status).toBe(201);
      const b = new ArtifactStore(path.join(tmp, 'b'), {
        remote: new OciStore(registry.url('team/app')),
      });
      expect(await b.verify(digest)).toMatchObject({ digest, files: 3 });
    } finally {
      await registry.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  },
);
