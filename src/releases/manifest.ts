/**
 * A release artifact's manifest: every entry of a folder in a canonical order (each folder's
 * entries sorted by name, depth first), files with their mode, size and sha256, symlinks with
 * their target, and empty folders. The artifact digest is the sha256 of the manifest's canonical
 * listing, which is exactly the listing `tree-digest.ts` always digested (kind, executable bit,
 * path, and the file's sha256 or the symlink's target): an artifact stored before the store was
 * content-addressed by file keeps its digest.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { HASH_CONCURRENCY, mapLimit } from './file-hash.ts';

/** One entry of a manifest. Modes are normalized as git does: 0o644 or 0o755. */
export type ManifestEntry =
  | { kind: 'file'; path: string; mode: 0o644 | 0o755; size: number; sha256: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'dir'; path: string };

export interface Manifest {
  /** sha256 (hex) of the canonical listing: the artifact digest. */
  digest: string;
  /** Total size of regular files (bytes). */
  bytes: number;
  /** Number of regular files. */
  files: number;
  entries: ManifestEntry[];
  /**
   * Per file, in manifest order: 1 when an earlier file has the same sha256 and mode (the same
   * store object), so a check of every object can skip it. Set by {@link decodeManifestIndex}
   * only; absent means unknown.
   */
  repeats?: Uint8Array;
}

/** The line of one entry in the canonical listing (the digest's input). */
function canonicalLine(entry: ManifestEntry): string {
  if (entry.kind === 'file')
    return `f${entry.mode === 0o755 ? 'x' : '-'} ${entry.path}\0${entry.sha256}`;
  if (entry.kind === 'symlink') return `l ${entry.path}\0${entry.target}`;
  return `d ${entry.path}`;
}

/** The artifact digest of `entries` (in their order). */
export function manifestDigest(entries: readonly ManifestEntry[]): string {
  return createHash('sha256').update(entries.map(canonicalLine).join('\n')).digest('hex');
}

/** Builds a manifest from entries (computes the digest and the totals). */
export function manifestOf(entries: ManifestEntry[]): Manifest {
  let bytes = 0;
  let files = 0;
  for (const entry of entries) {
    if (entry.kind !== 'file') continue;
    bytes += entry.size;
    files += 1;
  }
  return { digest: manifestDigest(entries), bytes, files, entries };
}

/** A file found by {@link scanTree}, before its bytes are hashed. */
export interface ScannedFile {
  /** Index of its entry in `entries`. */
  index: number;
  /** Absolute path. */
  full: string;
  stat: Stats;
}

/**
 * Lists a folder in canonical order without reading file contents: file entries get
 * `sha256: ''` and are listed in `files` for the caller to hash.
 * @throws Error (ENOENT) when `dir` does not exist.
 */
export async function scanTree(
  dir: string,
): Promise<{ entries: ManifestEntry[]; files: ScannedFile[] }> {
  const entries: ManifestEntry[] = [];
  const files: ScannedFile[] = [];
  async function walk(rel: string): Promise<void> {
    const listed = await readdir(path.join(dir, rel), { withFileTypes: true });
    listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (listed.length === 0 && rel) entries.push({ kind: 'dir', path: rel });
    // lstat every entry of the folder at once; descend in order afterwards.
    const stats = await Promise.all(
      listed.map((entry) =>
        entry.isFile() ? lstat(path.join(dir, rel, entry.name)) : Promise.resolve(null),
      ),
    );
    for (const [i, entry] of listed.entries()) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(dir, relPath);
      if (entry.isSymbolicLink()) {
        entries.push({ kind: 'symlink', path: relPath, target: await readlink(full) });
      } else if (entry.isDirectory()) {
        await walk(relPath);
      } else if (entry.isFile()) {
        const stat = stats[i] as Stats;
        files.push({ index: entries.length, full, stat });
        entries.push(fileEntry(relPath, stat));
      }
    }
  }
  await walk('');
  return { entries, files };
}

/** A file's manifest entry before it is hashed (`sha256` is filled in by the caller). */
function fileEntry(relPath: string, stat: Stats): ManifestEntry {
  return {
    kind: 'file',
    path: relPath,
    mode: stat.mode & 0o111 ? 0o755 : 0o644,
    size: stat.size,
    sha256: '',
  };
}

/**
 * {@link scanTree}, synchronously (the store's loops; see `hashFileSync`).
 * @param dirs when given, receives every folder's path (relative, `''` for `dir`) and its lstat,
 *   taken just before the folder is listed (so a change made after the listing moves its times).
 */
export function scanTreeSync(
  dir: string,
  dirs?: Array<[string, Stats]>,
): { entries: ManifestEntry[]; files: ScannedFile[] } {
  const entries: ManifestEntry[] = [];
  const files: ScannedFile[] = [];
  // Paths concatenated, not path.join: called for every entry of thousands.
  const root = `${path.resolve(dir)}${path.sep}`;
  const walk = (rel: string): void => {
    if (dirs) dirs.push([rel, lstatSync(rel ? root + rel : root)]);
    const listed = readdirSync(rel ? root + rel : root, { withFileTypes: true });
    listed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (listed.length === 0 && rel) entries.push({ kind: 'dir', path: rel });
    for (const entry of listed) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = root + relPath;
      if (entry.isSymbolicLink()) {
        entries.push({ kind: 'symlink', path: relPath, target: readlinkSync(full) });
      } else if (entry.isDirectory()) {
        walk(relPath);
      } else if (entry.isFile()) {
        const stat = lstatSync(full);
        files.push({ index: entries.length, full, stat });
        entries.push(fileEntry(relPath, stat));
      }
    }
  };
  walk('');
  return { entries, files };
}

/** {@link manifestOfTree}, synchronously. */
export function manifestOfTreeSync(
  dir: string,
  digestOf: (file: string, stat: Stats) => string,
): Manifest {
  const { entries, files } = scanTreeSync(dir);
  for (const file of files) {
    const entry = entries[file.index] as ManifestEntry & { kind: 'file' };
    entry.sha256 = digestOf(file.full, file.stat);
  }
  return manifestOf(entries);
}

/**
 * Lists and hashes a folder: its manifest. `digestOf` returns a file's sha256 (default: read
 * it; a {@link VerifiedCache}'s `digest` skips files verified before).
 */
export async function manifestOfTree(
  dir: string,
  digestOf: (file: string, stat: Stats) => Promise<string>,
): Promise<Manifest> {
  const { entries, files } = await scanTree(dir);
  await mapLimit(files, HASH_CONCURRENCY, async (file) => {
    const entry = entries[file.index] as ManifestEntry & { kind: 'file' };
    entry.sha256 = await digestOf(file.full, file.stat);
  });
  return manifestOf(entries);
}

/** Compact on-disk form: `[kind, path, …]` rows (smaller than objects for thousands of files). */
type ManifestRow = ['f', string, number, number, string] | ['l', string, string] | ['d', string];

/** Serializes a manifest (JSON; the store gzips it). */
export function serializeManifest(manifest: Manifest): string {
  const rows: ManifestRow[] = manifest.entries.map((e) =>
    e.kind === 'file'
      ? ['f', e.path, e.mode, e.size, e.sha256]
      : e.kind === 'symlink'
        ? ['l', e.path, e.target]
        : ['d', e.path],
  );
  return JSON.stringify({ version: 1, digest: manifest.digest, entries: rows });
}

/**
 * Parses a serialized manifest and checks its digest.
 * @throws Error with a message naming what is wrong (malformed, or a digest that does not match
 *   its entries: the manifest was edited).
 */
export function parseManifest(
  text: string,
  expectedDigest: string,
  options: {
    /**
     * These exact bytes passed the checks before (the store's verified cache says so): the
     * paths and the digest are not checked again.
     */
    checked?: boolean;
  } = {},
): Manifest {
  const data = JSON.parse(text) as { version?: unknown; digest?: unknown; entries?: unknown };
  if (data.version !== 1 || !Array.isArray(data.entries))
    throw new Error('not a version 1 manifest');
  const entries: ManifestEntry[] = [];
  for (const row of data.entries as unknown[]) {
    if (!Array.isArray(row) || typeof row[1] !== 'string') throw new Error('malformed entry');
    const rel = row[1] as string;
    if (options.checked) {
      if (row[0] === 'f')
        entries.push({
          kind: 'file',
          path: rel,
          mode: row[2] as 0o644 | 0o755,
          size: row[3] as number,
          sha256: row[4] as string,
        });
      else if (row[0] === 'l')
        entries.push({ kind: 'symlink', path: rel, target: row[2] as string });
      else entries.push({ kind: 'dir', path: rel });
      continue;
    }
    if (rel.startsWith('/') || rel.split('/').some((part) => part === '..' || part === ''))
      throw new Error(`entry path ${JSON.stringify(rel)} leaves the artifact`);
    if (row[0] === 'f' && (row[2] === 0o644 || row[2] === 0o755) && typeof row[3] === 'number')
      entries.push({ kind: 'file', path: rel, mode: row[2], size: row[3], sha256: String(row[4]) });
    else if (row[0] === 'l' && typeof row[2] === 'string')
      entries.push({ kind: 'symlink', path: rel, target: row[2] });
    else if (row[0] === 'd') entries.push({ kind: 'dir', path: rel });
    else throw new Error(`malformed entry for ${rel}`);
  }
  if (options.checked) {
    let bytes = 0;
    let files = 0;
    for (const entry of entries)
      if (entry.kind === 'file') {
        bytes += entry.size;
        files += 1;
      }
    return { digest: expectedDigest, bytes, files, entries };
  }
  const manifest = manifestOf(entries);
  if (manifest.digest !== expectedDigest || data.digest !== expectedDigest)
    throw new Error(`its entries digest to sha256:${manifest.digest.slice(0, 12)}`);
  return manifest;
}

/** First bytes of a manifest index (see {@link encodeManifestIndex}). */
const INDEX_MAGIC = Buffer.from('ALMI0003');
/** A repeat: a file whose sha256 and mode an earlier file has (see `Manifest.repeats`). */
const KIND_CODES = {
  file644: 0,
  file755: 1,
  symlink: 2,
  dir: 3,
  file644Repeat: 4,
  file755Repeat: 5,
} as const;

/**
 * A manifest in a binary form that decodes without parsing JSON (the store keeps one beside each
 * checked manifest: thousands of entries decode in a few ms instead of tens), and small (about
 * 55 bytes per file, so it adds little to the disk a release takes): a header (magic, entry
 * count, file count, total bytes, text length), one kind byte per entry (a file's also says
 * whether an earlier file has its sha256 and mode), every file's size
 * (float64), every file's sha256 (32 bytes), then the paths and symlink targets as one
 * NUL-separated UTF-8 string (NUL cannot occur in a path), each path written as the number of
 * leading characters it shares with the previous path (up to 4 digits, then `:`) and the rest:
 * neighbours in the canonical order share most of their folders.
 */
export function encodeManifestIndex(manifest: Manifest): Buffer {
  const count = manifest.entries.length;
  const kinds = Buffer.alloc(count);
  const sizes = new Float64Array(manifest.files);
  const shas = Buffer.alloc(32 * manifest.files);
  const texts: string[] = [];
  let previous = '';
  let files = 0;
  const objects = new Set<string>();
  manifest.entries.forEach((entry, i) => {
    const limit = Math.min(previous.length, entry.path.length, 9999);
    let shared = 0;
    while (shared < limit && previous.charCodeAt(shared) === entry.path.charCodeAt(shared))
      shared++;
    texts.push(`${shared}:${entry.path.slice(shared)}`);
    previous = entry.path;
    if (entry.kind === 'file') {
      const object = `${entry.sha256}${entry.mode}`;
      const repeat = objects.has(object);
      objects.add(object);
      kinds[i] =
        entry.mode === 0o755
          ? repeat
            ? KIND_CODES.file755Repeat
            : KIND_CODES.file755
          : repeat
            ? KIND_CODES.file644Repeat
            : KIND_CODES.file644;
      sizes[files] = entry.size;
      shas.write(entry.sha256, files * 32, 32, 'hex');
      files++;
    } else if (entry.kind === 'symlink') {
      kinds[i] = KIND_CODES.symlink;
      texts.push(entry.target);
    } else kinds[i] = KIND_CODES.dir;
  });
  const header = Buffer.alloc(32);
  INDEX_MAGIC.copy(header, 0);
  header.writeUInt32LE(count, 8);
  header.writeUInt32LE(manifest.files, 12);
  header.writeDoubleLE(manifest.bytes, 16);
  const text = Buffer.from(texts.join('\0'), 'utf8');
  header.writeUInt32LE(text.length, 24);
  // Sizes start at an offset that is a multiple of 8 (read as a Float64Array view of a copy).
  const pad = Buffer.alloc((8 - ((32 + count) % 8)) % 8);
  return Buffer.concat([header, kinds, pad, Buffer.from(sizes.buffer), shas, text]);
}

/**
 * The header of {@link encodeManifestIndex}'s bytes: entry and file counts, total bytes, every
 * file's size (copied out), and where the digests and the text start; null when the bytes are
 * not a well-formed index.
 */
function indexLayout(data: Buffer): {
  count: number;
  files: number;
  bytes: number;
  sizes: Float64Array;
  shasAt: number;
  textAt: number;
} | null {
  if (data.length < 32 || !data.subarray(0, 8).equals(INDEX_MAGIC)) return null;
  const count = data.readUInt32LE(8);
  const files = data.readUInt32LE(12);
  const sizesAt = 32 + count + ((8 - ((32 + count) % 8)) % 8);
  const shasAt = sizesAt + files * 8;
  const textAt = shasAt + files * 32;
  if (textAt + data.readUInt32LE(24) !== data.length) return null;
  const sizes = new Float64Array(files);
  new Uint8Array(sizes.buffer).set(data.subarray(sizesAt, shasAt));
  return { count, files, bytes: data.readDoubleLE(16), sizes, shasAt, textAt };
}

/**
 * What checking every store object of a manifest needs, without its paths: per file in manifest
 * order, its sha256 (32 bytes each in `shas`), size (bytes), whether it is executable (its object
 * is `<sha>-x`), and whether an earlier file has the same object (`repeats`: 1).
 */
export interface ManifestObjects {
  files: number;
  /** Total size of regular files (bytes). */
  bytes: number;
  shas: Buffer;
  sizes: Float64Array;
  executable: Uint8Array;
  repeats: Uint8Array;
}

/**
 * {@link ManifestObjects} straight from an index's bytes: a pass over one kind byte per entry,
 * no path or hex string built (a warm verification of thousands of files reads only this).
 * @returns null when the bytes are not a well-formed index.
 */
export function decodeManifestObjects(data: Buffer): ManifestObjects | null {
  const layout = indexLayout(data);
  if (!layout) return null;
  const { count, files, sizes, shasAt, textAt } = layout;
  const executable = new Uint8Array(files);
  const repeats = new Uint8Array(files);
  let f = 0;
  for (let i = 32; i < 32 + count; i++) {
    const kind = data[i] as number;
    if (kind === KIND_CODES.symlink || kind === KIND_CODES.dir) continue;
    if (kind > KIND_CODES.file755Repeat || f >= files) return null;
    if (kind === KIND_CODES.file755 || kind === KIND_CODES.file755Repeat) executable[f] = 1;
    if (kind >= KIND_CODES.file644Repeat) repeats[f] = 1;
    f++;
  }
  if (f !== files) return null;
  return {
    files,
    bytes: layout.bytes,
    shas: data.subarray(shasAt, textAt),
    sizes,
    executable,
    repeats,
  };
}

/** {@link ManifestObjects} of a manifest already read (its repeats found here when unknown). */
export function manifestObjects(manifest: Manifest): ManifestObjects {
  const shas = Buffer.alloc(32 * manifest.files);
  const sizes = new Float64Array(manifest.files);
  const executable = new Uint8Array(manifest.files);
  const repeats = manifest.repeats ?? new Uint8Array(manifest.files);
  const seen = manifest.repeats ? null : new Set<string>();
  let f = 0;
  for (const entry of manifest.entries) {
    if (entry.kind !== 'file') continue;
    shas.write(entry.sha256, f * 32, 32, 'hex');
    sizes[f] = entry.size;
    if (entry.mode === 0o755) executable[f] = 1;
    if (seen) {
      const object = `${entry.sha256}${entry.mode}`;
      if (seen.has(object)) repeats[f] = 1;
      else seen.add(object);
    }
    f++;
  }
  return { files: manifest.files, bytes: manifest.bytes, shas, sizes, executable, repeats };
}

/**
 * Decodes {@link encodeManifestIndex}'s bytes as the manifest of `digest` (which it does not
 * check: the caller trusts these bytes, see `ArtifactStore.manifest`).
 * @returns null when the bytes are not a well-formed index.
 */
export function decodeManifestIndex(data: Buffer, digest: string): Manifest | null {
  const layout = indexLayout(data);
  if (!layout) return null;
  const { count, files, bytes, sizes, shasAt, textAt } = layout;
  const textLength = data.length - textAt;
  // One hex string for every digest, sliced per file (no conversion per file).
  const shas = data.toString('hex', shasAt, textAt);
  const texts = textLength === 0 ? [] : data.toString('utf8', textAt).split('\0');
  const entries: ManifestEntry[] = new Array(count);
  const repeats = new Uint8Array(files);
  let previous = '';
  let t = 0;
  let f = 0;
  for (let i = 0; i < count; i++) {
    const kind = data[32 + i];
    const coded = texts[t++];
    const colon = coded === undefined ? -1 : coded.indexOf(':');
    if (colon < 1) return null;
    const shared = Number((coded as string).slice(0, colon));
    if (!(shared <= previous.length)) return null;
    const rel = previous.slice(0, shared) + (coded as string).slice(colon + 1);
    previous = rel;
    if (
      kind === KIND_CODES.file644 ||
      kind === KIND_CODES.file755 ||
      kind === KIND_CODES.file644Repeat ||
      kind === KIND_CODES.file755Repeat
    ) {
      if (f >= files) return null;
      if (kind >= KIND_CODES.file644Repeat) repeats[f] = 1;
      entries[i] = {
        kind: 'file',
        path: rel,
        mode: kind === KIND_CODES.file755 || kind === KIND_CODES.file755Repeat ? 0o755 : 0o644,
        size: sizes[f] as number,
        sha256: shas.slice(f * 64, f * 64 + 64),
      };
      f++;
    } else if (kind === KIND_CODES.symlink) {
      const target = texts[t++];
      if (target === undefined) return null;
      entries[i] = { kind: 'symlink', path: rel, target };
    } else if (kind === KIND_CODES.dir) entries[i] = { kind: 'dir', path: rel };
    else return null;
  }
  if (f !== files || t !== texts.length) return null;
  return { digest, bytes, files, entries, repeats };
}
