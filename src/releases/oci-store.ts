/**
 * A shared artifact store on an OCI registry (any registry that follows the OCI distribution
 * spec: ghcr.io, registry.fly.io, Docker Hub, the CNCF distribution registry), so a release built
 * on one machine can be deployed, promoted and rolled back from any other without a rebuild.
 *
 * One artifact (one service's build output, or a release's migrations) is one OCI manifest:
 *
 * - `config`: the Airlock manifest (`manifest.ts`, serialized JSON, media type
 *   `application/vnd.airlock.manifest.v1+json`): every path, mode, size and sha256;
 * - `layers`: one blob per distinct file content (media type `application/vnd.airlock.file.v1`),
 *   named by the sha256 of its bytes, the same sha256 the local store names its objects by. Two
 *   releases that differ by one file share every other blob: a push sends only the blobs the
 *   registry answers 404 to (`HEAD`), a pull fetches only the objects this machine lacks;
 * - tag `sha256-<artifact digest>` (the artifact digest is the reference every machine knows from
 *   the shared state).
 *
 * Every byte pulled is hashed before it is stored: a blob whose sha256 is not its name, or a
 * config that does not digest to the artifact digest, is refused (`DIGEST_MISMATCH`, naming the
 * digest) and nothing of it is kept. Blobs are uploaded by `POST` + `PUT` (monolithic), or in
 * chunks (`PATCH`) above {@link CHUNK_BYTES}. Credentials come from the environment only
 * (`AIRLOCK_REGISTRY_USER`, `AIRLOCK_REGISTRY_TOKEN`): HTTP basic, or the bearer token the
 * registry's token service issues for them; they never appear in messages.
 */
import { hash } from 'node:crypto';
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
/** Requests in flight at once (HEADs, uploads, downloads). */
const CONCURRENCY = 8;

/** What the local store offers a remote: where its objects are, and how to add verified ones. */
export interface LocalObjects {
  objectPath(sha: string, mode: number): string;
  /** True when the object is present with this size. */
  hasObject(sha: string, mode: 0o644 | 0o755, size: number): boolean;
  /** Stores bytes already verified to have sha256 `sha`. */
  addObject(sha: string, mode: 0o644 | 0o755, bytes: Uint8Array): Promise<void>;
  addManifest(manifest: Manifest): Promise<void>;
  /**
   * sha256s of the file blobs of artifacts this store pushed to `label` before (the remote had
   * them then: a push need not ask about them again), and `record` to note a finished push.
   */
  pushedBlobs?(label: string): Promise<Set<string>>;
  recordPush?(label: string, digest: string): Promise<void>;
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
    const blobs = new Map<string, { size: number; mode: number }>();
    for (const entry of manifest.entries)
      if (entry.kind === 'file' && !blobs.has(entry.sha256))
        blobs.set(entry.sha256, { size: entry.size, mode: entry.mode });
    const present = await this.#request('HEAD', `/manifests/${tag}`, {
      headers: { accept: OCI_MANIFEST },
      ok: [200, 404],
      what: `look up ${artifactDigestLabel(manifest.digest)}`,
    });
    if (present.status === 200)
      return { blobs: blobs.size + 1, moved: 0, bytes: 0, transferred: false };
    const config = Buffer.from(serializeManifest(manifest));
    const configSha = hash('sha256', config, 'hex');
    // Blobs an earlier push of this machine sent are not asked about again; should the registry
    // have lost one since (its own garbage collection), it refuses the manifest and the push is
    // made again asking about every blob.
    const known = (await local.pushedBlobs?.(this.label)) ?? new Set<string>();
    let moved = 0;
    let bytes = 0;
    const sendBlobs = async (skip: Set<string>) =>
      mapLimit(
        [...blobs.entries(), [configSha, { size: config.length, mode: -1 }] as const],
        CONCURRENCY,
        async ([sha, blob]) => {
          if (skip.has(sha) || (await this.#hasBlob(sha))) return;
          try {
            if (blob.mode === -1) await this.#upload(sha, config);
            else await this.#uploadFile(sha, local.objectPath(sha, blob.mode), blob.size);
          } catch (error) {
            // Another machine pushing the same release may have committed this blob first.
            if (await this.#hasBlob(sha)) return;
            throw error;
          }
          moved += 1;
          bytes += blob.size;
        },
      );
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
      layers: [...blobs.entries()].map(([sha, blob]) => ({
        mediaType: AIRLOCK_FILE_MEDIA_TYPE,
        digest: `sha256:${sha}`,
        size: blob.size,
      })),
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
      await sendBlobs(new Set());
      await putManifest([201]);
    }
    await local.recordPush?.(this.label, manifest.digest);
    return { blobs: blobs.size + 1, moved, bytes, transferred: true };
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
    const wanted = new Map<string, { mode: 0o644 | 0o755; size: number }[]>();
    for (const entry of manifest.entries) {
      if (entry.kind !== 'file' || local.hasObject(entry.sha256, entry.mode, entry.size)) continue;
      const modes = wanted.get(entry.sha256) ?? [];
      if (!modes.some((m) => m.mode === entry.mode))
        modes.push({ mode: entry.mode, size: entry.size });
      wanted.set(entry.sha256, modes);
    }
    let bytes = configBytes.length;
    await mapLimit([...wanted.entries()], CONCURRENCY, async ([sha, modes]) => {
      const blob = await this.#fetchBlob(sha, digest);
      bytes += blob.length;
      for (const { mode } of modes) await local.addObject(sha, mode, blob);
    });
    await local.addManifest(manifest);
    const files = new Set<string>();
    for (const entry of manifest.entries) if (entry.kind === 'file') files.add(entry.sha256);
    return { blobs: files.size + 1, moved: wanted.size + 1, bytes, transferred: true };
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
    if (response.status === 404)
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `blob sha256:${sha} of ${artifactDigestLabel(artifact)} is missing from ${this.label}.`,
        {
          hint: 'Push the release again from a machine that has it (`airlock build --rebuild` there), or build it here.',
          details: { digest: artifact, blob: `sha256:${sha}`, store: this.label },
        },
      );
    const bytes = new Uint8Array(await response.arrayBuffer());
    const actual = hash('sha256', bytes, 'hex');
    if (actual !== sha)
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `blob sha256:${sha} of ${artifactDigestLabel(artifact)} in ${this.label} does not verify: its bytes digest to sha256:${actual}. Nothing of it was used.`,
        {
          hint: 'The registry serves bytes that are not what was built (tampering or corruption). Delete the blob in the registry, push the release again from a machine that has it, or build it here.',
          details: {
            digest: artifact,
            blob: `sha256:${sha}`,
            actual: `sha256:${actual}`,
            store: this.label,
          },
        },
      );
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
    let response = await send();
    if (response.status === 401) {
      await response.arrayBuffer().catch(() => {});
      await this.#authenticate(response.headers.get('www-authenticate') ?? '');
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
    url.searchParams.set('scope', params.scope ?? `repository:${this.#repo}:pull,push`);
    const r = await fetch(url, { headers: basic ? { authorization: basic } : {} }).catch(
      () => null,
    );
    if (!r?.ok) return;
    const body = (await r.json().catch(() => ({}))) as { token?: string; access_token?: string };
    const issued = body.token ?? body.access_token;
    if (issued) this.#auth = `Bearer ${issued}`;
  }
}

/** An upload location with `digest=sha256:<sha>` added to its query. */
function withDigest(location: string, sha: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=sha256:${sha}`;
}
