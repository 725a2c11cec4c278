/**
 * The contract every shared artifact store (`RemoteStore`) passes, run against each adapter's
 * real server (an OCI registry; an S3-compatible server, or a FAKE labelled as such where none
 * runs here): a push from one machine's store, a pull into an empty store on another that
 * verifies, a tampered blob refused naming its digest, a second artifact that changes one file
 * sending only that file's bytes, and two machines pushing the same artifact at once.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { type Manifest, serializeManifest } from '../../src/releases/manifest.ts';
import {
  type PlannedPack,
  planLayers,
  type RemoteStore,
} from '../../src/releases/remote-transfer.ts';

export interface RemoteUnderTest {
  /** A fresh client (one per "machine"); `sent()` tells the bytes of bodies it sent. */
  client(): RemoteStore & { sentBytes: number };
  /** sha256s of the file blobs the server holds. */
  blobs(): Set<string>;
  /** Replaces a stored blob's bytes with others of the same length. */
  tamper(sha: string): void;
  stop(): Promise<void>;
}

export /** Bytes of the blobs (packs, large files) `second` needs that `first` did not have. */
function newBlobBytes(first: Manifest, second: Manifest): number {
  const key = (p: PlannedPack) => p.members.map((m) => m.sha).join();
  const before = planLayers(first);
  const packs = new Set(before.packs.map(key));
  const files = new Set(before.files.map((f) => f.sha));
  const after = planLayers(second);
  return (
    after.packs.filter((p) => !packs.has(key(p))).reduce((n, p) => n + p.size, 0) +
    after.files.filter((f) => !files.has(f.sha)).reduce((n, f) => n + f.size, 0)
  );
}

export function remoteStoreContract(
  name: string,
  start: () => Promise<RemoteUnderTest>,
  options: {
    skip?: string | false;
    /** Blobs of the adapter's own per artifact (an OCI registry keeps its manifest as one). */
    extraBlobs?: number;
    /**
     * Small files travel in packs: a one-file change makes the new content's pack and, when the
     * old content shared its pack, that pack without it. Tells the bytes of the blobs the second
     * artifact needs that the first did not have (without: the changed file's).
     */
    packs?: (first: Manifest, second: Manifest) => number;
  } = {},
): void {
  const { extraBlobs } = options;
  describe.skipIf(Boolean(options.skip))(`shared artifact store contract: ${name}`, () => {
    let server: RemoteUnderTest;
    let tmp: string;
    beforeAll(async () => {
      server = await start();
      tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-remote-contract-'));
    });
    afterAll(async () => {
      await server?.stop();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    /** A build output of 43 files; `salt` makes its large file (and so its digest) its own. */
    const tree = (salt: string): string => {
      const source = path.join(tmp, `build-${salt}`);
      mkdirSync(path.join(source, 'lib'), { recursive: true });
      for (let i = 0; i < 40; i++)
        writeFileSync(path.join(source, 'lib', `m${i}.js`), `module.exports = ${i};\n`.repeat(50));
      writeFileSync(
        path.join(source, 'big.bin'),
        Buffer.concat([Buffer.from(salt), Buffer.alloc(300_000, 7)]),
      );
      writeFileSync(path.join(source, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
      writeFileSync(path.join(source, 'lib', 'copy.js'), 'module.exports = 0;\n'.repeat(50));
      return source;
    };

    const store = (machine: string, remote: RemoteStore) =>
      new ArtifactStore(path.join(tmp, machine), { remote });

    it('pushes from one store and pulls into an empty one, verified, with the same digest', async () => {
      const a = store('a', server.client());
      const built = await a.put(tree('pull'));
      const first = built.digest;
      const b = store('b', server.client());
      expect(b.has(first)).toBe(false);
      const verified = await b.verify(first);
      expect(verified).toEqual(built);
      expect(await a.manifest(first)).toEqual(await b.manifest(first));
      // Every object on B is the bytes built on A (the copy made from them digests right).
      await b.materialize(first, path.join(tmp, 'b-copy'));
      expect(await b.matches(path.join(tmp, 'b-copy'), first)).toBe(true);
    });

    it('a second artifact that changes one file sends only that file', async () => {
      const source = tree('second');
      const first = await store('a2', server.client()).put(source);
      const before = server.blobs();
      writeFileSync(path.join(source, 'lib', 'm7.js'), 'module.exports = "seven";\n');
      const client = server.client();
      const second = await store('a2', client).put(source);
      const added = [...server.blobs()].filter((sha) => !before.has(sha));
      const changed = (await store('a2', client).manifest(second.digest)).entries.find(
        (e) => e.kind === 'file' && e.path === 'lib/m7.js',
      );
      // The changed file's blob (or pack) and the new manifest, nothing else (an OCI registry
      // also keeps its own manifest as a blob: allowed for by `extraBlobs`).
      if (!options.packs)
        expect(added).toContain(changed?.kind === 'file' ? changed.sha256 : 'none');
      expect(added.length).toBeGreaterThanOrEqual(2 + (extraBlobs ?? 0));
      expect(added.length).toBeLessThanOrEqual(2 + (extraBlobs ?? 0) + (options.packs ? 1 : 0));
      // Bytes sent: the changed file (or its packs), the new manifest, and the adapter's own
      // listing of the blobs (an OCI manifest: under 200 bytes a file); none of the 340 KB that
      // did not change.
      const manifest = await store('a2', client).manifest(second.digest);
      const manifestBytes = Buffer.byteLength(serializeManifest(manifest));
      const changedBytes = changed?.kind === 'file' ? changed.size : Number.NaN;
      const newBytes = options.packs
        ? options.packs(await store('a2', client).manifest(first.digest), manifest)
        : changedBytes;
      expect(newBytes).toBeGreaterThanOrEqual(changedBytes);
      expect(client.sentBytes).toBeGreaterThanOrEqual(newBytes + manifestBytes);
      expect(client.sentBytes - newBytes - manifestBytes).toBeLessThan(200 * manifest.files);
      expect(client.sentBytes).toBeLessThan(manifest.bytes / 10);
      // B, which holds the first, pulls only what it lacks.
      const pulled = server.client();
      const b = new ArtifactStore(path.join(tmp, 'b2'), {
        remote: pulled,
        onTransfer: ({ stats }) => moved.push(stats.moved),
      });
      const moved: number[] = [];
      await b.verify(first.digest);
      await b.verify(second.digest);
      expect(moved[1]).toBe(2);
    });

    it('two machines pushing the same artifact at once both succeed', async () => {
      const source = tree('race');
      const [x, y] = await Promise.all([
        store('c', server.client()).put(source),
        store('d', server.client()).put(source),
      ]);
      expect(x.digest).toBe(y.digest);
      await store('e', server.client()).verify(x.digest);
    });

    it('a tampered blob is refused, naming its digest, and nothing of it is kept', async () => {
      const a = store('a4', server.client());
      const first = (await a.put(tree('tamper'))).digest;
      const manifest = await a.manifest(first);
      const file = manifest.entries.find((e) => e.kind === 'file' && e.path === 'big.bin');
      if (file?.kind !== 'file') throw new Error('no big.bin');
      server.tamper(file.sha256);
      const fresh = store('f', server.client());
      const error = await fresh.verify(first).catch((e: unknown) => e);
      expect(hasCode(error, 'DIGEST_MISMATCH')).toBe(true);
      expect((error as Error).message).toContain(`sha256:${file.sha256}`);
      expect(fresh.has(first)).toBe(false);
    });
  });
}
