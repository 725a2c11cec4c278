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
 *   local store names its objects by), and the smaller ones in 64 packs
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
 * resumes where it stopped. Requests run 16 at once over kept-alive
 * connections. Blobs are uploaded by `POST` + `PUT` (monolithic), or in chunks (`PATCH`) above
 * {@link CHUNK_BYTES}. Credentials come from the environment only
 * (`AIRLOCK_REGISTRY_USER`, `AIRLOCK_REGISTRY_TOKEN`): HTTP basic, or the bearer token the
 * registry's token service issues for them; they never appear in messages.
 */
import { hash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { ProviderError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { type Manifest, parseManifest, serializeManifest } from './manifest.ts';
import {
  type BlobTransport,
  expectStatus,
  type LocalObjects,
  missingBlob,
  PACK_FILE_MAX,
  type PushedLayer,
  planLayers,
  pullLayers,
  pushLayers,
  type RemoteCollectOptions,
  type RemoteCollectResult,
  type RemoteStore,
  sortForCollection,
  type TransferStats,
} from './remote-transfer.ts';

export const AIRLOCK_ARTIFACT_TYPE = 'application/vnd.airlock.artifact.v1';
export const AIRLOCK_MANIFEST_MEDIA_TYPE = 'application/vnd.airlock.manifest.v1+json';
export const AIRLOCK_FILE_MEDIA_TYPE = 'application/vnd.airlock.file.v1';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** Files larger than this (bytes) are uploaded in chunks of this size. */
export const CHUNK_BYTES = 32 * 1024 * 1024;
export const AIRLOCK_PACK_MEDIA_TYPE = 'application/vnd.airlock.pack.v1';
/** `<pack number>/<PACKS>`, e.g. `12/64`. */
const PACK_ANNOTATION = 'dev.airlock.pack';
const PACK_MAX_ANNOTATION = 'dev.airlock.pack.max-file-bytes';
export interface OciCredentials {
  /** User name for basic auth or the token service (ghcr.io accepts any). */
  user?: string;
  /** Password or token. */
  token?: string;
}

/**
 * The credentials for `url` from the environment: `AIRLOCK_REGISTRY_USER` and
 * `AIRLOCK_REGISTRY_TOKEN`; on `ghcr.io`, a workflow job's own `GITHUB_TOKEN` (limited by the
 * job's `packages` permission) when no `AIRLOCK_REGISTRY_TOKEN` is set.
 */
export function ociCredentialsFromEnv(
  url: string,
  env: Readonly<Record<string, string | undefined>>,
): OciCredentials {
  const token =
    env.AIRLOCK_REGISTRY_TOKEN || (url.startsWith('oci://ghcr.io/') ? env.GITHUB_TOKEN : undefined);
  return {
    ...(env.AIRLOCK_REGISTRY_USER ? { user: env.AIRLOCK_REGISTRY_USER } : {}),
    ...(token ? { token } : {}),
  };
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
  readonly #transport: BlobTransport;
  /** Bytes of request bodies sent (uploads), for measurement. */
  sentBytes = 0;

  constructor(url: string, credentials: OciCredentials = {}) {
    const { base, repository } = parseOciUrl(url);
    this.label = url;
    this.#base = base;
    this.#repo = repository;
    this.#credentials = credentials;
    this.#transport = this.#makeTransport();
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
    // Blobs an earlier push of this machine sent are not asked about again; should the registry
    // have lost one since (its own garbage collection), it refuses the manifest and the push is
    // made again asking about every blob.
    const known = (await local.pushedBlobs?.(this.label)) ?? new Set<string>();
    // A repository the registry has never heard of holds no blob: nothing to ask about.
    const listed = await this.#request('GET', '/tags/list?n=1', {
      ok: [200, 404],
      what: 'list the repository',
    });
    await listed.arrayBuffer().catch(() => {});
    const send = async (skip: Set<string>, ask: boolean) => {
      const sent = await pushLayers(plan, local, this.#transport, { skip, ask });
      if (!skip.has(configSha) && !(ask && (await this.#hasBlob(configSha)))) {
        await this.#upload(configSha, config);
        sent.moved += 1;
        sent.bytes += config.length;
      }
      return sent;
    };
    let sent = await send(known, listed.status !== 404);
    const body = (layers: PushedLayer[]) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: AIRLOCK_ARTIFACT_TYPE,
          config: {
            mediaType: AIRLOCK_MANIFEST_MEDIA_TYPE,
            digest: `sha256:${configSha}`,
            size: config.length,
          },
          layers: layers.map(({ sha, size, pack }) =>
            pack === undefined
              ? { mediaType: AIRLOCK_FILE_MEDIA_TYPE, digest: `sha256:${sha}`, size }
              : {
                  mediaType: AIRLOCK_PACK_MEDIA_TYPE,
                  digest: `sha256:${sha}`,
                  size,
                  annotations: {
                    [PACK_ANNOTATION]: pack,
                    [PACK_MAX_ANNOTATION]: String(PACK_FILE_MAX),
                  },
                },
          ),
          annotations: {
            'dev.airlock.artifact.digest': `sha256:${manifest.digest}`,
            'dev.airlock.artifact.files': String(manifest.files),
            'dev.airlock.artifact.bytes': String(manifest.bytes),
          },
        }),
      );
    const putManifest = (ok: number[]) =>
      this.#request('PUT', `/manifests/${tag}`, {
        headers: { 'content-type': OCI_MANIFEST },
        body: body(sent.layers),
        ok,
        what: `store the manifest of ${artifactDigestLabel(manifest.digest)}`,
      });
    const stored = await putManifest(known.size > 0 ? [201, 400] : [201]);
    if (stored.status === 400) {
      await stored.arrayBuffer().catch(() => {});
      const again = await send(new Set(), true);
      sent = { ...again, moved: sent.moved + again.moved, bytes: sent.bytes + again.bytes };
      await putManifest([201]);
    }
    await local.recordPush?.(this.label, manifest.digest, [
      configSha,
      ...sent.layers.map((layer) => layer.sha),
    ]);
    return { blobs: layerCount + 1, moved: sent.moved, bytes: sent.bytes, transferred: true };
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
    const configSha = configDigest.slice(7);
    const config = await this.#transport.getBlob(configSha);
    if (!config) throw missingBlob(this.label, configSha, digest);
    let manifest: Manifest;
    try {
      manifest = parseManifest(Buffer.from(config.bytes).toString('utf8'), digest);
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
    const packs = new Map<string, string>();
    for (const layer of oci.layers ?? []) {
      const pack = layer.annotations?.[PACK_ANNOTATION];
      if (
        layer.mediaType === AIRLOCK_PACK_MEDIA_TYPE &&
        pack &&
        layer.annotations?.[PACK_MAX_ANNOTATION] === String(PACK_FILE_MAX) &&
        /^sha256:[0-9a-f]{64}$/.test(layer.digest ?? '')
      )
        packs.set(pack, (layer.digest as string).slice(7));
    }
    const pulled = await pullLayers(manifest, local, this.#transport, packs);
    await local.addManifest(manifest);
    return {
      blobs: pulled.blobs + 1,
      moved: pulled.moved + 1,
      bytes: pulled.bytes + config.bytes.length,
      transferred: true,
    };
  }

  /** The registry's blobs, for the transfer loops of `remote-transfer.ts`. */
  #makeTransport(): BlobTransport {
    return {
      label: this.label,
      hasBlob: (sha) => this.#hasBlob(sha),
      putBlob: (sha, body) =>
        body instanceof Uint8Array
          ? this.#upload(sha, body)
          : this.#uploadFile(sha, body.file, body.size),
      getBlob: async (sha, range) => {
        const response = await this.#request('GET', `/blobs/sha256:${sha}`, {
          headers: range
            ? { range: `bytes=${range.offset}-${range.offset + range.length - 1}` }
            : {},
          ok: [200, 206, 404],
          what: `fetch blob sha256:${sha.slice(0, 12)}`,
        });
        if (response.status === 404) return null;
        // Verified by the caller, against the file, pack or manifest it should be.
        const bytes = new Uint8Array(await response.arrayBuffer());
        return { bytes, partial: response.status === 206 };
      },
    };
  }

  /**
   * See {@link RemoteStore.collect}: deletes the manifests of removed artifacts (and so their
   * tags); the registry's own garbage collection removes the blobs no manifest names.
   */
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
