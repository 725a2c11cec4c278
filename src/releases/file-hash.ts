/**
 * Hashing many files fast: files are read concurrently (the I/O runs on libuv's thread pool, the
 * sha256 in OpenSSL), and a **verified cache** remembers the sha256 of read-only files by device,
 * inode, size, mtime and ctime, so a file already verified is not read again until one of those
 * changes (a write, a chmod, a replacement: every one of them changes the ctime or the inode).
 * Only files with no write bit are cached: the store's objects and the links to them (the idea
 * of git's index and of pnpm's store integrity checks).
 */
import { createHash, hash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Files up to this size (bytes) are read whole; larger ones are streamed. */
const WHOLE_FILE_BYTES = 8 * 1024 * 1024;
/** Files read at once. */
export const HASH_CONCURRENCY = 32;

/** sha256 (hex) of a file's bytes. @throws Error (ENOENT, EACCES) from the file system. */
export async function hashFile(file: string, size: number): Promise<string> {
  if (size <= WHOLE_FILE_BYTES) return hash('sha256', await readFile(file), 'hex');
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Runs `fn` over `items` with at most `limit` at once; rejects with the first failure. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The key of a file's cache entry; null when the file may be written (not cacheable). */
function cacheKey(stat: Stats): string | null {
  if (stat.mode & 0o222) return null;
  return `${stat.dev}:${stat.ino}`;
}

/** What must be unchanged for a cached digest to hold. */
function cacheStamp(stat: Stats): string {
  return `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.mode & 0o7777}`;
}

/**
 * A verified cache persisted as JSON (`<home>/artifacts/verified-cache.json`). Entries are hints
 * only: a lost or corrupt file just means files are hashed again. Not shared safely between
 * concurrent writers (the last save wins), which costs only re-hashing.
 */
export class VerifiedCache {
  readonly file: string | null;
  #entries = new Map<string, [string, string]>();
  #loaded = false;
  #dirty = false;

  /** `file` null: in memory only (the runtime daemon, tests). */
  constructor(file: string | null) {
    this.file = file;
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    this.#loaded = true;
    if (!this.file) return;
    try {
      const data = JSON.parse(await readFile(this.file, 'utf8')) as {
        version?: number;
        entries?: Record<string, [string, string]>;
      };
      if (data.version === 1 && data.entries)
        for (const [key, value] of Object.entries(data.entries)) this.#entries.set(key, value);
    } catch {
      // Missing or unreadable: start empty.
    }
  }

  /** Forgets every entry (what `--verify full` does before hashing). */
  async clear(): Promise<void> {
    await this.#load();
    if (this.#entries.size > 0) this.#dirty = true;
    this.#entries.clear();
  }

  /**
   * sha256 of the file at `file` with lstat `stat`: from the cache when its stamp matches,
   * else hashed (and remembered when the file is read-only).
   */
  async digest(file: string, stat: Stats): Promise<string> {
    await this.#load();
    const key = cacheKey(stat);
    if (key) {
      const hit = this.#entries.get(key);
      if (hit && hit[0] === cacheStamp(stat)) return hit[1];
    }
    const sha = await hashFile(file, stat.size);
    if (key) this.remember(stat, sha);
    return sha;
  }

  /** Records that the read-only file with `stat` has sha256 `sha` (just written and hashed). */
  remember(stat: Stats, sha: string): void {
    const key = cacheKey(stat);
    if (!key) return;
    this.#entries.set(key, [cacheStamp(stat), sha]);
    this.#dirty = true;
  }

  /**
   * Renews the entry of a read-only file whose ctime moved at or after `sinceMs` while its size,
   * mtime and mode stayed: a link to it was added or removed by Airlock itself (materializing
   * a copy, collecting garbage), which changes the ctime but not the bytes.
   */
  renew(stat: Stats, sinceMs: number): void {
    const key = cacheKey(stat);
    const hit = key ? this.#entries.get(key) : undefined;
    if (!key || !hit || stat.ctimeMs < sinceMs) return;
    const [size, mtime, , mode] = hit[0].split(':');
    const [nsize, nmtime, , nmode] = cacheStamp(stat).split(':');
    if (size !== nsize || mtime !== nmtime || mode !== nmode) return;
    this.#entries.set(key, [cacheStamp(stat), hit[1]]);
    this.#dirty = true;
  }

  /** Writes the cache when it changed (atomically: a temporary file renamed over it). */
  async save(): Promise<void> {
    if (!this.#dirty || !this.file) return;
    this.#dirty = false;
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFile(
      tmp,
      JSON.stringify({ version: 1, entries: Object.fromEntries(this.#entries) }),
    );
    await rename(tmp, this.file);
  }
}
