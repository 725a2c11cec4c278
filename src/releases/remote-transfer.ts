/**
 * What the shared artifact stores (an OCI registry, `oci-store.ts`; an S3-compatible bucket,
 * `s3-store.ts`) have in common: how an artifact's files travel as blobs ({@link planLayers}:
 * large files one blob each, small ones in packs), and the loops that push the blobs a store
 * lacks and pull, verifying every byte, the objects a machine lacks. Each store adds its own
 * index (an OCI manifest; a JSON object) and speaks its own protocol ({@link BlobTransport}).
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ProviderError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { mapLimit } from './file-hash.ts';
import type { Manifest } from './manifest.ts';

/** Requests in flight at once (HEADs, uploads, downloads), over kept-alive connections. */
export const CONCURRENCY = 16;
/** Files up to this size (bytes) travel in packs; larger ones as a blob of their own. */
export const PACK_FILE_MAX = 256 * 1024;
/**
 * Packs an artifact's small files are spread over, by the first byte of their sha256 (a power of
 * two ≤ 256). 64: the real-size artifact's 6 700 small files (22 MB) travel as 64 blobs of about
 * 350 KB, besides its 39 larger files.
 */
export const PACKS = 64;
/** A pull fetches up to this many files of a pack as byte ranges rather than the whole pack. */
const RANGE_FILES_MAX = 8;

/** What the local store offers a remote: where its objects are, and how to add verified ones. */
export interface LocalObjects {
  objectPath(sha: string, mode: number): string;
  /** True when the object is present with this size. */
  hasObject(sha: string, mode: 0o644 | 0o755, size: number): boolean;
  /** Stores bytes already verified to have sha256 `sha`. */
  addObject(sha: string, mode: 0o644 | 0o755, bytes: Uint8Array): Promise<void>;
  addManifest(manifest: Manifest): Promise<void>;
  /**
   * sha256s of the blobs of artifacts this store pushed to `label` before (the remote had them
   * then: a push need not ask about them again), and `recordPush` to note a finished push and
   * the blobs (sha256s) it made sure the remote holds.
   */
  pushedBlobs?(label: string): Promise<Set<string>>;
  recordPush?(label: string, digest: string, blobs?: string[]): Promise<void>;
}

/** What one push or pull moved (bytes are file contents, not HTTP overhead). */
export interface TransferStats {
  /** Blobs the artifact has: its manifest, its packs and its large files. */
  blobs: number;
  /** Blobs sent or fetched, a byte range of a pack counting as one (the others were already there). */
  moved: number;
  /** Bytes of the blobs sent or fetched. */
  bytes: number;
  /** False when nothing was needed (the artifact was already there). */
  transferred: boolean;
}

/**
 * `response` when its status is one of `ok`; otherwise refuses it, quoting up to 300 characters
 * of the body (none for `HEAD`) and the fix: `hints.denied` for 401/403, `hints.other` else.
 * @throws ProviderError `ARTIFACT_STORE_FAILED` (details: status, store label).
 */
export async function expectStatus(
  label: string,
  method: string,
  response: Response,
  options: { ok: number[]; what: string },
  hints: { denied: string; other: string },
): Promise<Response> {
  if (options.ok.includes(response.status)) return response;
  const text = method === 'HEAD' ? '' : (await response.text().catch(() => '')).slice(0, 300);
  const denied = response.status === 401 || response.status === 403;
  throw new ProviderError(
    'ARTIFACT_STORE_FAILED',
    `${label} answered ${response.status} when asked to ${options.what}${text ? `: ${text.trim()}` : ''}.`,
    {
      hint: denied ? hints.denied : hints.other,
      details: { status: response.status, store: label },
    },
  );
}

/** A shared artifact store (OCI registry or S3-compatible bucket). */
export interface RemoteStore {
  /** Where it is, for messages (never with credentials), e.g. `oci://ghcr.io/acme/app`. */
  readonly label: string;
  /** Sends the artifact's manifest and the file blobs the remote lacks. Idempotent. */
  push(manifest: Manifest, local: LocalObjects): Promise<TransferStats>;
  /**
   * Fetches the artifact's manifest and the objects `local` lacks, verifying every byte.
   * @throws ProviderError `DIGEST_MISMATCH` (missing, or bytes that do not verify),
   *   `ARTIFACT_STORE_FAILED` (the remote refused or cannot be reached).
   */
  pull(digest: string, local: LocalObjects): Promise<TransferStats>;
  /**
   * Garbage collection of the remote (`airlock gc --remote`): removes the artifacts it holds
   * that are in `known` (the project's state names them) and not in `keep`. An artifact the
   * state does not name (another project's, or one pushed by a build whose release is not
   * recorded yet) is never removed.
   * @throws ProviderError `ARTIFACT_STORE_FAILED` (the remote refused a listing or a removal).
   */
  collect(
    known: ReadonlySet<string>,
    keep: ReadonlySet<string>,
    options?: RemoteCollectOptions,
  ): Promise<RemoteCollectResult>;
}

export interface RemoteCollectOptions {
  /** Only report what would be removed. */
  dryRun?: boolean;
  /**
   * Blobs younger than this (ms) are never removed, however unreferenced: a push in progress
   * sends its blobs before the manifest that names them. Default one hour.
   */
  graceMs?: number;
}

export interface RemoteCollectResult {
  /** Artifact digests removed (or, with `dryRun`, that would be). */
  removed: string[];
  /** Artifact digests kept because something needs them. */
  kept: string[];
  /** Artifact digests the remote holds that the state does not name: left alone. */
  unknown: string[];
  /** File blobs removed, and their bytes; null where the remote removes unreferenced blobs itself (an OCI registry's own garbage collection). */
  blobs: { count: number; bytes: number } | null;
}

/** Default {@link RemoteCollectOptions.graceMs}: one hour. */
export const REMOTE_GC_GRACE_MS = 60 * 60 * 1000;

/** Splits the artifacts a remote holds into removed (known, not kept), kept and unknown. */
export function sortForCollection(
  held: Iterable<string>,
  known: ReadonlySet<string>,
  keep: ReadonlySet<string>,
): Pick<RemoteCollectResult, 'removed' | 'kept' | 'unknown'> {
  const out: Pick<RemoteCollectResult, 'removed' | 'kept' | 'unknown'> = {
    removed: [],
    kept: [],
    unknown: [],
  };
  for (const digest of new Set(held)) {
    if (!known.has(digest)) out.unknown.push(digest);
    else if (keep.has(digest)) out.kept.push(digest);
    else out.removed.push(digest);
  }
  return out;
}

/** One distinct file content of an artifact, and where it sits in its pack (if packed). */
export interface PlannedFile {
  sha: string;
  size: number;
  /** The modes it is stored under (the same bytes can be both executable and not). */
  modes: Array<0o644 | 0o755>;
  mode: 0o644 | 0o755;
  /** Byte offset in its pack (0 for a file of its own). */
  offset: number;
}

export interface PlannedPack {
  /** Which pack: `<number>/<PACKS>` (its members' sha256s' first byte × PACKS / 256). */
  prefix: string;
  /** Its members in sha256 order; its bytes are theirs, concatenated. */
  members: PlannedFile[];
  /** Bytes. */
  size: number;
}

/**
 * How an artifact travels: each distinct file content larger than {@link PACK_FILE_MAX} as a
 * blob of its own (named by its sha256, shared by every release holding it); the others in
 * {@link PACKS} packs by the first byte of their sha256, members in sha256 order. A pack depends
 * only on its members, so a release that changes one small file makes at most two new packs (the
 * new content's, and the old one's without it), each about 1/{@link PACKS} of the small files;
 * every other pack is the same blob as before. Derived from the manifest alone:
 * push and pull agree without a listing.
 */
export function planLayers(manifest: Manifest): { files: PlannedFile[]; packs: PlannedPack[] } {
  const distinct = new Map<string, PlannedFile>();
  for (const entry of manifest.entries) {
    if (entry.kind !== 'file') continue;
    const known = distinct.get(entry.sha256);
    if (known) {
      if (!known.modes.includes(entry.mode)) known.modes.push(entry.mode);
      continue;
    }
    distinct.set(entry.sha256, {
      sha: entry.sha256,
      size: entry.size,
      modes: [entry.mode],
      mode: entry.mode,
      offset: 0,
    });
  }
  const files: PlannedFile[] = [];
  const packs = new Map<string, PlannedPack>();
  for (const file of [...distinct.values()].sort((x, y) => (x.sha < y.sha ? -1 : 1))) {
    if (file.size > PACK_FILE_MAX) {
      files.push(file);
      continue;
    }
    const prefix = `${(Number.parseInt(file.sha.slice(0, 2), 16) * PACKS) >> 8}/${PACKS}`;
    let pack = packs.get(prefix);
    if (!pack) {
      pack = { prefix, members: [], size: 0 };
      packs.set(prefix, pack);
    }
    file.offset = pack.size;
    pack.members.push(file);
    pack.size += file.size;
  }
  return { files, packs: [...packs.values()] };
}

/** The blob operations of one shared store, for {@link pushLayers} and {@link pullLayers}. */
export interface BlobTransport {
  /** Where it is, for messages (never with credentials). */
  readonly label: string;
  hasBlob(sha: string): Promise<boolean>;
  /** Stores `body` (bytes, or a file of `size` bytes) as the blob named `sha`. */
  putBlob(sha: string, body: Uint8Array | { file: string; size: number }): Promise<void>;
  /**
   * A blob's bytes, or `range` of them (`partial`: the store answered the range alone; a store
   * may answer the whole blob instead); null when the store lacks it.
   */
  getBlob(
    sha: string,
    range?: { offset: number; length: number },
  ): Promise<{ bytes: Uint8Array; partial: boolean } | null>;
}

/** One blob of a pushed artifact: a large file, or a pack (`pack`: its `<number>/<PACKS>`). */
export interface PushedLayer {
  sha: string;
  size: number;
  pack?: string;
}

/**
 * Sends the blobs of `plan` the store lacks, {@link CONCURRENCY} at once: none in `skip`, and
 * (with `ask`) none the store answers it has; a pack's bytes are read when its turn comes.
 * @returns every layer (packs first, then files, as planned) and what was sent.
 * @throws ProviderError from the transport.
 */
export async function pushLayers(
  plan: { files: PlannedFile[]; packs: PlannedPack[] },
  local: LocalObjects,
  transport: BlobTransport,
  options: { skip: Set<string>; ask: boolean },
): Promise<{ layers: PushedLayer[]; moved: number; bytes: number }> {
  const layers: PushedLayer[] = new Array(plan.packs.length + plan.files.length);
  let moved = 0;
  let bytes = 0;
  const jobs = [
    ...plan.packs.map((pack, index) => ({ index, pack, file: null })),
    ...plan.files.map((file, i) => ({ index: plan.packs.length + i, pack: null, file })),
  ];
  await untilFailure(jobs, async ({ index, pack, file }) => {
    let sha: string;
    let body: Uint8Array | { file: string; size: number };
    let size: number;
    if (pack) {
      const packed = Buffer.concat(
        pack.members.map((m) => readFileSync(local.objectPath(m.sha, m.mode))),
      );
      sha = hash('sha256', packed, 'hex');
      body = packed;
      size = packed.length;
      layers[index] = { sha, size, pack: pack.prefix };
    } else if (file) {
      sha = file.sha;
      size = file.size;
      body = { file: local.objectPath(file.sha, file.mode), size };
      layers[index] = { sha, size };
    } else return;
    if (options.skip.has(sha) || (options.ask && (await transport.hasBlob(sha)))) return;
    try {
      await transport.putBlob(sha, body);
    } catch (error) {
      // Another machine pushing the same release may have committed this blob first.
      if (await transport.hasBlob(sha).catch(() => false)) return;
      throw error;
    }
    moved += 1;
    bytes += size;
  });
  return { layers, moved, bytes };
}

/**
 * Fetches the objects of `manifest` that `local` lacks, {@link CONCURRENCY} blobs at once, and
 * stores each as soon as its sha256 verifies (an interrupted pull resumes where it stopped):
 * large files by their own blob; from a pack (`packs`: its blob by `<number>/<PACKS>`), the whole
 * pack, or a few files as byte ranges when this machine holds most of it.
 * @returns blobs fetched (a byte range counts as one), bytes received, and the blobs the
 *   artifact has.
 * @throws ProviderError `DIGEST_MISMATCH` naming the blob that is missing or does not verify.
 */
export async function pullLayers(
  manifest: Manifest,
  local: LocalObjects,
  transport: BlobTransport,
  packs: ReadonlyMap<string, string>,
): Promise<{ moved: number; bytes: number; blobs: number }> {
  const artifact = manifest.digest;
  const plan = planLayers(manifest);
  const lacks = (m: PlannedFile) => m.modes.some((mode) => !local.hasObject(m.sha, mode, m.size));
  let moved = 0;
  let bytes = 0;
  const store = async (m: PlannedFile, blob: Uint8Array) => {
    const actual = hash('sha256', blob, 'hex');
    if (actual !== m.sha)
      throw unverifiedBlob(
        transport.label,
        m.sha,
        artifact,
        `its bytes digest to sha256:${actual}`,
      );
    for (const mode of m.modes)
      if (!local.hasObject(m.sha, mode, m.size)) await local.addObject(m.sha, mode, blob);
  };
  const fetch = async (sha: string, range?: { offset: number; length: number }) => {
    const got = await transport.getBlob(sha, range);
    if (!got) throw missingBlob(transport.label, sha, artifact);
    moved += 1;
    bytes += got.bytes.length;
    return got;
  };
  const jobs = [
    ...plan.packs.map((pack) => ({ pack, file: null })),
    ...plan.files.map((file) => ({ pack: null, file })),
  ];
  await untilFailure(jobs, async ({ pack, file }) => {
    if (file) {
      if (lacks(file)) await store(file, (await fetch(file.sha)).bytes);
      return;
    }
    if (!pack) return;
    const missing = pack.members.filter(lacks);
    if (missing.length === 0) return;
    const packSha = packs.get(pack.prefix);
    if (!packSha) {
      // Pushed before small files travelled in packs (a blob per file): each by its own blob.
      for (const m of missing) await store(m, (await fetch(m.sha)).bytes);
      return;
    }
    const missingBytes = missing.reduce((n, m) => n + m.size, 0);
    if (missing.length <= RANGE_FILES_MAX && missingBytes * 2 < pack.size) {
      // A few files of a pack this machine mostly holds (the next release of an app): only
      // their byte ranges, each verified against its file's sha256.
      for (const m of missing) {
        if (m.size === 0) {
          await store(m, new Uint8Array());
          continue;
        }
        const got = await fetch(packSha, { offset: m.offset, length: m.size });
        await store(m, got.partial ? got.bytes : got.bytes.subarray(m.offset, m.offset + m.size));
      }
      return;
    }
    const whole = (await fetch(packSha)).bytes;
    const actual = hash('sha256', whole, 'hex');
    if (actual !== packSha)
      throw unverifiedBlob(
        transport.label,
        packSha,
        artifact,
        `its bytes digest to sha256:${actual}`,
      );
    if (whole.length !== pack.size)
      throw unverifiedBlob(
        transport.label,
        packSha,
        artifact,
        `it holds ${whole.length} bytes where the manifest's files add up to ${pack.size}`,
      );
    for (const m of missing) await store(m, whole.subarray(m.offset, m.offset + m.size));
  });
  return { moved, bytes, blobs: plan.files.length + plan.packs.length };
}

/**
 * `fn` over `items`, {@link CONCURRENCY} at once; after the first failure no further item is
 * started (the command fails with it: nothing keeps transferring behind its back).
 */
async function untilFailure<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let failed = false;
  await mapLimit(items, CONCURRENCY, async (item) => {
    if (failed) return;
    try {
      await fn(item);
    } catch (error) {
      failed = true;
      throw error;
    }
  });
}

/** A blob of an artifact the store lacks. */
export function missingBlob(label: string, sha: string, artifact: string): ProviderError {
  return new ProviderError(
    'DIGEST_MISMATCH',
    `blob sha256:${sha} of ${artifactDigestLabel(artifact)} is missing from ${label}.`,
    {
      hint: 'Push the release again from a machine that has it (`airlock build --rebuild` there), or build it here.',
      details: { digest: artifact, blob: `sha256:${sha}`, store: label },
    },
  );
}

/** A blob of an artifact whose bytes are not what its name says (`why`). */
export function unverifiedBlob(
  label: string,
  sha: string,
  artifact: string,
  why: string,
): ProviderError {
  return new ProviderError(
    'DIGEST_MISMATCH',
    `blob sha256:${sha} of ${artifactDigestLabel(artifact)} in ${label} does not verify: ${why}. Nothing of it was used.`,
    {
      hint: 'The store serves bytes that are not what was built (tampering or corruption). Delete the blob there, push the release again from a machine that has it, or build it here.',
      details: { digest: artifact, blob: `sha256:${sha}`, store: label },
    },
  );
}
