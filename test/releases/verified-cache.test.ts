/**
 * The verified cache on disk: entries written in inode order are found again by binary search
 * after a reload, entries added after a load are found too, a file in the earlier unordered
 * layout (or one whose order is damaged) is still read, and a changed file never matches.
 */
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VerifiedCache } from '../../src/releases/file-hash.ts';

let dir: string;
let cacheFile: string;
const sha = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

/** `count` read-only files, each with its stat. */
function files(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `f${i}`);
    writeFileSync(file, `file ${i}\n`);
    chmodSync(file, 0o444);
    return { file, stat: lstatSync(file), sha: sha(i) };
  });
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-verified-cache-'));
  cacheFile = path.join(dir, 'verified-cache.bin');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('VerifiedCache', () => {
  it('finds every entry after a reload, and entries added after the load', async () => {
    const all = files(40);
    const first = new VerifiedCache(cacheFile);
    // Remembered out of inode order: the file is written sorted.
    for (const f of [...all.slice(0, 30)].reverse()) first.remember(f.stat, f.sha);
    await first.save();
    const data = readFileSync(cacheFile);
    expect(data.readUInt32LE(8)).toBe(30);
    expect(data.readUInt32LE(12)).toBe(1);

    const second = new VerifiedCache(cacheFile);
    for (const f of all.slice(0, 30)) expect(second.lookup(f.stat)).toBe(f.sha);
    for (const f of all.slice(30)) expect(second.lookup(f.stat)).toBeNull();
    for (const f of all.slice(30)) second.remember(f.stat, f.sha);
    // A known inode is overwritten in place, not added twice.
    second.remember(all[0]?.stat as never, sha(99));
    for (const f of all.slice(1)) expect(second.lookup(f.stat)).toBe(f.sha);
    expect(second.lookup(all[0]?.stat as never)).toBe(sha(99));
    await second.save();
    expect(readFileSync(cacheFile).readUInt32LE(8)).toBe(40);
    const third = new VerifiedCache(cacheFile);
    for (const f of all.slice(1)) expect(third.lookup(f.stat)).toBe(f.sha);

    // Changed only in place (what a command that links objects does): written as loaded, still
    // in inode order, with the changes.
    third.remember(all[1]?.stat as never, sha(98));
    third.renew(all[2]?.stat as never, 0);
    await third.save();
    const rewritten = readFileSync(cacheFile);
    expect(rewritten.length).toBe(16 + 40 * (56 + 32));
    expect(rewritten.readUInt32LE(8)).toBe(40);
    expect(rewritten.readUInt32LE(12)).toBe(1);
    const inodes = Array.from({ length: 40 }, (_, k) => rewritten.readDoubleLE(16 + k * 56 + 8));
    expect(inodes).toEqual([...inodes].sort((a, b) => a - b));
    const fourth = new VerifiedCache(cacheFile);
    expect(fourth.lookup(all[1]?.stat as never)).toBe(sha(98));
    for (const f of all.slice(2)) expect(fourth.lookup(f.stat)).toBe(f.sha);
  });

  it('reads a file in the earlier unordered layout, and one whose order is damaged', async () => {
    const all = files(12);
    const cache = new VerifiedCache(cacheFile);
    for (const f of all) cache.remember(f.stat, f.sha);
    await cache.save();
    const data = readFileSync(cacheFile);
    const count = data.readUInt32LE(8);
    // Swap the first two records (numbers and digests): out of inode order.
    const numbers = (k: number) => data.subarray(16 + k * 56, 16 + (k + 1) * 56);
    const digest = (k: number) =>
      data.subarray(16 + count * 56 + k * 32, 16 + count * 56 + (k + 1) * 32);
    const [n0, n1, d0, d1] = [
      Buffer.from(numbers(0)),
      Buffer.from(numbers(1)),
      Buffer.from(digest(0)),
      Buffer.from(digest(1)),
    ];
    n1.copy(numbers(0));
    n0.copy(numbers(1));
    d1.copy(digest(0));
    d0.copy(digest(1));
    for (const flag of [0, 1]) {
      data.writeUInt32LE(flag, 12);
      writeFileSync(cacheFile, data);
      const reloaded = new VerifiedCache(cacheFile);
      for (const f of all) expect(reloaded.lookup(f.stat)).toBe(f.sha);
    }
  });

  it('never matches a file whose stamp moved, and forgets everything on clear', async () => {
    const [f] = files(1);
    if (!f) throw new Error('no file');
    const cache = new VerifiedCache(cacheFile);
    cache.remember(f.stat, f.sha);
    await cache.save();
    chmodSync(f.file, 0o644);
    writeFileSync(f.file, 'changed\n');
    chmodSync(f.file, 0o444);
    expect(new VerifiedCache(cacheFile).lookup(lstatSync(f.file))).toBeNull();
    const cleared = new VerifiedCache(cacheFile);
    await cleared.clear();
    expect(cleared.lookup(f.stat)).toBeNull();
    await cleared.save();
    expect(new VerifiedCache(cacheFile).lookup(f.stat)).toBeNull();
  });

  it('keeps an entry valid for the ctimes links made in a window give it, and no other change', async () => {
    const [f, g] = files(2);
    if (!f || !g) throw new Error('no file');
    const cache = new VerifiedCache(cacheFile);
    cache.remember(f.stat, f.sha);
    cache.remember(g.stat, g.sha);
    // Kernel times around the links: ctimes of files made just before and just after.
    const clock = (name: string) => {
      writeFileSync(path.join(dir, name), '');
      return lstatSync(path.join(dir, name)).ctimeMs;
    };
    const fromMs = clock('before');
    linkSync(f.file, path.join(dir, 'f-link'));
    linkSync(g.file, path.join(dir, 'g-link'));
    const toMs = clock('after');
    expect(cache.lookup(lstatSync(f.file))).toBeNull(); // a link moved the ctime
    cache.relinked(f.stat.ino, fromMs, toMs);
    await cache.save();
    const reloaded = new VerifiedCache(cacheFile);
    expect(reloaded.lookup(lstatSync(f.file))).toBe(f.sha);
    expect(reloaded.lookup(lstatSync(g.file))).toBeNull(); // not renewed
    // A later write (mode kept, mtime set back, size kept) moves the ctime past the window.
    const before = lstatSync(f.file);
    chmodSync(f.file, 0o644);
    writeFileSync(f.file, readFileSync(f.file, 'utf8').replace('file', 'FILE'));
    chmodSync(f.file, 0o444);
    utimesSync(f.file, before.atimeMs / 1000, before.mtimeMs / 1000);
    const written = lstatSync(f.file);
    expect(written.mtimeMs).toBe(before.mtimeMs);
    expect(written.size).toBe(before.size);
    expect(new VerifiedCache(cacheFile).lookup(written)).toBeNull();
    // Remembered again after hashing: an exact ctime once more, the window gone.
    reloaded.remember(written, g.sha);
    expect(reloaded.lookup(written)).toBe(g.sha);
    expect(reloaded.lookup({ ...written, ctimeMs: fromMs } as never)).toBeNull();
  });
});
