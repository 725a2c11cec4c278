/**
 * The garbage collection every shared artifact store (`RemoteStore.collect`) passes, against each
 * adapter's real server: only artifacts the state names and nothing keeps are removed; what is
 * kept, and what the state does not name (another project's), still pull and verify into an
 * empty store afterwards; a dry run removes nothing; blobs younger than the grace period stay.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { PACK_FILE_MAX, type RemoteStore } from '../../src/releases/remote-transfer.ts';

/** `own.bin` is larger than the files that travel in packs: a blob of its own. */
const OWN_BYTES = PACK_FILE_MAX + 5000;

export function remoteGcContract(
  name: string,
  start: () => Promise<{ client(): RemoteStore; stop(): Promise<void> }>,
  options: { skip?: string | false; removesBlobs: boolean },
): void {
  describe.skipIf(Boolean(options.skip))(
    `shared artifact store garbage collection: ${name}`,
    () => {
      let server: { client(): RemoteStore; stop(): Promise<void> };
      let tmp: string;
      beforeAll(async () => {
        server = await start();
        tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-remote-gc-'));
      });
      afterAll(async () => {
        await server?.stop();
        if (tmp) rmSync(tmp, { recursive: true, force: true });
      });

      /** A build output whose `own.bin` is unique to `salt`, and `shared.js` common to all. */
      const tree = (salt: string): string => {
        const dir = path.join(tmp, `build-${salt}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'shared.js'), 'module.exports = "shared";\n'.repeat(20));
        writeFileSync(
          path.join(dir, 'own.bin'),
          Buffer.concat([Buffer.from(salt), Buffer.alloc(OWN_BYTES, 1)]),
        );
        return dir;
      };
      const store = (machine: string) =>
        new ArtifactStore(path.join(tmp, machine), { remote: server.client() });

      it('removes what the state names and nothing keeps; kept and unknown artifacts still verify', async () => {
        const builder = store('builder');
        const kept = (await builder.put(tree('kept'))).digest;
        const old = (await builder.put(tree('old'))).digest;
        const foreign = (await builder.put(tree('foreign'))).digest;
        const known = new Set([kept, old]);
        const keep = new Set([kept]);

        const dry = await server.client().collect(known, keep, { dryRun: true, graceMs: 0 });
        expect(dry.removed).toEqual([old]);
        expect(dry.kept).toEqual([kept]);
        expect(dry.unknown).toEqual([foreign]);
        await store('after-dry-run').verify(old);

        // The default grace keeps young blobs, even unreferenced ones (a push in progress).
        const young = await server
          .client()
          .collect(new Set([kept, old, foreign]), new Set([kept, foreign]), {
            dryRun: true,
          });
        expect(young.removed).toEqual([old]);
        if (options.removesBlobs) expect(young.blobs).toEqual({ count: 0, bytes: 0 });

        const done = await server.client().collect(known, keep, { graceMs: 0 });
        expect(done.removed).toEqual([old]);
        if (options.removesBlobs) {
          // own.bin of `old` only: shared.js (in a pack of its own) is named by the artifacts
          // that stay.
          expect(done.blobs?.count).toBe(1);
          expect(done.blobs?.bytes).toBe(OWN_BYTES + 'old'.length);
        } else expect(done.blobs).toBeNull();

        const fresh = store('fresh');
        const error = await fresh.verify(old).catch((e: unknown) => e);
        expect(hasCode(error, 'DIGEST_MISMATCH')).toBe(true);
        await fresh.verify(kept);
        await fresh.verify(foreign);
        await fresh.materialize(kept, path.join(tmp, 'kept-copy'));
        expect(await fresh.matches(path.join(tmp, 'kept-copy'), kept)).toBe(true);

        // Nothing left to remove: a second collection removes nothing.
        expect((await server.client().collect(known, keep, { graceMs: 0 })).removed).toEqual([]);
      });
    },
  );
}
