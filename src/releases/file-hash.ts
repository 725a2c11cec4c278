/**
 * Hashing many files fast: the store reads and hashes synchronously (see `hashFiles` for the
 * measurements; the runtime, which serves traffic meanwhile, reads concurrently without blocking),
 * and a **verified cache** remembers the sha256 of read-only files by device,
 * inode, size, mtime and ctime, so a file already verified is not read again until one of those
 * changes (a write, a chmod, a replacement: every one of them changes the ctime or the inode).
 * Only files with no write bit are cached: the store's objects and the links to them (the idea
 * of git's index and of pnpm's store integrity checks).
 */
import { createHash, hash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync, type Stats } from 'node:fs';
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

/**
 * sha256 (hex) of a file's bytes, read synchronously: for the store, whose loops over thousands
 * of small files are several times faster without a promise per system call.
 * @throws Error (ENOENT, EACCES) from the file system.
 */
export function hashFileSync(file: string, size: number): string {
  if (size <= WHOLE_FILE_BYTES) return hash('sha256', readFileSync(file), 'hex');
  const h = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer))
      h.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * sha256 of many files, read and hashed one after the other on this thread. Measured on the
 * real-size bench tree (6 800 files, 57 MB, 2 CPUs): this loop took 485–1 341 ms where the same
 * files on two worker threads took 1 217–1 902 ms (start-up and scheduling on a busy machine)
 * and concurrent asynchronous reads about 1.9× a single `sha256sum`: small files cost system
 * calls, not hashing. A file that cannot be read gives `error:<code>` (which matches no digest).
 */
export async function hashFiles(
  files: ReadonlyArray<{ file: string; size: number }>,
): Promise<string[]> {
  return files.map((f) => {
    try {
      return hashFileSync(f.file, f.size);
    } catch (error) {
      return `error:${(error as NodeJS.ErrnoException).code}`;
    }
  });
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
    this.#loadSync();
  }

  #loadSync(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    if (!this.file) return;
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as {
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

  /** {@link digest}, synchronously (see {@link hashFileSync}). */
  digestSync(file: string, stat: Stats): string {
    this.#loadSync();
    const key = cacheKey(stat);
    if (key) {
      const hit = this.#entries.get(key);
      if (hit && hit[0] === cacheStamp(stat)) return hit[1];
    }
    const sha = hashFileSync(file, stat.size);
    if (key) this.remember(stat, sha);
    return sha;
  }

  /**
   * The cached sha256 of the file with lstat `stat`, or null when it must be hashed.
   */
  lookup(stat: Stats): string | null {
    this.#loadSync();
    const key = cacheKey(stat);
    const hit = key ? this.#entries.get(key) : undefined;
    return hit && hit[0] === cacheStamp(stat) ? hit[1] : null;
  }

  /** Records that the read-only file with `stat` has sha256 `sha` (just written and hashed). */
  remember(stat: Stats, sha: string): void {
    this.#loadSync();
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
    this.#loadSync();
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
