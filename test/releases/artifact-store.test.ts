/**
 * The content-addressed store on a real file system: a generated tree of a few hundred files is
 * stored, verified, materialized by links (and by the forced copy fallback), and tampering with
 * an object, a manifest or an environment's copy is refused.
 */
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { hashFileSync, hashFiles, idleCpus } from '../../src/releases/file-hash.ts';
import {
  decodeManifestObjects,
  manifestObjects,
  scanTreeSync,
} from '../../src/releases/manifest.ts';
import { digestTree } from '../../src/releases/tree-digest.ts';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'airlock-store-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let counter = 0;
/** A tree of `files` files in nested folders (a little like node_modules), with a symlink, an executable and an empty folder. */
function makeTree(files = 300, variant = ''): string {
  const dir = path.join(scratch, `tree-${counter++}`);
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, 'node_modules', `pkg-${i % 30}`, i % 2 ? 'lib' : '', `f${i}.js`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `module.exports = ${i}; // ${'x'.repeat(i % 97)}\n`);
  }
  writeFileSync(path.join(dir, 'server.js'), `console.log('hi${variant}')\n`);
  writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n');
  chmodSync(path.join(dir, 'run.sh'), 0o755);
  symlinkSync('node_modules/pkg-1', path.join(dir, 'link'));
  mkdirSync(path.join(dir, 'empty'));
  return dir;
}

const newStore = (mode: 'link' | 'copy' = 'link') =>
  new ArtifactStore(path.join(scratch, `home-${counter++}`, 'artifacts'), { materialize: mode });

describe('ArtifactStore', () => {
  it('stores each file once and keeps the digest a plain tree digest has', async () => {
    const store = newStore();
    const tree = makeTree();
    const stored = await store.put(tree);
    expect(stored).toEqual(await digestTree(tree));
    expect(stored.files).toBe(302);
    // A second release changing one file adds one object and one manifest.
    const objects = () =>
      readdirSync(path.join(store.root, 'objects'), { recursive: true }).filter((f) =>
        statSync(path.join(store.root, 'objects', String(f))).isFile(),
      ).length;
    const before = objects();
    const second = makeTree(300, '-2');
    const stored2 = await store.put(second);
    expect(stored2.digest).not.toBe(stored.digest);
    expect(objects()).toBe(before + 1);
    // Objects are read-only.
    const manifest = await store.manifest(stored.digest);
    const entry = manifest.entries.find((e) => e.path === 'run.sh');
    if (entry?.kind !== 'file') throw new Error('run.sh missing');
    expect(statSync(store.objectPath(entry.sha256, entry.mode)).mode & 0o777).toBe(0o555);
    await expect(store.verify(stored.digest, { full: true })).resolves.toEqual(stored);
  });

  it('materializes by hard links: read-only files sharing the objects, verified', async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree());
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    expect((await digestTree(dest)).digest).toBe(digest);
    const server = statSync(path.join(dest, 'server.js'));
    expect(server.nlink).toBe(2);
    expect(server.mode & 0o222).toBe(0);
    expect(await store.matches(dest, digest)).toBe(true);
  });

  it('works with the copy fallback forced (a file system without links)', async () => {
    const store = newStore('copy');
    const { digest } = await store.put(makeTree());
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    expect((await digestTree(dest)).digest).toBe(digest);
    const server = statSync(path.join(dest, 'server.js'));
    expect(server.nlink).toBe(1);
    expect(server.mode & 0o222).toBe(0);
    // A changed copy is detected even though its object is intact.
    chmodSync(path.join(dest, 'server.js'), 0o644);
    writeFileSync(path.join(dest, 'server.js'), 'tampered', { flag: 'a' });
    expect(await store.matches(dest, digest)).toBe(false);
    await expect(store.verify(digest)).resolves.toMatchObject({ digest });
  });

  // A copy on another file system than the store: every link(2) fails with EXDEV, so the link
  // mode falls back to copies there (what a home on one disk and a deploy folder on another
  // gives). /dev/shm is a tmpfs on Linux; elsewhere the test says what it needs.
  const otherDevice = (() => {
    try {
      const shm = mkdtempSync('/dev/shm/airlock-store-test-');
      if (statSync(shm).dev !== statSync(scratch).dev) return shm;
      rmSync(shm, { recursive: true, force: true });
    } catch {}
    return null;
  })();
  afterAll(() => {
    if (otherDevice) rmSync(otherDevice, { recursive: true, force: true });
  });
  it.skipIf(!otherDevice)(
    'copies where the file system refuses links (another device), and the copy still verifies (needs a writable /dev/shm on another device than the temporary folder)',
    async () => {
      const store = newStore('link');
      const { digest } = await store.put(makeTree());
      const dest = path.join(otherDevice as string, `env-${counter++}`, 'r1');
      await store.materialize(digest, dest);
      expect((await digestTree(dest)).digest).toBe(digest);
      const server = statSync(path.join(dest, 'server.js'));
      expect(server.nlink).toBe(1);
      expect(server.mode & 0o222).toBe(0);
      expect(statSync(path.join(dest, 'run.sh')).mode & 0o111).not.toBe(0);
      expect(await new ArtifactStore(store.root).matches(dest, digest)).toBe(true);
      // A second environment on the store's own device still gets links.
      const linked = path.join(scratch, `env-${counter++}`, 'r1');
      await new ArtifactStore(store.root).materialize(digest, linked);
      expect(statSync(path.join(linked, 'server.js')).nlink).toBe(2);
      await expect(new ArtifactStore(store.root).verify(digest)).resolves.toMatchObject({ digest });
    },
  );

  it('refuses a store object written through a link, even with a warm verified cache', async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree());
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    await store.verify(digest); // the cache is warm now
    // Write through the environment's hard link: the object changes too.
    const file = path.join(dest, 'node_modules', 'pkg-3', 'lib', 'f3.js');
    chmodSync(file, 0o644);
    writeFileSync(file, 'module.exports = 666;\n');
    chmodSync(file, 0o444);
    await expect(store.verify(digest)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('node_modules/pkg-3/lib/f3.js'),
    });
    expect(await store.matches(dest, digest)).toBe(false);
    // A new command reads the objects from the binary index (no paths decoded) and still names
    // the file.
    await expect(new ArtifactStore(store.root).verify(digest)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('node_modules/pkg-3/lib/f3.js: its object'),
    });
  });

  it('counts idle CPUs as a number no larger than the CPUs there are', () => {
    const idle = idleCpus();
    expect(Number.isFinite(idle)).toBe(true);
    expect(idle).toBeLessThanOrEqual(os.availableParallelism());
  });

  it('hashes many files on several threads, each with its own digest, an unreadable one as an error', async () => {
    const { files } = scanTreeSync(makeTree(400));
    const list = files.map((f) => ({ file: f.full, size: f.stat.size }));
    list.splice(123, 0, { file: path.join(scratch, 'missing-file'), size: 10 });
    const hashed = await hashFiles(list, { threads: 3 });
    expect(hashed[123]).toBe('error:ENOENT');
    hashed.forEach((sha, i) => {
      if (i !== 123) expect(sha).toBe(hashFileSync(list[i]?.file as string, 0));
    });
  });

  it('refuses a modified object in a full verification (every file hashed again)', async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree(400));
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    const file = path.join(dest, 'node_modules', 'pkg-17', 'lib', 'f377.js');
    const before = statSync(file);
    chmodSync(file, 0o644);
    writeFileSync(file, readFileSync(file, 'utf8').replace('377', '378'));
    chmodSync(file, 0o444);
    expect(statSync(file).size).toBe(before.size);
    await expect(
      new ArtifactStore(store.root).verify(digest, { full: true }),
    ).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('node_modules/pkg-17/lib/f377.js'),
    });
  });

  it('refuses a replaced or added file in a materialized copy', async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree());
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    const copy = `${dest}-b`;
    cpSync(dest, copy, { recursive: true, verbatimSymlinks: true });
    expect(await store.matches(copy, digest)).toBe(true);
    // Replaced (a new inode with other bytes), same size and mode.
    rmSync(path.join(dest, 'server.js'));
    writeFileSync(path.join(dest, 'server.js'), "console.log('ho')\n", { mode: 0o444 });
    expect(await store.matches(dest, digest)).toBe(false);
    writeFileSync(path.join(copy, 'extra.txt'), 'x');
    expect(await store.matches(copy, digest)).toBe(false);
    // Materializing again over the changed copy restores it.
    await store.materialize(digest, dest);
    expect(await store.matches(dest, digest)).toBe(true);
  });

  it("checks a copy again from its folders' listing, and still refuses any change to it", async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree());
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await store.materialize(digest, dest);
    // Beside the copy, not inside it: the copy digests as the artifact.
    expect(readFileSync(`${dest}.listing`, 'utf8')).toContain(digest);
    const fresh = () => new ArtifactStore(store.root); // a later command
    expect(await fresh().matches(dest, digest)).toBe(true);
    const f4 = path.join(dest, 'node_modules', 'pkg-4', 'f4.js');
    const f4Bytes = readFileSync(f4);
    const changes: Array<[string, () => void, () => void]> = [
      [
        'a file added to a folder that holds only folders',
        () => writeFileSync(path.join(dest, 'node_modules', 'extra.js'), 'x'),
        () => rmSync(path.join(dest, 'node_modules', 'extra.js')),
      ],
      [
        'a file added to the empty folder',
        () => writeFileSync(path.join(dest, 'empty', 'x'), ''),
        () => rmSync(path.join(dest, 'empty', 'x')),
      ],
      [
        'a file written in place (mode and size kept)',
        () => {
          chmodSync(f4, 0o644);
          writeFileSync(f4, Buffer.from(f4Bytes.toString('utf8').replace('4', '5')));
          chmodSync(f4, 0o444);
        },
        () => {
          chmodSync(f4, 0o644);
          writeFileSync(f4, f4Bytes);
          chmodSync(f4, 0o444);
        },
      ],
    ];
    for (const [what, change] of changes) {
      change();
      expect(await fresh().matches(dest, digest), what).toBe(false);
    }
    // A copy that did not match gets no new listing: it stays refused.
    expect(await fresh().matches(dest, digest)).toBe(false);
    // Written through a link, the store's object changed too: a copy made again by this command
    // (which verified the store before) is refused until the bytes are back.
    await store.materialize(digest, dest);
    expect(await fresh().matches(dest, digest)).toBe(false);
    changes[2]?.[2](); // the object's bytes back (a new mtime: hashed again)
    // A damaged listing is only a hint: the copy is listed and digested.
    await store.materialize(digest, dest);
    writeFileSync(`${dest}.listing`, '{');
    expect(await fresh().matches(dest, digest)).toBe(true);
    rmSync(path.join(dest, 'server.js'));
    expect(await fresh().matches(dest, digest)).toBe(false);
  });

  it('reads a checked manifest from its binary index, and never from a changed one', async () => {
    const store = newStore();
    const tree = makeTree(40);
    // Two more files with server.js's bytes: one store object for the three.
    for (const copy of ['a-server.js', 'z-server.js'])
      writeFileSync(path.join(tree, copy), readFileSync(path.join(tree, 'server.js')));
    const { digest } = await store.put(tree);
    const expected = await store.manifest(digest);
    const index = store.manifestPath(digest).replace(/\.json\.gz$/, '.idx');
    expect(statSync(index).mode & 0o777).toBe(0o444);
    const indexed = await new ArtifactStore(store.root).manifest(digest);
    expect({ ...indexed, repeats: undefined }).toEqual(expected);
    // The index marks each file whose object an earlier file has (checked once per object).
    const files = indexed.entries.filter((e) => e.kind === 'file');
    const marked = files.filter((_, k) => indexed.repeats?.[k] === 1).map((e) => e.path);
    expect(marked).toEqual(['server.js', 'z-server.js']);
    // What a verification reads of the index alone: the same objects, sizes, modes and repeats.
    expect(decodeManifestObjects(readFileSync(index))).toEqual(manifestObjects(indexed));
    expect(manifestObjects(expected).repeats).toEqual(indexed.repeats);
    // A fresh command verifies and links from the index: the copy matches, and every object's
    // verified-cache entry still holds after its new links (nothing is hashed again).
    const later = new ArtifactStore(store.root);
    const dest = path.join(scratch, `env-${counter++}`, 'r1');
    await later.materialize(digest, dest);
    const after = new ArtifactStore(store.root);
    for (const file of files)
      expect(
        after.cache.lookup(statSync(after.objectPath(file.sha256, file.mode))),
        file.path,
      ).toBe(file.sha256);
    expect(await new ArtifactStore(store.root).matches(dest, digest)).toBe(true);
    // An index edited to name another file: not the one the verified cache knows, so ignored.
    const bytes = readFileSync(index);
    const at = bytes.indexOf('server.js');
    bytes.write('SERVER.js', at);
    chmodSync(index, 0o644);
    writeFileSync(index, bytes);
    chmodSync(index, 0o444);
    const fresh = new ArtifactStore(store.root);
    expect(await fresh.manifest(digest)).toEqual(expected);
    await expect(fresh.verify(digest)).resolves.toMatchObject({ digest, files: 44 });
  });

  it('verifies from inside its objects folder and gives the working directory back, also on a refusal', async () => {
    const home = `home-${counter++}`;
    const before = process.cwd();
    process.chdir(scratch);
    try {
      // A store opened with a relative root, as `new ArtifactStore('.airlock/artifacts')`.
      const store = new ArtifactStore(path.join(home, 'artifacts'));
      const { digest } = await store.put(makeTree());
      await store.verify(digest);
      expect(process.cwd()).toBe(scratch);
      // A new command's warm verification finds every object in the cache: nothing is hashed,
      // so the cache file is not written again.
      const cacheFile = path.join(scratch, home, 'artifacts', 'verified-cache.bin');
      const written = statSync(cacheFile).mtimeMs;
      await new ArtifactStore(path.join(home, 'artifacts')).verify(digest);
      expect(statSync(cacheFile).mtimeMs).toBe(written);
      const manifest = await store.manifest(digest);
      const entry = manifest.entries.find((e) => e.kind === 'file');
      if (entry?.kind !== 'file') throw new Error('no file');
      rmSync(store.objectPath(entry.sha256, entry.mode));
      await expect(
        new ArtifactStore(path.join(home, 'artifacts')).verify(digest),
      ).rejects.toMatchObject({
        code: 'DIGEST_MISMATCH',
        message: expect.stringContaining(
          `its object ${path.join(scratch, home, 'artifacts', 'objects')}`,
        ),
      });
      expect(process.cwd()).toBe(scratch);
    } finally {
      process.chdir(before);
    }
  });

  it('refuses a modified manifest and a missing object', async () => {
    const store = newStore();
    const { digest } = await store.put(makeTree());
    const file = store.manifestPath(digest);
    const data = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
    data.entries[0][1] = `${data.entries[0][1]}x`;
    chmodSync(file, 0o644);
    writeFileSync(file, gzipSync(JSON.stringify(data)));
    const fresh = new ArtifactStore(store.root);
    await expect(fresh.verify(digest)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('manifest'),
    });

    const other = newStore();
    const stored = await other.put(makeTree());
    const manifest = await other.manifest(stored.digest);
    const entry = manifest.entries.find((e) => e.kind === 'file');
    if (entry?.kind !== 'file') throw new Error('no file');
    rmSync(other.objectPath(entry.sha256, entry.mode));
    await expect(other.verify(stored.digest)).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining('missing'),
    });
  });

  it('adopts an artifact stored by an earlier version as a plain folder, and refuses a changed one', async () => {
    const store = newStore();
    const tree = makeTree(50);
    const { digest } = await digestTree(tree);
    cpSync(tree, store.pathOf(digest), { recursive: true, verbatimSymlinks: true });
    await expect(store.verify(digest)).resolves.toMatchObject({ digest, files: 52 });
    expect(statSync(store.manifestPath(digest)).isFile()).toBe(true);
    // Migrations are read from a view made of links.
    const view = await store.view(digest);
    expect((await digestTree(view)).digest).toBe(digest);

    const changed = newStore();
    cpSync(tree, changed.pathOf(digest), { recursive: true, verbatimSymlinks: true });
    writeFileSync(path.join(changed.pathOf(digest), 'server.js'), 'tampered');
    await expect(changed.verify(digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('collects what is not kept, and reports freed bytes', async () => {
    const store = newStore();
    const a = await store.put(makeTree(100));
    const b = await store.put(makeTree(100, '-b'));
    const freed = await store.collect(new Set([b.digest]));
    expect(freed.artifacts).toEqual([a.digest]);
    expect(freed.objects).toBe(1);
    expect(freed.bytes).toBeGreaterThan(0);
    await expect(store.verify(b.digest, { full: true })).resolves.toMatchObject(b);
    await expect(store.verify(a.digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});
