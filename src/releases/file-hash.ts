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
import { availableParallelism, loadavg } from 'node:os';
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

/** Fewer files than this (or a machine with one CPU) are hashed on the calling thread alone. */
const PARALLEL_MIN_FILES = 256;
/** Files a thread claims at once from the shared list. */
const CLAIM = 32;

/**
 * Reads `size` bytes of `file` into `buffer` (grown when too small) with one `read` per call:
 * open, read, close, no `fstat` (the caller stated the file). A file shorter than `size` gives
 * fewer bytes, so its digest cannot match.
 */
function readKnownSize(file: string, size: number, buffer: { bytes: Buffer }): Buffer {
  if (buffer.bytes.length < size)
    buffer.bytes = Buffer.allocUnsafe(Math.max(size, buffer.bytes.length * 2));
  const fd = openSync(file, 'r');
  try {
    let read = 0;
    for (let n = 1; read < size && n > 0; read += n)
      n = readSync(fd, buffer.bytes, read, size - read, read);
    return buffer.bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/**
 * The worker's loop, as source (a worker started from a string starts in a few ms: no module to
 * resolve or compile). It claims `CLAIM` files at a time from the shared counter, writes each
 * file's 32-byte sha256 into the shared result, and posts the errno codes of files it could not
 * read.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { hash, createHash } = require('node:crypto');
const { files, sizes, counter, out, claim, whole } = workerData;
const next = new Int32Array(counter);
const result = new Uint8Array(out);
let bytes = Buffer.allocUnsafe(1 << 20);
const errors = {};
for (let start = Atomics.add(next, 0, claim); start < files.length; start = Atomics.add(next, 0, claim)) {
  for (let i = start; i < Math.min(start + claim, files.length); i++) {
    try {
      const size = sizes[i];
      let digest;
      const fd = openSync(files[i], 'r');
      try {
        if (size <= whole) {
          if (bytes.length < size) bytes = Buffer.allocUnsafe(Math.max(size, bytes.length * 2));
          let read = 0;
          for (let n = 1; read < size && n > 0; read += n) n = readSync(fd, bytes, read, size - read, read);
          digest = hash('sha256', bytes.subarray(0, read), 'buffer');
        } else {
          const h = createHash('sha256');
          for (let n = readSync(fd, bytes); n > 0; n = readSync(fd, bytes)) h.update(bytes.subarray(0, n));
          digest = h.digest();
        }
      } finally {
        closeSync(fd);
      }
      result.set(digest, i * 32);
    } catch (error) {
      errors[i] = error.code || 'EIO';
    }
  }
}
parentPort.postMessage(errors);
`;

/**
 * sha256 (hex) of many files (`size`: bytes, as stated by the caller), on every idle CPU: the
 * calling thread and one worker thread per further CPU idle at that instant (at most 3)
 * claim files from one shared list, so a slow file or a busy CPU holds no one up. Each file costs open, one read and
 * close (no `fstat`). Below 256 files, or on one CPU, the calling thread hashes alone (a worker
 * takes a few ms to start). A file that cannot be read gives `error:<code>` (which matches no
 * digest).
 */
export async function hashFiles(
  files: ReadonlyArray<{ file: string; size: number }>,
  options: {
    /** Threads, the calling one included (tests); default: the CPUs idle now ({@link idleCpus}). */
    threads?: number;
  } = {},
): Promise<string[]> {
  // CPUs the machine leaves idle (make's `-l`): on a busy machine extra threads only compete.
  const threads = options.threads ?? Math.min(4, Math.max(1, Math.round(idleCpus())));
  if (files.length < PARALLEL_MIN_FILES || threads < 2) {
    const buffer = { bytes: Buffer.allocUnsafe(1 << 20) };
    return files.map((f) => {
      try {
        return f.size <= WHOLE_FILE_BYTES
          ? hash('sha256', readKnownSize(f.file, f.size, buffer), 'hex')
          : hashFileSync(f.file, f.size);
      } catch (error) {
        return `error:${(error as NodeJS.ErrnoException).code}`;
      }
    });
  }
  const counter = new SharedArrayBuffer(4);
  const out = new SharedArrayBuffer(files.length * 32);
  const workerData = {
    files: files.map((f) => f.file),
    sizes: files.map((f) => f.size),
    counter,
    out,
    claim: CLAIM,
    whole: WHOLE_FILE_BYTES,
  };
  const errors: Record<number, string> = {};
  const workers = Array.from({ length: threads - 1 }, () => {
    // Loaded when files must be hashed on several threads (a warm command hashes nothing).
    const { Worker } = process.getBuiltinModule('node:worker_threads');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    return new Promise<void>((resolve, reject) => {
      worker.once('message', (codes: Record<number, string>) => {
        Object.assign(errors, codes);
        resolve();
      });
      worker.once('error', reject);
      worker.once('exit', () => resolve());
    });
  });
  // This thread takes its share meanwhile.
  const next = new Int32Array(counter);
  const result = new Uint8Array(out);
  const buffer = { bytes: Buffer.allocUnsafe(1 << 20) };
  for (
    let start = Atomics.add(next, 0, CLAIM);
    start < files.length;
    start = Atomics.add(next, 0, CLAIM)
  ) {
    for (let i = start; i < Math.min(start + CLAIM, files.length); i++) {
      const f = files[i] as { file: string; size: number };
      try {
        const digest =
          f.size <= WHOLE_FILE_BYTES
            ? hash('sha256', readKnownSize(f.file, f.size, buffer), 'buffer')
            : Buffer.from(hashFileSync(f.file, f.size), 'hex');
        result.set(digest, i * 32);
      } catch (error) {
        errors[i] = (error as NodeJS.ErrnoException).code ?? 'EIO';
      }
    }
  }
  await Promise.all(workers);
  const bytes = Buffer.from(out);
  return files.map((_, i) =>
    errors[i] !== undefined ? `error:${errors[i]}` : bytes.toString('hex', i * 32, i * 32 + 32),
  );
}

/**
 * CPUs idle right now: on Linux, the CPUs minus the tasks runnable at this instant other than
 * the caller (`/proc/loadavg`'s fourth field); elsewhere, minus the 1-minute load average, which
 * lags: right after a build (what precedes storing and verifying a release) it still counts CPUs
 * that are idle again, and a verification would hash on one thread.
 */
export function idleCpus(): number {
  try {
    const runnable = Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[3]?.split('/')[0]);
    if (Number.isInteger(runnable)) return availableParallelism() - Math.max(0, runnable - 1);
  } catch {
    // Not Linux: the load average below.
  }
  return availableParallelism() - (loadavg()[0] ?? 0);
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

/**
 * Numbers per entry: dev, ino, size, mtimeMs, ctimeMs, mode, and the end of a ctime window (ms;
 * 0: the ctime must equal ctimeMs; else any ctime in [ctimeMs, end] holds, see `relinked`).
 */
const FIELDS = 7;
/** Bytes of one entry on disk: its numbers (float64, in the block of numbers) and its 32-byte sha256 (in the block of digests). */
const RECORD = FIELDS * 8 + 32;
/** First bytes of the cache file (format 2: binary records). */
const MAGIC = Buffer.from('ALVC0004');
/** The header's flags word (bytes 12–15): records in increasing inode order (earlier files: 0). */
const SORTED_BY_INODE = 1;

/**
 * A verified cache persisted as fixed-size binary records (`<home>/artifacts/verified-cache.bin`):
 * per file, its device, inode, size, mtime, ctime (or a window of ctimes) and mode, and the sha256
 * its bytes had, in inode
 * order. Loading it is one read (no parsing, no index to build: a lookup is a binary search by
 * inode), and a lookup compares numbers: a warm
 * verification of thousands of files costs about one `lstat` per file. Entries are hints only: a
 * lost or corrupt file just means files are hashed again. Only read-only files are cached. Not
 * shared safely between concurrent writers (the last save wins), which costs only re-hashing.
 */
export class VerifiedCache {
  readonly file: string | null;
  /** Entry numbers, FIELDS per slot. */
  #nums: Float64Array<ArrayBufferLike> = new Float64Array(FIELDS * 1024);
  /** Entry digests, 32 bytes per slot. */
  #shas: Buffer<ArrayBufferLike> = Buffer.alloc(32 * 1024);
  #count = 0;
  /**
   * Slots `[0, #sorted)` are in inode order, as the file keeps them: found by binary search, so
   * loading builds no index (thousands of map insertions on every command's first lookup).
   */
  #sorted = 0;
  /** inode → slot, for the slots after `#sorted` (added since the load, or an unsorted file). */
  #added = new Map<number, number>();
  #loaded = false;
  #dirty = false;

  /** `file` null: in memory only (the runtime daemon, tests). */
  constructor(file: string | null) {
    this.file = file;
  }

  #grow(slots: number): void {
    if (slots <= this.#shas.length / 32) return;
    const size = Math.max(slots, (this.#shas.length / 32) * 2);
    const nums = new Float64Array(FIELDS * size);
    nums.set(this.#nums.subarray(0, FIELDS * this.#count));
    const shas = Buffer.alloc(32 * size);
    this.#shas.copy(shas, 0, 0, 32 * this.#count);
    this.#nums = nums;
    this.#shas = shas;
  }

  #loadSync(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    if (!this.file) return;
    let data: Buffer;
    try {
      data = readFileSync(this.file);
    } catch {
      return; // Missing or unreadable: start empty.
    }
    if (data.length < 16 || !data.subarray(0, 8).equals(MAGIC)) return;
    const count = data.readUInt32LE(8);
    if (16 + count * RECORD !== data.length) return;
    // Every entry's numbers, then every digest, used where they were read (views, no copy;
    // `#grow` copies them once more entries are added than the file held).
    const numbersAt = data.byteOffset + 16;
    this.#nums =
      numbersAt % 8 === 0
        ? new Float64Array(data.buffer, numbersAt, count * FIELDS)
        : new Float64Array(data.buffer.slice(numbersAt, numbersAt + count * FIELDS * 8));
    this.#shas = data.subarray(16 + count * FIELDS * 8);
    this.#count = count;
    // Files this version writes are in inode order (flag 1); an older one is indexed here.
    if (data.readUInt32LE(12) === SORTED_BY_INODE && this.#inOrder(count)) this.#sorted = count;
    else for (let slot = 0; slot < count; slot++) this.#added.set(this.#inodeOf(slot), slot);
  }

  #inodeOf(slot: number): number {
    return this.#nums[slot * FIELDS + 1] as number;
  }

  /** Whether slots `[0, count)` have strictly increasing inodes (a damaged file is indexed). */
  #inOrder(count: number): boolean {
    const n = this.#nums;
    for (let at = 1 + FIELDS; at < count * FIELDS; at += FIELDS)
      if (!((n[at - FIELDS] as number) < (n[at] as number))) return false;
    return true;
  }

  /** The slot holding `ino`, or undefined. */
  #slotFor(ino: number): number | undefined {
    const n = this.#nums;
    let low = 0;
    let high = this.#sorted - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = n[mid * FIELDS + 1] as number;
      if (at === ino) return mid;
      if (at < ino) low = mid + 1;
      else high = mid - 1;
    }
    return this.#added.get(ino);
  }

  /** The slot whose entry holds for `stat` (same device, inode, size, times, mode), or -1. */
  #slotOf(stat: Stats): number {
    if (stat.mode & 0o222) return -1;
    this.#loadSync();
    const slot = this.#slotFor(stat.ino);
    if (slot === undefined) return -1;
    const n = this.#nums;
    const at = slot * FIELDS;
    return n[at] === stat.dev &&
      n[at + 2] === stat.size &&
      n[at + 3] === stat.mtimeMs &&
      n[at + 5] === (stat.mode & 0o7777) &&
      (n[at + 6] === 0
        ? n[at + 4] === stat.ctimeMs
        : stat.ctimeMs >= (n[at + 4] as number) && stat.ctimeMs <= (n[at + 6] as number))
      ? slot
      : -1;
  }

  /** Forgets every entry (what `--verify full` does before hashing). */
  async clear(): Promise<void> {
    this.#loadSync();
    if (this.#count > 0) this.#dirty = true;
    this.#added.clear();
    this.#sorted = 0;
    this.#count = 0;
  }

  /**
   * sha256 of the file at `file` with lstat `stat`: from the cache when its stamp matches,
   * else hashed (and remembered when the file is read-only).
   */
  async digest(file: string, stat: Stats): Promise<string> {
    const cached = this.lookup(stat);
    if (cached !== null) return cached;
    const sha = await hashFile(file, stat.size);
    this.remember(stat, sha);
    return sha;
  }

  /** {@link digest}, synchronously (see {@link hashFileSync}). */
  digestSync(file: string, stat: Stats): string {
    const cached = this.lookup(stat);
    if (cached !== null) return cached;
    const sha = hashFileSync(file, stat.size);
    this.remember(stat, sha);
    return sha;
  }

  /** The cached sha256 (hex) of the file with lstat `stat`, or null when it must be hashed. */
  lookup(stat: Stats): string | null {
    const slot = this.#slotOf(stat);
    return slot < 0 ? null : this.#shas.toString('hex', slot * 32, slot * 32 + 32);
  }

  /**
   * Whether the cache holds the file with lstat `stat` with the sha256 in `shas` at
   * `[at, at + 32)`, compared in place (no hex string): 1 it does, -1 it holds another digest
   * (the file's bytes are not those), 0 unknown (the file must be hashed).
   */
  holds(stat: Stats, shas: Uint8Array, at: number): 1 | 0 | -1 {
    const slot = this.#slotOf(stat);
    if (slot < 0) return 0;
    return this.#shas.compare(shas, at, at + 32, slot * 32, slot * 32 + 32) === 0 ? 1 : -1;
  }

  /**
   * Records that the file with `stat` has sha256 `sha` (just written or hashed); a file that may
   * be written (any write bit) is not cached.
   */
  remember(stat: Stats, sha: string): void {
    if (stat.mode & 0o222) return;
    this.#loadSync();
    let slot = this.#slotFor(stat.ino);
    if (slot === undefined) {
      slot = this.#count++;
      this.#grow(this.#count);
      this.#added.set(stat.ino, slot);
    }
    const at = slot * FIELDS;
    this.#nums[at] = stat.dev;
    this.#nums[at + 1] = stat.ino;
    this.#nums[at + 2] = stat.size;
    this.#nums[at + 3] = stat.mtimeMs;
    this.#nums[at + 4] = stat.ctimeMs;
    this.#nums[at + 5] = stat.mode & 0o7777;
    this.#nums[at + 6] = 0;
    this.#shas.write(sha, slot * 32, 32, 'hex');
    this.#dirty = true;
  }

  /**
   * Renews the entry of a read-only file whose ctime moved at or after `sinceMs` while its size,
   * mtime and mode stayed: a link to it was added or removed by Airlock itself (materializing
   * a copy, collecting garbage), which changes the ctime but not the bytes.
   */
  renew(stat: Stats, sinceMs: number): void {
    if (stat.mode & 0o222 || stat.ctimeMs < sinceMs) return;
    this.#loadSync();
    const slot = this.#slotFor(stat.ino);
    if (slot === undefined) return;
    const n = this.#nums;
    const at = slot * FIELDS;
    if (
      n[at] !== stat.dev ||
      n[at + 2] !== stat.size ||
      n[at + 3] !== stat.mtimeMs ||
      n[at + 5] !== (stat.mode & 0o7777)
    )
      return;
    n[at + 4] = stat.ctimeMs;
    n[at + 6] = 0;
    this.#dirty = true;
  }

  /**
   * Keeps the entry of inode `ino` (verified by this command) valid after Airlock itself added
   * links to it: a link changes the file's ctime, not its bytes, so instead of an `lstat` per
   * file after linking, any ctime in `[fromMs, toMs]` now holds, where `fromMs` is a kernel time
   * taken before the first link and `toMs` one taken after the last (ctimes of files Airlock
   * created then). Size, mtime and mode must still be equal; any later write or chmod moves the
   * ctime past `toMs`. A window the kernel's clock does not fit only costs a re-hash.
   */
  relinked(ino: number, fromMs: number, toMs: number): void {
    this.#loadSync();
    const slot = this.#slotFor(ino);
    if (slot === undefined) return;
    const at = slot * FIELDS;
    this.#nums[at + 4] = fromMs;
    this.#nums[at + 6] = toMs;
    this.#dirty = true;
  }

  /** Writes the cache when it changed (atomically: a temporary file renamed over it). */
  async save(): Promise<void> {
    if (!this.#dirty || !this.file) return;
    this.#dirty = false;
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(path.dirname(this.file), { recursive: true });
    const header = Buffer.alloc(16);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(this.#count, 8);
    header.writeUInt32LE(SORTED_BY_INODE, 12);
    if (this.#added.size === 0 && this.#sorted === this.#count) {
      // Only entries that were loaded, changed in place (a command that linked or renewed them):
      // still in inode order, written as they are.
      const n = this.#nums.subarray(0, this.#count * FIELDS);
      await writeFile(tmp, [
        header,
        new Uint8Array(n.buffer, n.byteOffset, n.byteLength),
        this.#shas.subarray(0, this.#count * 32),
      ]);
      await rename(tmp, this.file);
      return;
    }
    // Every slot holds a distinct inode (a known one is overwritten in place); written in inode
    // order, so the next load needs no index.
    const slots = Array.from({ length: this.#count }, (_, slot) => slot).sort(
      (a, b) => this.#inodeOf(a) - this.#inodeOf(b),
    );
    const data = Buffer.allocUnsafe(16 + slots.length * RECORD);
    header.copy(data, 0);
    const numbers = new Float64Array(slots.length * FIELDS);
    slots.forEach((slot, k) => {
      numbers.set(this.#nums.subarray(slot * FIELDS, slot * FIELDS + FIELDS), k * FIELDS);
      this.#shas.copy(data, 16 + slots.length * FIELDS * 8 + k * 32, slot * 32, slot * 32 + 32);
    });
    data.set(new Uint8Array(numbers.buffer), 16);
    await writeFile(tmp, data);
    await rename(tmp, this.file);
  }
}
