/**
 * The S3 adapter of the shared artifact store against a real S3-compatible server that runs here
 * without Docker: s3rver (a pinned devDependency, pure JavaScript, on a free 127.0.0.1 port with
 * its storage in a temporary folder). The same contract suite as the OCI registry's. s3rver
 * checks the access key of a Signature Version 4 request but not the signature itself, so the
 * signing is checked against the example AWS publishes in its Signature Version 4 documentation
 * (GET Object).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { parseS3Url, S3Store, signV4 } from '../../src/releases/s3-store.ts';
import { freePort } from '../helpers/local-registry.ts';
import { remoteGcContract } from './remote-gc-contract.ts';
import { newBlobBytes, remoteStoreContract } from './remote-store-contract.ts';

/** s3rver's built-in account. */
const KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

async function startS3(): Promise<{ endpoint: string; dir: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-s3rver-'));
  const port = await freePort();
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory: dir,
    configureBuckets: [{ name: 'airlock-artifacts', configs: [] }],
  });
  await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dir,
    stop: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

remoteStoreContract(
  'S3-compatible bucket (s3rver)',
  async () => {
    const s3 = await startS3();
    const object = (sha: string) =>
      path.join(
        s3.dir,
        'airlock-artifacts',
        'team',
        'app',
        'blobs',
        'sha256',
        `${sha}._S3rver_object`,
      );
    return {
      client: () =>
        new S3Store('s3://airlock-artifacts/team/app', { endpoint: s3.endpoint, ...KEYS }),
      blobs: () => {
        const found = new Set<string>();
        const dir = path.join(s3.dir, 'airlock-artifacts', 'team', 'app', 'blobs', 'sha256');
        for (const name of readdirSync(dir))
          if (name.endsWith('._S3rver_object')) found.add(name.slice(0, 64));
        // The manifest and its pack index are objects of their own.
        for (const name of require('node:fs').readdirSync(
          path.join(dir, '../../artifacts'),
        ) as string[])
          if (name.endsWith('._S3rver_object')) found.add(name);
        return found;
      },
      tamper: (sha) => {
        const bytes = readFileSync(object(sha));
        bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
        writeFileSync(object(sha), bytes);
      },
      stop: () => s3.stop(),
    };
  },
  { extraBlobs: 1, packs: newBlobBytes },
);

it('a bucket refusing the credentials fails with a fix, never showing the secret', async () => {
  const s3 = await startS3();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-s3-denied-'));
  try {
    const url = 's3://airlock-artifacts/app';
    mkdirSync(path.join(tmp, 'build'));
    writeFileSync(path.join(tmp, 'build', 'index.js'), 'console.log(1);\n');
    const built = await new ArtifactStore(path.join(tmp, 'a'), {
      remote: new S3Store(url, { endpoint: s3.endpoint, ...KEYS }),
    }).put(path.join(tmp, 'build'));
    const secret = 'wrong-secret-never-shown';
    const denied = new ArtifactStore(path.join(tmp, 'b'), {
      remote: new S3Store(url, {
        endpoint: s3.endpoint,
        accessKeyId: 'AKIDNOTKNOWNHERE',
        secretAccessKey: secret,
      }),
    });
    const error = await denied.verify(built.digest).catch((e: unknown) => e);
    const shown = JSON.stringify(error) + String((error as Error).message);
    expect(hasCode(error, 'ARTIFACT_STORE_FAILED'), shown).toBe(true);
    expect(shown).toContain('403');
    expect(shown).toContain('AWS_SECRET_ACCESS_KEY');
    expect(shown).not.toContain(secret);
  } finally {
    await s3.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
});

it('s3:// addresses', () => {
  expect(parseS3Url('s3://my-bucket/team/app')).toEqual({
    bucket: 'my-bucket',
    prefix: 'team/app/',
  });
  expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
  expect(() => parseS3Url('s3://key:secret@my-bucket/x')).toThrow(/no credentials/);
});

it('signs as AWS documents it (Signature Version 4: the List Objects and GET Bucket Lifecycle examples)', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: a listing
  // with a query string (as `airlock gc --remote` sends), and a sub-resource without a value.
  const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  const sign = (path: string) =>
    signV4({
      method: 'GET',
      path,
      headers: {
        host: 'examplebucket.s3.amazonaws.com',
        'x-amz-content-sha256': empty,
        'x-amz-date': '20130524T000000Z',
      },
      region: 'us-east-1',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
  const prefix =
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=';
  expect(sign('/?prefix=J&max-keys=2')).toBe(
    `${prefix}34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7`,
  );
  expect(sign('/?lifecycle')).toBe(
    `${prefix}fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543`,
  );
});

remoteGcContract(
  'S3-compatible bucket (s3rver)',
  async () => {
    const s3 = await startS3();
    return {
      client: () =>
        new S3Store('s3://airlock-artifacts/team/gc', { endpoint: s3.endpoint, ...KEYS }),
      stop: () => s3.stop(),
    };
  },
  { removesBlobs: true },
);
