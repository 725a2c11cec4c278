/**
 * A shared artifact store on an OCI registry (any registry that follows the OCI distribution
 * spec: ghcr.io, registry.fly.io, Docker Hub, the CNCF distribution registry), so a release built
 * on one machine can be deployed, promoted and rolled back from any other without a rebuild.
 *
 * One artifact (one service's build output, or a release's migrations) is one OCI manifest:
 *
 * - `config`: the Airlock manifest (`manifest.ts`, serialized JSON, media type
 *   `application/vnd.airlock.manifest.v1+json`): every path, mode, size and sha256;
 * - `layers`: each file larger than {@link PACK_FILE_MAX} as a blob of its own (media type
 *   `application/vnd.airlock.file.v1`, named by the sha256 of its bytes, the same sha256 the
 *   local store names its objects by), and the smaller ones in {@link PACKS} packs
 *   (`application/vnd.airlock.pack.v1`, see {@link planLayers}): a few hundred requests rather
 *   than one per file. Two releases that differ by one file share every other blob: a push sends
 *   only the blobs the registry lacks (no question asked in a repository that does not exist
 *   yet, nor about blobs this machine pushed there before), a pull fetches only what this machine
 *   lacks (a few files of a pack as byte ranges);
 * - tag `sha256-<artifact digest>` (the artifact digest is the reference every machine knows from
 *   the shared state).
 *
 * Every byte pulled is hashed before it is stored: a blob whose sha256 is not its name, or a
 * config that does not digest to the artifact digest, is refused (`DIGEST_MISMATCH`, naming the
 * digest) and nothing of it is kept; what verified is kept, so a pull that was interrupted
 * resumes where it stopped. Requests run {@link CONCURRENCY} at once over kept-alive
 * connections. Blobs are uploaded by `POST` + `PUT` (monolithic), or in chunks (`PATCH`) above
 * {@link CHUNK_BYTES}. Credentials come from the environment only
 * (`AIRLOCK_REGISTRY_USER`, `AIRLOCK_REGISTRY_TOKEN`): HTTP basic, or the bearer token the
 * registry's token service issues for them; they never appear in messages.
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { ProviderError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { mapLimit } from './file-hash.ts';
import { type Manifest, parseManifest, serializeManifest } from './manifest.ts';

export const AIRLOCK_ARTIFACT_TYPE = 'application/vnd.airlock.artifact.v1';
export const AIRLOCK_MANIFEST_MEDIA_TYPE = 'application/vnd.airlock.manifest.v1+json';
export const AIRLOCK_FILE_MEDIA_TYPE = 'application/vnd.airlock.file.v1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** Files larger than this (bytes) are uploaded in chunks of this size. */
export const CHUNK_BYTES = 32 * 1024 * 1024;
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
export const AIRLOCK_PACK_MEDIA_TYPE = 'application/vnd.airlock.pack.v1';
/** `<pack number>/<PACKS>`, e.g. `12/64`. */
const PACK_PREFIX_ANNOTATION = 'dev.airlock.pack';
const PACK_MAX_ANNOTATION = 'dev.airlock.pack.max-file-bytes';
/** A pull fetches up to this many files of a pack as byte ranges rather than the whole pack. */
const RANGE_FILES_MAX = 8;

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
  /** Distinct blobs the artifact names (its config included). */
  blobs: number;
  /** Blobs sent or fetched (the others were already there). */
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

export interface OciCredentials {
  /** User name for basic auth or the token service (ghcr.io accepts any). */
  user?: string;
  /** Password or token. */
  token?: string;
}

/** Parses `oci://host[:port]/repository/path`; loopback hosts are spoken to over plain HTTP. */
export function parseOciUrl(url: string): { base: string; host: string; repository: string } {
  const match =
    /^oci:\/\/([^/@\s]+)\/([a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)$/.exec(
      url,
    );
  if (!match)
    throw new ProviderError(
      'ARTIFACT_STORE_FAILED',
      `${url} is not an OCI repository address (oci://<host[:port]>/<repository>, lower case, no credentials in it).`,
      {
        hint: 'Write it as oci://<registry host[:port]>/<repository>, e.g. oci://ghcr.io/acme/app (lower case; no credentials in it: they come from AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_TOKEN).',
      },
    );
  const host = match[1] as string;
  const hostname = host.replace(/:\d+$/, '');
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
  return { base: `${loopback ? 'http' : 'https'}://${host}`, host, repository: match[2] as string };
}

export class OciStore implements RemoteStore {
  readonly label: string;
  readonly #base: string;
  readonly #repo: string;
  readonly #credentials: OciCredentials;
  #auth: string | null = null;
  /** The token request under way (one for all concurrent requests that met a 401). */
  #authenticating: Promise<void> | null = null;
  /** A push asks the token service for `pull,push` at once. */
  #pushing = false;
  /** Bytes of request bodies sent (uploads), for measurement. */
  sentBytes = 0;

  constructor(url: string, credentials: OciCredentials = {}) {
    const { base, repository } = parseOciUrl(url);
    this.label = url;
    this.#base = base;
    this.#repo = repository;
    this.#credentials = credentials;
  }

  /** The tag an artifact is stored under. */
  static tagOf(digest: string): string {
    return `sha256-${digest}`;
  }

  async push(manifest: Manifest, local: LocalObjects): Promise<TransferStats> {
    const tag = OciStore.tagOf(manifest.digest);
    this.#pushing = true;
    const plan = planLayers(manifest);
    const layerCount = plan.files.length + plan.packs.length;
    const present = await this.#request('HEAD', `/manifests/${tag}`, {
      headers: { accept: OCI_MANIFEST },
      ok: [200, 404],
      what: `look up ${artifactDigestLabel(manifest.digest)}`,
    });
    if (present.status === 200)
      return { blobs: layerCount + 1, moved: 0, bytes: 0, transferred: false };
    const config = Buffer.from(serializeManifest(manifest));
    const configSha = hash('sha256', config, 'hex');
    // A pack's bytes are its members' objects, concatenated in sha256 order (read when its turn
    // comes, so at most CONCURRENCY packs are in memory).
    const packBytes = (pack: PlannedPack) =>
      Buffer.concat(pack.members.map((m) => readFileSync(local.objectPath(m.sha, m.mode))));
    const layers: Array<{ mediaType: string; digest: string; size: number; prefix?: string }> =
      new Array(layerCount);
    // Blobs an earlier push of this machine sent are not asked about again; should the registry
    // have lost one since (its own garbage collection), it refuses the manifest and the push is
    // made again asking about every blob.
    const known = (await local.pushedBlobs?.(this.label)) ?? new Set<string>();
    // A repository the registry has never heard of holds no blob: nothing to ask about.
    const fresh = await this.#request('GET', '/tags/list?n=1', {
      ok: [200, 404],
      what: 'list the repository',
    });
    await fresh.arrayBuffer().catch(() => {});
    let emptyRepository = fresh.status === 404;
    let moved = 0;
    let bytes = 0;
    type Job =
      | { kind: 'config' }
      | { kind: 'file'; index: number; file: PlannedFile }
      | { kind: 'pack'; index: number; pack: PlannedPack };
    const jobs: Job[] = [
      { kind: 'config' },
      ...plan.packs.map((pack, index): Job => ({ kind: 'pack', index, pack })),
      ...plan.files.map((file, i): Job => ({ kind: 'file', index: plan.packs.length + i, file })),
    ];
    const send = async (
      sha: string,
      size: number,
      skip: Set<string>,
      upload: () => Promise<void>,
    ) => {
      if (skip.has(sha) || (!emptyRepository && (await this.#hasBlob(sha)))) return;
      try {
        await upload();
      } catch (error) {
        // Another machine pushing the same release may have committed this blob first.
        if (await this.#hasBlob(sha)) return;
        throw error;
      }
      moved += 1;
      bytes += size;
    };
    const sendBlobs = (skip: Set<string>) =>
      mapLimit(jobs, CONCURRENCY, async (job) => {
        if (job.kind === 'config')
          return send(configSha, config.length, skip, () => this.#upload(configSha, config));
        if (job.kind === 'file') {
          const { sha, size, mode } = job.file;
          layers[job.index] = { mediaType: AIRLOCK_FILE_MEDIA_TYPE, digest: `sha256:${sha}`, size };
          return send(sha, size, skip, () =>
            this.#uploadFile(sha, local.objectPath(sha, mode), size),
          );
        }
        const body = packBytes(job.pack);
        const sha = hash('sha256', body, 'hex');
        layers[job.index] = {
          mediaType: AIRLOCK_PACK_MEDIA_TYPE,
          digest: `sha256:${sha}`,
          size: body.length,
          prefix: job.pack.prefix,
        };
        return send(sha, body.length, skip, () => this.#upload(sha, body));
      });
    await sendBlobs(known);
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: AIRLOCK_ARTIFACT_TYPE,
      config: {
        mediaType: AIRLOCK_MANIFEST_MEDIA_TYPE,
        digest: `sha256:${configSha}`,
        size: config.length,
      },
      layers: layers.map(({ prefix, ...layer }) =>
        prefix === undefined
          ? layer
          : {
              ...layer,
              annotations: {
                [PACK_PREFIX_ANNOTATION]: prefix,
                [PACK_MAX_ANNOTATION]: String(PACK_FILE_MAX),
              },
            },
      ),
      annotations: {
        'dev.airlock.artifact.digest': `sha256:${manifest.digest}`,
        'dev.airlock.artifact.files': String(manifest.files),
        'dev.airlock.artifact.bytes': String(manifest.bytes),
      },
    });
    const putManifest = (ok: number[]) =>
      this.#request('PUT', `/manifests/${tag}`, {
        headers: { 'content-type': OCI_MANIFEST },
        body: Buffer.from(body),
        ok,
        what: `store the manifest of ${artifactDigestLabel(manifest.digest)}`,
      });
    const stored = await putManifest(known.size > 0 ? [201, 400] : [201]);
    if (stored.status === 400) {
      await stored.arrayBuffer().catch(() => {});
      emptyRepository = false;
      await sendBlobs(new Set());
      await putManifest([201]);
    }
    await local.recordPush?.(this.label, manifest.digest, [
      configSha,
      ...layers.map((layer) => layer.digest.slice(7)),
    ]);
    return { blobs: layerCount + 1, moved, bytes, transferred: true };
  }

  async pull(digest: string, local: LocalObjects): Promise<TransferStats> {
    const label = artifactDigestLabel(digest);
    const response = await this.#request('GET', `/manifests/${OciStore.tagOf(digest)}`, {
      headers: { accept: OCI_MANIFEST },
      ok: [200, 404],
      what: `fetch ${label}`,
    });
    if (response.status === 404)
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${label} is neither on this machine nor in ${this.label}.`,
        {
          hint: 'Build the release on a machine whose config names this artifact store (`airlock build` pushes it), or build it here with `airlock build --commit <sha>`.',
          details: { digest, store: this.label },
        },
      );
    const oci = (await response.json()) as {
      config?: { digest?: string; mediaType?: string };
      layers?: Array<{
        mediaType?: string;
        digest?: string;
        size?: number;
        annotations?: Record<string, string>;
      }>;
    };
    const configDigest = oci.config?.digest ?? '';
    if (
      oci.config?.mediaType !== AIRLOCK_MANIFEST_MEDIA_TYPE ||
      !/^sha256:[0-9a-f]{64}$/.test(configDigest)
    )
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${this.label} holds something other than an Airlock artifact under ${label}.`,
        {
          hint: 'Point `artifacts:` at a repository only Airlock writes to.',
          details: { digest, store: this.label },
        },
      );
    const configBytes = await this.#fetchBlob(configDigest.slice(7), digest);
    let manifest: Manifest;
    try {
      manifest = parseManifest(Buffer.from(configBytes).toString('utf8'), digest);
    } catch (error) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `the manifest of ${label} in ${this.label} does not verify (${(error as Error).message}).`,
        {
          hint: 'The registry holds bytes that are not what was built: push the release again from a machine that has it (`airlock build --rebuild`), or build it here.',
          details: { digest, blob: configDigest, store: this.label },
        },
      );
    }
    // Which files travel in which pack follows from the (verified) Airlock manifest alone; the
    // OCI manifest only names each pack's blob. Everything it says is checked against bytes.
    const plan = planLayers(manifest);
    const packBlobs = new Map<string, string>();
    for (const layer of oci.layers ?? []) {
      const prefix = layer.annotations?.[PACK_PREFIX_ANNOTATION];
      if (
        layer.mediaType === AIRLOCK_PACK_MEDIA_TYPE &&
        prefix &&
        layer.annotations?.[PACK_MAX_ANNOTATION] === String(PACK_FILE_MAX) &&
        /^sha256:[0-9a-f]{64}$/.test(layer.digest ?? '')
      )
        packBlobs.set(prefix, (layer.digest as string).slice(7));
    }
    const lacks = (m: PlannedFile) => m.modes.some((mode) => !local.hasObject(m.sha, mode, m.size));
    let bytes = configBytes.length;
    let moved = 1;
    const store = async (m: PlannedFile, blob: Uint8Array) => {
      for (const mode of m.modes)
        if (!local.hasObject(m.sha, mode, m.size)) await local.addObject(m.sha, mode, blob);
      moved += 1;
    };
    type Job = { kind: 'file'; file: PlannedFile } | { kind: 'pack'; pack: PlannedPack };
    const jobs: Job[] = [
      ...plan.packs.map((pack): Job => ({ kind: 'pack', pack })),
      ...plan.files.map((file): Job => ({ kind: 'file', file })),
    ];
    await mapLimit(jobs, CONCURRENCY, async (job) => {
      if (job.kind === 'file') {
        if (!lacks(job.file)) return;
        const blob = await this.#fetchBlob(job.file.sha, digest);
        bytes += blob.length;
        await store(job.file, blob);
        return;
      }
      const missing = job.pack.members.filter(lacks);
      if (missing.length === 0) return;
      const packSha = packBlobs.get(job.pack.prefix);
      if (!packSha) throw this.#missing(missing[0]?.sha ?? '', digest);
      const missingBytes = missing.reduce((n, m) => n + m.size, 0);
      if (missing.length <= RANGE_FILES_MAX && missingBytes * 2 < job.pack.size) {
        // A few files of a pack this machine mostly holds (the next release of an app): only
        // their byte ranges, each verified against its file's sha256.
        for (const m of missing) {
          const blob = m.size === 0 ? new Uint8Array() : await this.#fetchRange(packSha, m, digest);
          bytes += blob.length;
          await store(m, blob);
        }
        return;
      }
      const pack = await this.#fetchBlob(packSha, digest);
      bytes += pack.length;
      if (pack.length !== job.pack.size)
        throw this.#unverified(
          packSha,
          digest,
          `it holds ${pack.length} bytes, not ${job.pack.size}`,
        );
      for (const m of missing) {
        const blob = pack.subarray(m.offset, m.offset + m.size);
        const actual = hash('sha256', blob, 'hex');
        if (actual !== m.sha)
          throw this.#unverified(m.sha, digest, `its bytes digest to sha256:${actual}`);
        await store(m, blob);
      }
    });
    await local.addManifest(manifest);
    return {
      blobs: plan.files.length + plan.packs.length + 1,
      moved,
      bytes,
      transferred: true,
    };
  }

  /** One member's bytes out of a pack (a `Range` request), verified against its sha256. */
  async #fetchRange(packSha: string, m: PlannedFile, artifact: string): Promise<Uint8Array> {
    const response = await this.#request('GET', `/blobs/sha256:${packSha}`, {
      headers: { range: `bytes=${m.offset}-${m.offset + m.size - 1}` },
      ok: [200, 206, 404],
      what: `fetch blob sha256:${packSha.slice(0, 12)}`,
    });
    if (response.status === 404) throw this.#missing(m.sha, artifact);
    const body = new Uint8Array(await response.arrayBuffer());
    // A registry that ignores ranges answers the whole pack.
    const blob = response.status === 206 ? body : body.subarray(m.offset, m.offset + m.size);
    const actual = hash('sha256', blob, 'hex');
    if (actual !== m.sha)
      throw this.#unverified(m.sha, artifact, `its bytes digest to sha256:${actual}`);
    return blob;
  }

  #missing(sha: string, artifact: string): ProviderError {
    return new ProviderError(
      'DIGEST_MISMATCH',
      `blob sha256:${sha} of ${artifactDigestLabel(artifact)} is missing from ${this.label}.`,
      {
        hint: 'Push the release again from a machine that has it (`airlock build --rebuild` there), or build it here.',
        details: { digest: artifact, blob: `sha256:${sha}`, store: this.label },
      },
    );
  }

  #unverified(sha: string, artifact: string, why: string): ProviderError {
    return new ProviderError(
      'DIGEST_MISMATCH',
      `blob sha256:${sha} of ${artifactDigestLabel(artifact)} in ${this.label} does not verify: ${why}. Nothing of it was used.`,
      {
        hint: 'The registry serves bytes that are not what was built (tampering or corruption). Delete the blob in the registry, push the release again from a machine that has it, or build it here.',
        details: { digest: artifact, blob: `sha256:${sha}`, store: this.label },
      },
    );
  }

  /** A blob's bytes, verified: their sha256 must be `sha`. */
  async collect(
    known: ReadonlySet<string>,
    keep: ReadonlySet<string>,
    options: RemoteCollectOptions = {},
  ): Promise<RemoteCollectResult> {
    const held: string[] = [];
    let next: string | null = '/tags/list?n=1000';
    while (next) {
      const response = await this.#request('GET', next, {
        ok: [200, 404],
        what: 'list the artifacts it holds',
      });
      if (response.status === 404) {
        // No repository yet: nothing was ever pushed.
        await response.arrayBuffer().catch(() => {});
        break;
      }
      const body = (await response.json()) as { tags?: string[] | null };
      for (const tag of body.tags ?? [])
        if (/^sha256-[0-9a-f]{64}$/.test(tag)) held.push(tag.slice('sha256-'.length));
      // Pagination: `Link: </v2/<repo>/tags/list?last=…&n=…>; rel="next"`.
      next = /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get('link') ?? '')?.[1] ?? null;
    }
    const sorted = sortForCollection(held, known, keep);
    if (!options.dryRun)
      for (const digest of sorted.removed) {
        const label = artifactDigestLabel(digest);
        const head = await this.#request('HEAD', `/manifests/${OciStore.tagOf(digest)}`, {
          headers: { accept: OCI_MANIFEST },
          ok: [200, 404],
          what: `look up ${label}`,
        });
        const manifestDigest = head.headers.get('docker-content-digest');
        if (head.status === 404 || !manifestDigest) continue;
        // A manifest is deleted by its own digest, which removes every tag naming it; its blobs
        // go when the registry collects what no manifest refers to.
        const removed = await this.#request('DELETE', `/manifests/${manifestDigest}`, {
          ok: [202, 404, 405],
          what: `remove ${label}`,
        });
        if (removed.status === 405)
          throw new ProviderError(
            'ARTIFACT_STORE_FAILED',
            `${this.label} does not allow removing manifests through the registry API (HTTP 405), so ${label} stays.`,
            {
              hint: "Allow deletes on the registry (the CNCF distribution registry: `storage: { delete: { enabled: true } }`), or remove old versions with the registry's own retention (ghcr.io: the package's settings or GitHub's packages API); `airlock gc --remote --dry-run` lists what may go.",
              details: { store: this.label, digest },
            },
          );
      }
    return { ...sorted, blobs: null };
  }

  async #fetchBlob(sha: string, artifact: string): Promise<Uint8Array> {
    const response = await this.#request('GET', `/blobs/sha256:${sha}`, {
      ok: [200, 404],
      what: `fetch blob sha256:${sha.slice(0, 12)}`,
    });
    if (response.status === 404) throw this.#missing(sha, artifact);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const actual = hash('sha256', bytes, 'hex');
    if (actual !== sha)
      throw this.#unverified(sha, artifact, `its bytes digest to sha256:${actual}`);
    return bytes;
  }

  async #hasBlob(sha: string): Promise<boolean> {
    const r = await this.#request('HEAD', `/blobs/sha256:${sha}`, {
      ok: [200, 404],
      what: 'look up a blob',
    });
    return r.status === 200;
  }

  async #uploadFile(sha: string, file: string, size: number): Promise<void> {
    if (size <= CHUNK_BYTES) {
      await this.#upload(sha, await readFile(file));
      return;
    }
    let location = await this.#startUpload();
    const handle = await open(file, 'r');
    try {
      for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
        const length = Math.min(CHUNK_BYTES, size - offset);
        const chunk = Buffer.alloc(length);
        await handle.read(chunk, 0, length, offset);
        const r = await this.#request('PATCH', location, {
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${offset}-${offset + length - 1}`,
          },
          body: chunk,
          ok: [202],
          what: `upload blob sha256:${sha.slice(0, 12)}`,
        });
        location = r.headers.get('location') ?? location;
      }
    } finally {
      await handle.close();
    }
    await this.#request('PUT', withDigest(location, sha), {
      ok: [201],
      what: `finish blob sha256:${sha.slice(0, 12)}`,
    });
  }

  async #startUpload(): Promise<string> {
    const r = await this.#request('POST', '/blobs/uploads/', {
      ok: [202],
      what: 'start an upload',
    });
    const location = r.headers.get('location');
    if (!location)
      throw new ProviderError(
        'ARTIFACT_STORE_FAILED',
        `${this.label} started an upload without saying where to send it.`,
        {
          hint: 'Use a registry that follows the OCI distribution spec.',
        },
      );
    return location;
  }

  async #upload(sha: string, bytes: Uint8Array): Promise<void> {
    const location = await this.#startUpload();
    await this.#request('PUT', withDigest(location, sha), {
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
      ok: [201],
      what: `upload blob sha256:${sha.slice(0, 12)}`,
    });
  }

  /**
   * One request, authenticating on a 401 challenge (basic, or a bearer token from the
   * registry's token service) and retrying once. `where` is a path under `/v2/<repo>` or an
   * upload location the registry gave.
   */
  async #request(
    method: string,
    where: string,
    options: { headers?: Record<string, string>; body?: Uint8Array; ok: number[]; what: string },
  ): Promise<Response> {
    const url = /^https?:\/\//.test(where)
      ? where
      : where.startsWith('/v2/')
        ? `${this.#base}${where}`
        : `${this.#base}/v2/${this.#repo}${where}`;
    const send = async () => {
      const headers: Record<string, string> = { ...options.headers };
      if (this.#auth) headers.authorization = this.#auth;
      if (options.body) this.sentBytes += options.body.length;
      try {
        return await fetch(url, {
          method,
          headers,
          ...(options.body ? { body: options.body } : {}),
        });
      } catch (error) {
        throw new ProviderError(
          'ARTIFACT_STORE_FAILED',
          `${this.label} cannot be reached to ${options.what} (${(error as Error).cause ?? (error as Error).message}).`,
          {
            hint: 'Check the address in `artifacts:` and that the registry is up; the command can be run again (what was sent is kept).',
          },
        );
      }
    };
    const sentWith = this.#auth;
    let response = await send();
    if (response.status === 401) {
      await response.arrayBuffer().catch(() => {});
      // Concurrent requests that met the same 401 wait for one token rather than each asking.
      if (this.#auth === sentWith) {
        this.#authenticating ??= this.#authenticate(
          response.headers.get('www-authenticate') ?? '',
        ).finally(() => {
          this.#authenticating = null;
        });
        await this.#authenticating;
      }
      response = await send();
    }
    return expectStatus(this.label, method, response, options, {
      denied:
        'Set AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_TOKEN to credentials allowed to read (and, where Airlock builds, write) this repository.',
      other:
        'Check that the registry follows the OCI distribution spec; the command can be run again (what was sent is kept).',
    });
  }

  async #authenticate(challenge: string): Promise<void> {
    const { user, token } = this.#credentials;
    const basic = token
      ? `Basic ${Buffer.from(`${user || 'airlock'}:${token}`).toString('base64')}`
      : null;
    const scheme = challenge.split(/\s+/, 1)[0]?.toLowerCase();
    if (scheme === 'basic') {
      this.#auth = basic;
      return;
    }
    if (scheme !== 'bearer') {
      this.#auth = basic;
      return;
    }
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    if (!params.realm) return;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    // The challenge names what this request needs; a push asks for both actions at once.
    const own = `repository:${this.#repo}:`;
    url.searchParams.set(
      'scope',
      this.#pushing ? `${own}pull,push` : (params.scope ?? `${own}pull`),
    );
    const r = await fetch(url, { headers: basic ? { authorization: basic } : {} }).catch(
      (error: Error) => {
        throw new ProviderError(
          'ARTIFACT_STORE_FAILED',
          `the token service of ${this.label} (${url.origin}${url.pathname}) cannot be reached (${error.cause ?? error.message}).`,
          {
            hint: 'Check that the registry and its token service are up; the command can be run again.',
          },
        );
      },
    );
    if (r.status === 401 || r.status === 403) {
      await r.arrayBuffer().catch(() => {});
      throw new ProviderError(
        'ARTIFACT_STORE_FAILED',
        `the token service of ${this.label} answered ${r.status}: it refused ${token ? 'the credentials' : 'to serve without credentials'}.`,
        {
          hint: 'Set AIRLOCK_REGISTRY_USER and AIRLOCK_REGISTRY_TOKEN to credentials allowed to read (and, where Airlock builds, write) this repository.',
          details: { status: r.status, store: this.label },
        },
      );
    }
    if (!r.ok) return;
    const body = (await r.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const issued = body.token ?? body.access_token;
    if (issued) this.#auth = `Bearer ${issued}`;
  }
}

/** An upload location with `digest=sha256:<sha>` added to its query. */
function withDigest(location: string, sha: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=sha256:${sha}`;
}
