/**
 * Content-addressed storage of build outputs under `<home>/artifacts/` (the shape of pnpm's
 * store and git's objects):
 *
 * - `objects/<2 hex>/<62 hex>` — every file once, named by the sha256 of its bytes (`-x` suffix
 *   for an executable one), read-only (0444 or 0555). Two artifacts that differ by one file
 *   share every other object.
 * - `manifests/<digest>.json.gz` — an artifact: its manifest (`manifest.ts`: path, mode, size
 *   and sha256 of every file), named by its digest, the sha256 of its canonical listing.
 * - `manifests/<digest>.idx` — the same manifest once checked, in a binary form that decodes
 *   without parsing JSON (`encodeManifestIndex`); a hint, used only while it and the manifest
 *   are the files the verified cache knows.
 * - `sha256/<digest>/` — a folder view of an artifact made of links to the objects (migrations
 *   are read from one), or an artifact stored by an earlier version of Airlock as a plain copy,
 *   moved into the store the first time it is used.
 * - `verified-cache.bin` — the verified cache (`file-hash.ts`).
 *
 * An artifact is stored once, never modified, and verified whenever it is used: a promotion
 * deploys the identical bytes that passed the previous environment (Heroku Pipelines: promote
 * copies the slug; OCI: content addressing). An environment's copy is made of hard links to the
 * objects (or reflinks, or plain copies: see {@link MaterializeMode}); since a write through a
 * hard link would change the object, objects are read-only and every verification re-checks
 * their bytes unless the verified cache proves them unchanged.
 */
import { createHash, hash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import {
  appendFile,
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ProviderError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { hashFiles, VerifiedCache } from './file-hash.ts';
import {
  decodeManifestIndex,
  decodeManifestObjects,
  encodeManifestIndex,
  type Manifest,
  type ManifestEntry,
  type ManifestObjects,
  manifestObjects,
  manifestOf,
  parseManifest,
  scanTree,
  scanTreeSync,
  serializeManifest,
} from './manifest.ts';
import type { LocalObjects, RemoteStore, TransferStats } from './remote-transfer.ts';
import type { TreeDigest } from './tree-digest.ts';

/** node:zlib, loaded when a manifest is written or read from its JSON (a warm command reads the binary index). */
const zlib = () => process.getBuiltinModule('node:zlib');

/**
 * How an environment's copy is made from the store: `link` (default) tries a hard link per file,
 * then a reflink or copy (`fs.copyFile` with `COPYFILE_FICLONE`) where the file system refuses
 * links (another device, no hard links); `copy` always copies (reflinks where the file system
 * has them), for file systems or backups that must not share inodes with the store.
 */
export type MaterializeMode = 'link' | 'copy';

export interface ArtifactStoreOptions {
  /** Default `link`. */
  materialize?: MaterializeMode;
  /** Every verification re-hashes every file, ignoring the verified cache (`--verify full`). */
  fullVerify?: boolean;
  /**
   * The shared artifact store (`artifacts:` in the config): every artifact stored here is pushed
   * there, and an artifact missing here is pulled from there (verified) before it is used.
   */
  remote?: RemoteStore;
  /** Told of every push and pull (progress lines). */
  onTransfer?: (event: { kind: 'push' | 'pull'; digest: string; stats: TransferStats }) => void;
}

export interface VerifyOptions {
  /** Re-hash every file, ignoring the verified cache (`--verify full`). */
  full?: boolean;
}

/** Files up to this size (bytes) are stored from one read; larger ones are streamed. */
const WHOLE_FILE_BYTES = 8 * 1024 * 1024;
/** Errors of `link(2)` after which a copy is made instead. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EACCES']);

const fileMode = (entry: { mode: number }): number => (entry.mode === 0o755 ? 0o555 : 0o444);

export class ArtifactStore {
  /** Absolute path of the store's root (`<home>/artifacts`). */
  readonly root: string;
  readonly mode: MaterializeMode;
  readonly cache: VerifiedCache;
  readonly fullVerify: boolean;
  /** Digests verified in full by this instance (a full verification is done once per command). */
  readonly #fullyVerified = new Set<string>();
  /**
   * Digests this instance verified (one command), with the inode of each file's object in
   * manifest order (0: not verified): materializing them does not verify again, and keeps the
   * verified cache valid for the links it adds (`VerifiedCache.relinked`).
   */
  readonly #verifiedHere = new Map<string, Float64Array>();
  readonly #manifests = new Map<string, Manifest>();
  /** Trusted index bytes read by this command, by digest (see `#checkedIndex`). */
  readonly #indexes = new Map<string, Buffer>();
  readonly #objectDirs = new Set<string>();
  readonly #objectsRoot: string;
  readonly remote: RemoteStore | null;
  readonly #onTransfer: ArtifactStoreOptions['onTransfer'];

  constructor(root: string, options: ArtifactStoreOptions = {}) {
    this.root = root;
    this.remote = options.remote ?? null;
    this.#onTransfer = options.onTransfer;
    this.mode = options.materialize ?? 'link';
    this.fullVerify = options.fullVerify ?? false;
    // Absolute: the verification loop runs inside the objects folder (see `#inObjects`).
    this.cache = new VerifiedCache(path.resolve(root, 'verified-cache.bin'));
    this.#objectsRoot = path.resolve(root, 'objects') + path.sep;
  }

  /** Where an artifact's folder view lives (see {@link view}, which makes it). */
  pathOf(digest: string): string {
    return path.join(this.root, 'sha256', digest);
  }

  /** Where an artifact's manifest lives. */
  manifestPath(digest: string): string {
    return path.join(this.root, 'manifests', `${digest}.json.gz`);
  }

  /** Where the binary index of a checked manifest lives (see {@link manifest}). */
  #indexPath(digest: string): string {
    return path.join(this.root, 'manifests', `${digest}.idx`);
  }

  /** Where the object of a file with sha256 `sha` and `mode` lives. */
  objectPath(sha: string, mode: number): string {
    return objectName(this.#objectsRoot, sha, mode);
  }

  /**
   * Runs `loop` with the prefix that names an object from where it runs: '' inside the objects
   * folder, else the folder's path. Node has no `fstatat`, and the kernel walks every folder of
   * a path at each call; thousands of `lstat`s of `<2 hex>/<62 hex>` from inside the folder cost
   * a fifth less than of the whole path. The working directory is the process's, so this is done
   * only on the main thread (workers cannot change it), for a loop that is synchronous (no other
   * JavaScript runs meanwhile; Airlock's asynchronous file calls take absolute paths), and it is
   * restored before returning, also when `loop` throws.
   */
  #inObjects(loop: (prefix: string) => void): void {
    let previous: string | null = null;
    if (process.getBuiltinModule('node:worker_threads').isMainThread) {
      try {
        previous = process.cwd();
        process.chdir(this.#objectsRoot);
      } catch {
        previous = null; // No objects folder yet, or no current one: whole paths.
      }
    }
    try {
      loop(previous === null ? this.#objectsRoot : '');
    } finally {
      if (previous !== null) process.chdir(previous);
    }
  }

  /** True when the artifact is stored here (in either format; not asking the shared store). */
  has(digest: string): boolean {
    return existsSync(this.manifestPath(digest)) || existsSync(this.pathOf(digest));
  }

  /**
   * Stores a folder: each file's bytes once as an object, then the manifest (no-op for content
   * already stored). What is stored is what was hashed (each file is read once), so a file
   * changing meanwhile cannot make the manifest lie. With `view`, also makes the folder view
   * (`pathOf`).
   * @returns its digest, size (bytes) and file count.
   */
  async put(source: string, options: { view?: boolean } = {}): Promise<TreeDigest> {
    const { entries, files } = scanTreeSync(source);
    for (const file of files) {
      const entry = entries[file.index] as ManifestEntry & { kind: 'file' };
      entry.sha256 =
        file.stat.size <= WHOLE_FILE_BYTES
          ? this.#storeSmallObject(file.full, entry.mode)
          : await this.#storeObject(file.full, file.stat, entry.mode);
    }
    const manifest = manifestOf(entries);
    await this.#writeManifest(manifest);
    await this.cache.save();
    if (this.remote) {
      const stats = await this.remote.push(manifest, this.#localObjects());
      this.#onTransfer?.({ kind: 'push', digest: manifest.digest, stats });
    }
    if (options.view) await this.view(manifest.digest);
    return { digest: manifest.digest, bytes: manifest.bytes, files: manifest.files };
  }

  /** The folder of an object, made once per store instance. */
  #objectDir(object: string): string {
    const dir = path.dirname(object);
    if (!this.#objectDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.#objectDirs.add(dir);
    }
    return dir;
  }

  /**
   * Stores a small file's bytes (read once, synchronously: thousands of small files are several
   * times faster without a promise per system call) as an object; returns their sha256.
   */
  #storeSmallObject(file: string, mode: 0o644 | 0o755): string {
    const bytes = readFileSync(file);
    const sha = hash('sha256', bytes, 'hex');
    const object = this.objectPath(sha, mode);
    const existing = lstatSync(object, { throwIfNoEntry: false });
    if (existing && existing.size === bytes.length) return sha;
    const tmp = path.join(
      this.#objectDir(object),
      `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    writeFileSync(tmp, bytes, { mode: fileMode({ mode }) });
    chmodSync(tmp, fileMode({ mode }));
    renameSync(tmp, object);
    this.cache.remember(lstatSync(object), sha);
    return sha;
  }

  /** Stores one large file's bytes (streamed, read once) as an object; returns their sha256. */
  async #storeObject(file: string, stat: Stats, mode: 0o644 | 0o755): Promise<string> {
    await mkdir(path.join(this.root, 'tmp'), { recursive: true });
    const tmp = path.join(this.root, 'tmp', `${process.pid}-${randomBytes(8).toString('hex')}`);
    let sha: string;
    let bytes: Buffer | null = null;
    if (stat.size <= WHOLE_FILE_BYTES) {
      bytes = await readFile(file);
      sha = hash('sha256', bytes, 'hex');
    } else {
      const h = createHash('sha256');
      await pipeline(
        createReadStream(file),
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            h.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp, { mode: 0o600 }),
      );
      sha = h.digest('hex');
    }
    const object = this.objectPath(sha, mode);
    const existing = await lstat(object).catch(() => null);
    if (existing && existing.size === (bytes ? bytes.length : stat.size)) {
      if (!bytes) await rm(tmp, { force: true });
      return sha;
    }
    const dir = path.dirname(object);
    if (!this.#objectDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#objectDirs.add(dir);
    }
    if (bytes) await writeFile(tmp, bytes, { mode: 0o600 });
    await chmod(tmp, fileMode({ mode }));
    await rename(tmp, object);
    this.cache.remember(await lstat(object), sha);
    return sha;
  }

  async #writeManifest(manifest: Manifest): Promise<void> {
    const target = this.manifestPath(manifest.digest);
    this.#manifests.set(manifest.digest, manifest);
    if (existsSync(target)) return;
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const gz = zlib().gzipSync(serializeManifest(manifest));
    await writeFile(tmp, gz, { mode: 0o444 });
    await rename(tmp, target);
    // Written from a checked manifest: later commands only parse these bytes (see `manifest`).
    this.cache.remember(lstatSync(target), hash('sha256', gz, 'hex'));
    this.#writeIndex(manifest);
  }

  /**
   * Writes the binary index of a checked manifest (read-only, its sha256 in the verified cache).
   * A hint like the cache: a failure only means the next command parses the manifest. Never throws.
   */
  #writeIndex(manifest: Manifest): void {
    const file = this.#indexPath(manifest.digest);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      const data = encodeManifestIndex(manifest);
      writeFileSync(tmp, data, { mode: 0o444 });
      renameSync(tmp, file);
      this.cache.remember(lstatSync(file), hash('sha256', data, 'hex'));
    } catch {
      rmSync(tmp, { force: true });
    }
  }

  /**
   * The manifest of `digest` from its binary index, when both the manifest file and the index are
   * the read-only files the verified cache knows (the manifest unchanged since it was checked,
   * the index's bytes the ones written from it); else null.
   */
  #manifestFromIndex(digest: string): Manifest | null {
    const data = this.#checkedIndex(digest);
    return data && decodeManifestIndex(data, digest);
  }

  /**
   * The bytes of the binary index of `digest`, when both the manifest file and the index are the
   * read-only files the verified cache knows; else null. Kept for the command (the verification
   * reads it, then the copy's manifest decodes from the same bytes).
   */
  #checkedIndex(digest: string): Buffer | null {
    const known = this.#indexes.get(digest);
    if (known) return known;
    const gz = lstatSync(this.manifestPath(digest), { throwIfNoEntry: false });
    if (!gz?.isFile() || this.cache.lookup(gz) === null) return null;
    const file = this.#indexPath(digest);
    let data: Buffer;
    let stat: Stats;
    try {
      data = readFileSync(file);
      stat = lstatSync(file);
    } catch {
      return null;
    }
    if (this.cache.lookup(stat) !== hash('sha256', data, 'hex')) return null;
    this.#indexes.set(digest, data);
    return data;
  }

  /**
   * What verifying the objects of `digest` reads: from its binary index when it can be trusted
   * (no path or entry built), else from its manifest.
   * @throws ProviderError `DIGEST_MISMATCH` as {@link manifest}.
   */
  async #objectsOf(digest: string): Promise<ManifestObjects> {
    const known = this.#manifests.get(digest);
    if (known) return manifestObjects(known);
    const index = this.fullVerify ? null : this.#checkedIndex(digest);
    return (index && decodeManifestObjects(index)) ?? manifestObjects(await this.manifest(digest));
  }

  /**
   * The manifest of a stored artifact. An artifact an earlier version stored as a plain folder
   * (`sha256/<digest>/` without a manifest) is moved into the store first, and must still digest
   * to `digest`.
   * @throws ProviderError `DIGEST_MISMATCH` when it is missing, or its manifest (or old folder)
   *   was modified.
   */
  async manifest(digest: string): Promise<Manifest> {
    const known = this.#manifests.get(digest);
    if (known) return known;
    const indexed = this.fullVerify ? null : this.#manifestFromIndex(digest);
    if (indexed) {
      this.#manifests.set(digest, indexed);
      return indexed;
    }
    const file = this.manifestPath(digest);
    let gz: Buffer | null = null;
    let stat: Stats | undefined;
    try {
      gz = readFileSync(file);
      stat = lstatSync(file);
    } catch {
      gz = null;
    }
    if (!gz || !stat) return this.#adoptOldFolder(digest);
    let manifest: Manifest;
    try {
      // A manifest file whose exact bytes were checked before (their sha256 is in the verified
      // cache under this read-only file) is only parsed; any other is checked in full.
      const sha = hash('sha256', gz, 'hex');
      const checked = this.cache.lookup(stat) === sha && !this.fullVerify;
      manifest = parseManifest(zlib().gunzipSync(gz).toString('utf8'), digest, { checked });
      if (!checked) this.cache.remember(stat, sha);
      this.#writeIndex(manifest);
    } catch (error) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `the manifest of ${artifactDigestLabel(digest)} is damaged or was modified (${(error as Error).message}).`,
        {
          hint: `Delete ${file} and build the release again; never edit files under <home>/artifacts.`,
          details: { digest, manifest: file },
        },
      );
    }
    this.#manifests.set(digest, manifest);
    return manifest;
  }

  /** The store as a shared store sees it (objects added from verified bytes only). */
  #localObjects(): LocalObjects {
    return {
      objectPath: (sha, mode) => this.objectPath(sha, mode),
      hasObject: (sha, mode, size) =>
        lstatSync(this.objectPath(sha, mode), { throwIfNoEntry: false })?.size === size,
      addObject: async (sha, mode, bytes) => {
        if (hash('sha256', bytes, 'hex') !== sha)
          throw new ProviderError(
            'DIGEST_MISMATCH',
            `bytes offered as sha256:${sha} do not verify.`,
          );
        const object = this.objectPath(sha, mode);
        const tmp = path.join(
          this.#objectDir(object),
          `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
        );
        await writeFile(tmp, bytes, { mode: fileMode({ mode }) });
        await chmod(tmp, fileMode({ mode }));
        await rename(tmp, object);
        this.cache.remember(await lstat(object), sha);
      },
      addManifest: async (manifest) => {
        await this.#writeManifest(manifest);
        await this.cache.save();
      },
      pushedBlobs: async (label) => {
        const blobs = new Set<string>();
        const text = await readFile(this.#pushedFile(label), 'utf8').catch(() => '');
        // One line a push: the artifact digest, then the blobs the shared store held after it
        // (a line with the digest alone: its file blobs, from its manifest).
        for (const line of text.split('\n').slice(-20)) {
          const [digest, ...layers] = line.split(' ');
          if (!digest || !/^[0-9a-f]{64}$/.test(digest)) continue;
          for (const sha of layers) if (/^[0-9a-f]{64}$/.test(sha)) blobs.add(sha);
          if (layers.length > 0 || !this.has(digest)) continue;
          const manifest = await this.manifest(digest).catch(() => null);
          for (const entry of manifest?.entries ?? [])
            if (entry.kind === 'file') blobs.add(entry.sha256);
        }
        return blobs;
      },
      recordPush: async (label, digest, blobs) => {
        await mkdir(path.join(this.root, 'pushed'), { recursive: true });
        await appendFile(this.#pushedFile(label), `${[digest, ...(blobs ?? [])].join(' ')}\n`);
      },
    };
  }

  /** The list of artifacts pushed to one shared store (`pushed/<sha256 of its address>`). */
  #pushedFile(label: string): string {
    return path.join(this.root, 'pushed', hash('sha256', label, 'hex').slice(0, 32));
  }

  /**
   * Pushes a stored artifact to the shared store (a no-op without one, or when it is there).
   * @throws ProviderError `DIGEST_MISMATCH` (not stored here), `ARTIFACT_STORE_FAILED`.
   */
  async push(digest: string): Promise<TransferStats | null> {
    if (!this.remote) return null;
    const manifest = await this.manifest(digest);
    const stats = await this.remote.push(manifest, this.#localObjects());
    this.#onTransfer?.({ kind: 'push', digest, stats });
    return stats;
  }

  async #adoptOldFolder(digest: string): Promise<Manifest> {
    const old = this.pathOf(digest);
    if (!existsSync(old) && this.remote) {
      // Not built here: fetched from the shared store, every byte verified on the way in.
      const stats = await this.remote.pull(digest, this.#localObjects());
      this.#onTransfer?.({ kind: 'pull', digest, stats });
      return this.manifest(digest);
    }
    if (!existsSync(old)) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${artifactDigestLabel(digest)} is missing from ${this.root}.`,
        {
          hint: 'The release cannot be deployed from this machine. Build it again with `airlock build --commit <sha>`.',
          details: { digest },
        },
      );
    }
    const stored = await this.put(old);
    if (stored.digest !== digest) {
      await rm(this.manifestPath(stored.digest), { force: true });
      this.#manifests.delete(stored.digest);
      this.#indexes.delete(stored.digest);
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${artifactDigestLabel(digest)} was modified on disk (it now digests to sha256:${stored.digest.slice(0, 12)}).`,
        {
          hint: `Delete ${old} and build the release again; never edit files under <home>/artifacts.`,
          details: { expected: digest, actual: stored.digest },
        },
      );
    }
    // The old plain copy is replaced by a view made of links (made again on demand).
    await rm(old, { recursive: true, force: true });
    return this.manifest(digest);
  }

  /**
   * Verifies a stored artifact: its manifest digests to `digest`, and every object it names is
   * present with its size, mode and sha256 (read again unless the verified cache proves the
   * object unchanged since it was last hashed).
   * @throws ProviderError `DIGEST_MISMATCH` when it is missing or any of it changed.
   */
  async verify(digest: string, options: VerifyOptions = {}): Promise<TreeDigest> {
    const full = options.full ?? (this.fullVerify && !this.#fullyVerified.has(digest));
    if (full) {
      // Forgotten first, so the manifest is read and checked again too (and remembered, with
      // its index: the next command reads it from the index again).
      await this.cache.clear();
      this.#manifests.delete(digest);
      this.#indexes.delete(digest);
    }
    const { files, shas, sizes, executable, repeats, bytes } = await this.#objectsOf(digest);
    const hex = shas.toString('hex');
    // Inode of each file's object, in manifest order (0: not verified); no map keyed by path
    // (hashing thousands of long strings costs a third of the lstats).
    const inodes = new Float64Array(files);
    // What is wrong, by file ordinal (the paths are only read when something is).
    const problems: Array<[ordinal: number, problem: string]> = [];
    const misses: Array<{ file: string; size: number; stat: Stats; ordinal: number }> = [];
    // Each object once (an object an earlier file of the manifest shares is checked for it), in
    // one loop of `lstatSync` whose `Stats` are checked at once and dropped: in a fresh process
    // (a command verifies once) this beat fanning the calls out on the thread pool, whose first
    // use costs more than it saves, and keeping thousands of `Stats` alive costs collections.
    // The loop runs inside the objects folder with paths relative to it (see `#inObjects`).
    const objectOf = (f: number): string =>
      this.objectPath(hex.slice(f * 64, f * 64 + 64), executable[f] ? 0o755 : 0o644);
    this.#inObjects((prefix) => {
      for (let f = 0; f < files; f++) {
        if (repeats[f] === 1) continue;
        const name = objectName(
          prefix,
          hex.slice(f * 64, f * 64 + 64),
          executable[f] ? 0o755 : 0o644,
        );
        let stat: Stats | undefined;
        try {
          stat = lstatSync(name);
        } catch {
          stat = undefined;
        }
        if (!stat?.isFile()) {
          problems.push([f, `its object ${objectOf(f)} is missing`]);
          continue;
        }
        if (stat.size !== sizes[f] || (stat.mode & 0o111 ? 1 : 0) !== executable[f]) {
          problems.push([f, `its object ${objectOf(f)} changed size or mode`]);
          continue;
        }
        const held = this.cache.holds(stat, shas, f * 32);
        if (held === 0) misses.push({ file: objectOf(f), size: stat.size, stat, ordinal: f });
        else if (held < 0)
          problems.push([
            f,
            `its object ${objectOf(f)} was modified (sha256:${this.cache.lookup(stat)?.slice(0, 12)})`,
          ]);
        else inodes[f] = stat.ino;
      }
    });
    const hashed = await hashFiles(misses);
    misses.forEach((miss, k) => {
      const sha = hashed[k] as string;
      if (sha === hex.slice(miss.ordinal * 64, miss.ordinal * 64 + 64)) {
        this.cache.remember(miss.stat, sha);
        inodes[miss.ordinal] = miss.stat.ino;
      } else
        problems.push([
          miss.ordinal,
          `its object ${miss.file} was modified (sha256:${sha.slice(0, 12)})`,
        ]);
    });
    await this.cache.save();
    if (problems.length > 0) {
      const paths = filePaths(await this.manifest(digest));
      const lines = problems.map(([f, problem]) => `${paths[f]}: ${problem}`).sort();
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${artifactDigestLabel(digest)} was modified on disk: ${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}.`,
        {
          hint: 'Store objects are read-only and shared by every release and environment copy: something wrote through a link. Build the release again with `airlock build --rebuild`, then run `airlock gc`.',
          details: { digest, problems: lines.slice(0, 20) },
        },
      );
    }
    if (full) this.#fullyVerified.add(digest);
    this.#verifiedHere.set(digest, inodes);
    return { digest, bytes, files };
  }

  /**
   * True when `dir` holds exactly the artifact `digest` (same paths, modes, bytes; nothing
   * added). Read-only files verified before are not read again (the verified cache).
   */
  async matches(dir: string, digest: string, options: VerifyOptions = {}): Promise<boolean> {
    if (!existsSync(dir)) return false;
    const full = options.full ?? this.fullVerify;
    if (!full && (await this.#matchesByListing(dir, digest))) {
      await this.cache.save(); // a manifest index written meanwhile
      return true;
    }
    let listing: ReturnType<typeof scanTreeSync>;
    const dirs: Array<[string, Stats]> = [];
    try {
      listing = scanTreeSync(dir, dirs);
    } catch {
      return false;
    }
    const misses: number[] = [];
    for (const [k, file] of listing.files.entries()) {
      const cached = full ? null : this.cache.lookup(file.stat);
      const entry = listing.entries[file.index] as ManifestEntry & { kind: 'file' };
      if (cached === null) misses.push(k);
      else entry.sha256 = cached;
    }
    const hashed = await hashFiles(
      misses.map((k) => ({
        file: listing.files[k]?.full as string,
        size: listing.files[k]?.stat.size as number,
      })),
    );
    misses.forEach((k, n) => {
      const file = listing.files[k] as (typeof listing.files)[number];
      const entry = listing.entries[file.index] as ManifestEntry & { kind: 'file' };
      entry.sha256 = hashed[n] as string;
    });
    const tree = manifestOf(listing.entries);
    // Read-only files hashed here are remembered only when the whole copy matched.
    if (tree.digest === digest)
      misses.forEach((k, n) => {
        const file = listing.files[k] as (typeof listing.files)[number];
        this.cache.remember(file.stat, hashed[n] as string);
      });
    await this.cache.save();
    if (tree.digest === digest) writeListing(dir, digest, dirs);
    return tree?.digest === digest;
  }

  /**
   * True when `dir` still holds the copy of `digest` recorded in its listing file (see
   * {@link writeListing}) without listing any folder: every folder has the device, inode, mtime
   * and ctime it had when the copy last matched (adding, removing or renaming an entry changes
   * its folder's times, and a ctime cannot be set back), and every file of the manifest is a
   * read-only file whose lstat is in the verified cache with the manifest's sha256 (a write or a
   * chmod changes its ctime). About one `lstat` per folder and per file; false (the caller lists
   * and digests the copy) whenever anything differs.
   */
  async #matchesByListing(dir: string, digest: string): Promise<boolean> {
    let recorded: Listing;
    try {
      recorded = JSON.parse(readFileSync(listingPath(dir), 'utf8')) as Listing;
    } catch {
      return false;
    }
    if (recorded.digest !== digest || !Array.isArray(recorded.dirs)) return false;
    const root = `${path.resolve(dir)}${path.sep}`;
    for (const [rel, dev, ino, mtimeMs, ctimeMs] of recorded.dirs) {
      const stat = lstatSync(rel ? root + rel : root, { throwIfNoEntry: false });
      if (
        !stat?.isDirectory() ||
        stat.dev !== dev ||
        stat.ino !== ino ||
        stat.mtimeMs !== mtimeMs ||
        stat.ctimeMs !== ctimeMs
      )
        return false;
    }
    let manifest: Manifest;
    try {
      manifest = await this.manifest(digest);
    } catch {
      return false;
    }
    for (const entry of manifest.entries) {
      if (entry.kind !== 'file') continue;
      const stat = lstatSync(root + entry.path, { throwIfNoEntry: false });
      if (
        !stat?.isFile() ||
        stat.size !== entry.size ||
        (stat.mode & 0o111 ? 0o755 : 0o644) !== entry.mode ||
        this.cache.lookup(stat) !== entry.sha256
      )
        return false;
    }
    return true;
  }

  /**
   * Makes `dest` (replacing it) a verified copy of the artifact: links to the objects (see
   * {@link MaterializeMode}), read-only files. A `dest` that already matches is kept.
   * @throws ProviderError `DIGEST_MISMATCH` (the artifact or the copy does not verify).
   */
  async materialize(digest: string, dest: string, options: VerifyOptions = {}): Promise<void> {
    // Verified moments ago by this command (the verify step): not read again. Verified before
    // the manifest is decoded, so the verification reads the objects from the binary index
    // rather than from the decoded entries.
    if (options.full || !this.#verifiedHere.has(digest)) await this.verify(digest, options);
    const manifest = await this.manifest(digest);
    const inodes = this.#verifiedHere.get(digest) as Float64Array;
    if (existsSync(dest)) {
      if (await this.matches(dest, digest)) return;
      await removeTree(dest);
    }
    const staging = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await mkdir(staging, { recursive: true });
    const dirs = parentFolders(manifest);
    for (const dir of dirs) mkdirSync(path.join(staging, dir), { recursive: true });
    // Concatenated, not path.join: once per file of thousands (manifest paths use `/`).
    const stagingRoot = `${path.resolve(staging)}${path.sep}`;
    for (const entry of manifest.entries)
      if (entry.kind === 'symlink') symlinkSync(entry.target, stagingRoot + entry.path);
    // A kernel time before the first link: the staging folder's ctime (its last entry added).
    const linksFromMs = lstatSync(staging).ctimeMs;
    // Linked from inside the objects folder, as verified (see `#inObjects`): the targets are
    // whole paths. `linkAll` links the files of a prefix of the manifest; the rest are copied.
    let linkedCount = 0;
    if (this.mode === 'link')
      this.#inObjects((prefix) => (linkedCount = linkAll(manifest, stagingRoot, prefix)));
    // Objects linked whose inode this command verified: their cache entries are kept valid for
    // the ctimes the links give them (see `VerifiedCache.relinked`), no lstat per object.
    let relinked = false;
    // Other objects linked (object path → sha256), each stated once after all its links.
    const linked = new Map<string, string>();
    const unlinked: Array<ManifestEntry & { kind: 'file' }> = [];
    let ordinal = -1;
    for (const entry of manifest.entries) {
      if (entry.kind !== 'file') continue;
      ordinal++;
      if (ordinal >= linkedCount) unlinked.push(entry);
      else if (inodes[ordinal] !== 0) relinked = true;
      // A repeat's object is the earlier file's (renewed with it).
      else if (manifest.repeats?.[ordinal] !== 1)
        linked.set(this.objectPath(entry.sha256, entry.mode), entry.sha256);
    }
    for (const entry of unlinked) {
      const target = stagingRoot + entry.path;
      copyFileSync(this.objectPath(entry.sha256, entry.mode), target, constants.COPYFILE_FICLONE);
      chmodSync(target, fileMode(entry));
      this.cache.remember(lstatSync(target), entry.sha256);
    }
    // Linking changes an object's ctime: the objects were verified just above, so their cache
    // entries are renewed rather than lost.
    if (relinked) {
      const linksToMs = kernelTimeMs(`${staging}.clock`);
      // A repeat has no inode of its own here (0): its object is the earlier file's.
      for (let f = 0; f < linkedCount; f++) {
        const ino = inodes[f] as number;
        if (ino !== 0) this.cache.relinked(ino, linksFromMs, linksToMs);
      }
    }
    for (const [object, sha] of linked) this.cache.remember(lstatSync(object), sha);
    // A copy made of links only is the verified objects under the manifest's names; a copied one
    // is checked.
    if (unlinked.length > 0 && !(await this.matches(staging, digest))) {
      await removeTree(staging);
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `the copy of sha256:${digest.slice(0, 12)} in ${dest} does not match.`,
        { hint: 'Check free disk space and retry.' },
      );
    }
    await rename(staging, dest);
    // The links' new ctimes: without them the next command would hash every file again.
    await this.cache.save();
    // The new copy's folders, as they are once in place: the next command checks the copy with
    // one lstat per folder and file instead of listing it (see `matches`).
    await rm(listingPath(staging), { force: true });
    const all = new Set<string>(['']);
    for (const dir of dirs)
      for (let at = dir; at !== '.' && !all.has(at); at = path.posix.dirname(at)) all.add(at);
    const root = `${path.resolve(dest)}${path.sep}`;
    writeListing(
      dest,
      digest,
      [...all].sort().map((rel): [string, Stats] => [rel, lstatSync(rel ? root + rel : root)]),
    );
  }

  /**
   * The artifact as a folder (`pathOf(digest)`), made of links to the objects when missing or
   * changed; for readers of small artifacts such as migrations. An artifact not stored on this
   * machine gives its path all the same (which does not exist), as before the store had views.
   * @throws ProviderError `DIGEST_MISMATCH` when the stored artifact does not verify.
   */
  async view(digest: string): Promise<string> {
    const dir = this.pathOf(digest);
    if (!this.has(digest) && !this.remote) return dir;
    await this.materialize(digest, dir);
    return dir;
  }

  /** Digests of every stored artifact (both formats). */
  async list(): Promise<string[]> {
    const digests = new Set<string>();
    for (const name of await readdir(path.join(this.root, 'manifests')).catch(() => []))
      if (name.endsWith('.json.gz')) digests.add(name.slice(0, -'.json.gz'.length));
    for (const name of await readdir(path.join(this.root, 'sha256')).catch(() => []))
      if (/^[0-9a-f]{64}$/.test(name)) digests.add(name);
    return [...digests].sort();
  }

  /**
   * Removes every artifact not in `keep` (manifest, view, old-format folder), then every object
   * no kept manifest names, and leftovers of interrupted writes.
   * Kept objects whose ctime moved since `sinceMs` only because links to them were removed keep
   * their verified-cache entries (see `VerifiedCache.renew`).
   * @returns bytes freed (sizes of removed objects and old folders' files) and what was removed.
   */
  async collect(
    keep: ReadonlySet<string>,
    sinceMs = Date.now(),
  ): Promise<{ bytes: number; artifacts: string[]; objects: number }> {
    const removed: string[] = [];
    let bytes = 0;
    for (const digest of await this.list()) {
      if (keep.has(digest)) continue;
      const old = this.pathOf(digest);
      if (existsSync(old) && !existsSync(this.manifestPath(digest)))
        bytes += (await digestTreeSize(old)) ?? 0;
      await removeTree(old);
      await rm(this.manifestPath(digest), { force: true });
      await rm(this.#indexPath(digest), { force: true });
      this.#manifests.delete(digest);
      this.#indexes.delete(digest);
      removed.push(digest);
    }
    const live = new Set<string>();
    for (const digest of keep) {
      if (!this.has(digest)) continue;
      const manifest = await this.manifest(digest).catch(() => null);
      for (const entry of manifest?.entries ?? [])
        if (entry.kind === 'file') live.add(this.objectPath(entry.sha256, entry.mode));
    }
    let objects = 0;
    const objectsRoot = path.join(this.root, 'objects');
    for (const prefix of await readdir(objectsRoot).catch(() => [])) {
      const dir = path.join(objectsRoot, prefix);
      for (const name of await readdir(dir).catch(() => [])) {
        const object = path.join(dir, name);
        if (live.has(object)) continue;
        const stat = await lstat(object).catch(() => null);
        await unlink(object).catch(() => {});
        // An object still linked from an environment's copy frees its bytes with that copy.
        if (stat && stat.nlink <= 1) bytes += stat.size;
        objects += 1;
      }
    }
    await rm(path.join(this.root, 'tmp'), { recursive: true, force: true });
    // The verified cache of earlier versions (JSON), replaced by verified-cache.bin.
    await rm(path.join(this.root, 'verified-cache.json'), { force: true });
    for (const object of live) {
      const stat = lstatSync(object, { throwIfNoEntry: false });
      if (stat) this.cache.renew(stat, sinceMs);
    }
    await this.cache.save();
    return { bytes, artifacts: removed, objects };
  }
}

/**
 * Hard-links the object of each file of `manifest` (named with `prefix`, see `#inObjects`) at
 * its path under `root` (a folder path ending with a separator), in manifest order, one after
 * another (links fanned out over libuv's threads, or shared with a worker thread, were no
 * faster on two cores). Once the filesystem refuses a link (see `NO_LINK`), the rest are not
 * tried. No object is made per file: thousands of links are the whole cost of a copy.
 * @returns how many files, from the first, were linked (the rest are to be copied).
 * @throws any other error of `link(2)`.
 */
function linkAll(manifest: Manifest, root: string, prefix: string): number {
  let linked = 0;
  for (const entry of manifest.entries) {
    if (entry.kind !== 'file') continue;
    try {
      linkSync(objectName(prefix, entry.sha256, entry.mode), root + entry.path);
    } catch (error) {
      if (NO_LINK.has((error as NodeJS.ErrnoException).code ?? '')) return linked;
      throw error;
    }
    linked++;
  }
  return linked;
}

/**
 * The folders to make for a copy of `manifest`, parents before children: every `dir` entry and
 * the folder of every file or link (entries come sorted by path, so a file's folder is most
 * often the previous one's, found without a set lookup). Relative, `/`-separated.
 */
function parentFolders(manifest: Manifest): string[] {
  const dirs = new Set<string>();
  let previous = '.';
  for (const entry of manifest.entries) {
    let parent: string;
    if (entry.kind === 'dir') parent = entry.path;
    else {
      const slash = entry.path.lastIndexOf('/');
      parent = slash < 0 ? '.' : entry.path.slice(0, slash);
    }
    if (parent === previous) continue;
    previous = parent;
    if (parent !== '.') dirs.add(parent);
  }
  return [...dirs].sort();
}

/**
 * The kernel's time now (ms, as file ctimes give it): the ctime of a file created at `file`
 * (then removed). Comparable with the ctimes of files changed before it, unlike `Date.now()`,
 * which runs ahead of the kernel's coarse file clock.
 */
function kernelTimeMs(file: string): number {
  writeFileSync(file, '');
  try {
    return lstatSync(file).ctimeMs;
  } finally {
    unlinkSync(file);
  }
}

/** Total size (bytes) of a folder's files, or null when it cannot be read. */
async function digestTreeSize(dir: string): Promise<number | null> {
  try {
    const { files } = await scanTree(dir);
    return files.reduce((sum, f) => sum + f.stat.size, 0);
  } catch {
    return null;
  }
}

/** Removes a folder of read-only files (they can be unlinked: their folders are writable). */
export async function removeTree(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rm(listingPath(dir), { force: true });
}

/** What `<copy>.listing` holds: the digest the copy matched and its folders' stamps. */
interface Listing {
  digest: string;
  /** Relative path (`''`: the copy itself), device, inode, mtime (ms), ctime (ms). */
  dirs: Array<[string, number, number, number, number]>;
}

/** The listing file of a copy: beside it (`<dir>.listing`), not inside it. */
function listingPath(dir: string): string {
  return `${path.resolve(dir)}.listing`;
}

/**
 * Records that `dir` matched `digest` with these folders (lstat taken before each was listed).
 * Like the verified cache, a hint: a missing, stale or damaged listing only means the next check
 * lists and digests the copy. Never throws.
 */
function writeListing(dir: string, digest: string, dirs: Array<[string, Stats]>): void {
  const listing: Listing = {
    digest,
    dirs: dirs.map(([rel, s]) => [rel, s.dev, s.ino, s.mtimeMs, s.ctimeMs]),
  };
  const file = listingPath(dir);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, JSON.stringify(listing));
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** The path of each regular file of `manifest`, in manifest order (by file ordinal). */
function filePaths(manifest: Manifest): string[] {
  const paths: string[] = [];
  for (const entry of manifest.entries) if (entry.kind === 'file') paths.push(entry.path);
  return paths;
}

/**
 * An object's name below `prefix` (the objects folder with a trailing separator, or '' from
 * inside it): `<2 hex>/<62 hex>`, `-x` for an executable file. Concatenated, not path.join:
 * made once per file of every verification.
 */
function objectName(prefix: string, sha: string, mode: number): string {
  return `${prefix}${sha.slice(0, 2)}${path.sep}${sha.slice(2)}${mode === 0o755 ? '-x' : ''}`;
}
