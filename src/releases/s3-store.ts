/**
 * A shared artifact store in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO): the same
 * contract as the OCI registry store (`oci-store.ts`), over plain S3 requests signed with AWS
 * Signature Version 4 (the aws4 library; no SDK). Layout under `s3://<bucket>/<prefix>/`:
 *
 * - `blobs/sha256/<sha256>` — one object per blob, named by its sha256: a large file, or a pack
 *   of small files (the same layout as on a registry: `remote-transfer.ts`);
 * - `artifacts/<artifact digest>.packs.json` — which blob holds each pack;
 * - `artifacts/<artifact digest>.json` — the Airlock manifest, written after every blob it
 *   names, so its presence means the artifact is complete.
 *
 * A push sends only the blobs a `HEAD` does not find; a pull fetches only the objects the local
 * store lacks and hashes every byte (a blob that does not digest to its name, or a manifest that
 * does not digest to the artifact digest, is refused with `DIGEST_MISMATCH`). Credentials and
 * endpoint come from the usual AWS variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`, `AWS_REGION` (default `us-east-1`; R2: `auto`), `AWS_ENDPOINT_URL_S3` or
 * `AWS_ENDPOINT_URL` (R2, MinIO; default `https://s3.<region>.amazonaws.com`). Path-style
 * addressing (`<endpoint>/<bucket>/<key>`).
 */
import { hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import aws4 from 'aws4';
import { ProviderError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { mapLimit } from './file-hash.ts';
import { type Manifest, parseManifest, serializeManifest } from './manifest.ts';
import {
  type BlobTransport,
  CONCURRENCY,
  expectStatus,
  type LocalObjects,
  PACK_FILE_MAX,
  planLayers,
  pullLayers,
  pushLayers,
  REMOTE_GC_GRACE_MS,
  type RemoteCollectOptions,
  type RemoteCollectResult,
  type RemoteStore,
  sortForCollection,
  type TransferStats,
} from './remote-transfer.ts';

const EMPTY_SHA = hash('sha256', '', 'hex');

export interface S3Settings {
  /** Endpoint, e.g. `https://<account>.r2.cloudflarestorage.com`; default AWS's for the region. */
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
}

/** The S3 settings of the usual AWS environment variables. */
export function s3SettingsFromEnv(env: Readonly<Record<string, string | undefined>>): S3Settings {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v);
  const settings: S3Settings = {};
  const endpoint = pick('AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL');
  const region = pick('AWS_REGION', 'AWS_DEFAULT_REGION');
  const accessKeyId = pick('AWS_ACCESS_KEY_ID');
  const secretAccessKey = pick('AWS_SECRET_ACCESS_KEY');
  const sessionToken = pick('AWS_SESSION_TOKEN');
  if (endpoint) settings.endpoint = endpoint;
  if (region) settings.region = region;
  if (accessKeyId) settings.accessKeyId = accessKeyId;
  if (secretAccessKey) settings.secretAccessKey = secretAccessKey;
  if (sessionToken) settings.sessionToken = sessionToken;
  return settings;
}

/** Parses `s3://bucket[/prefix]`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([A-Za-z0-9._\-/]*?))?\/?$/.exec(
    url,
  );
  if (!match)
    throw new ProviderError(
      'ARTIFACT_STORE_FAILED',
      `${url} is not an S3 bucket address (s3://<bucket>[/<prefix>], no credentials in it).`,
      {
        hint: 'Write it as s3://<bucket>/<prefix>; the endpoint and credentials come from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.',
      },
    );
  return { bucket: match[1] as string, prefix: match[2] ? `${match[2]}/` : '' };
}

/** The five XML entities, decoded (a listing's keys and tokens). */
const decodeXml = (text: string) =>
  text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] ?? '',
  );

const encodeKey = (key: string) =>
  key
    .split('/')
    .map((s) =>
      encodeURIComponent(s).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');

export class S3Store implements RemoteStore {
  readonly label: string;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #endpoint: URL;
  readonly #region: string;
  readonly #settings: S3Settings;
  readonly #transport: BlobTransport;
  /** Bytes of request bodies sent (uploads), for measurement. */
  sentBytes = 0;

  constructor(url: string, settings: S3Settings = {}) {
    const { bucket, prefix } = parseS3Url(url);
    this.label = url;
    this.#bucket = bucket;
    this.#prefix = prefix;
    this.#region = settings.region ?? 'us-east-1';
    this.#endpoint = new URL(settings.endpoint ?? `https://s3.${this.#region}.amazonaws.com`);
    this.#settings = settings;
    this.#transport = this.#makeTransport();
  }

  async push(manifest: Manifest, local: LocalObjects): Promise<TransferStats> {
    const plan = planLayers(manifest);
    const blobs = plan.files.length + plan.packs.length + 1;
    const key = `${this.#prefix}artifacts/${manifest.digest}.json`;
    const what = `look up ${artifactDigestLabel(manifest.digest)}`;
    if ((await this.#request('HEAD', key, { ok: [200, 404], what })).status === 200)
      return { blobs, moved: 0, bytes: 0, transferred: false };
    const sent = await pushLayers(plan, local, this.#transport, { skip: new Set(), ask: true });
    // Which blob holds each pack, then the manifest: its presence means the artifact is whole.
    const packs: Record<string, string> = {};
    for (const layer of sent.layers) if (layer.pack) packs[layer.pack] = layer.sha;
    const index = Buffer.from(JSON.stringify({ maxFileBytes: PACK_FILE_MAX, packs }));
    await this.#request('PUT', `${this.#prefix}artifacts/${manifest.digest}.packs.json`, {
      body: index,
      ok: [200],
      what: `store the pack index of ${artifactDigestLabel(manifest.digest)}`,
    });
    const config = Buffer.from(serializeManifest(manifest));
    await this.#request('PUT', key, {
      body: config,
      ok: [200],
      what: `store the manifest of ${artifactDigestLabel(manifest.digest)}`,
    });
    return {
      blobs,
      moved: sent.moved + 1,
      bytes: sent.bytes + config.length,
      transferred: true,
    };
  }

  async pull(digest: string, local: LocalObjects): Promise<TransferStats> {
    const label = artifactDigestLabel(digest);
    const response = await this.#request('GET', `${this.#prefix}artifacts/${digest}.json`, {
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
    const text = await response.text();
    let manifest: Manifest;
    try {
      manifest = parseManifest(text, digest);
    } catch (error) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `the manifest of ${label} in ${this.label} does not verify (${(error as Error).message}).`,
        {
          hint: 'The bucket holds bytes that are not what was built: push the release again from a machine that has it, or build it here.',
          details: { digest, store: this.label },
        },
      );
    }
    // The pack index only names blobs: every byte fetched through it is verified.
    const packs = await this.#packs(digest);
    const pulled = await pullLayers(manifest, local, this.#transport, packs);
    await local.addManifest(manifest);
    return {
      blobs: pulled.blobs + 1,
      moved: pulled.moved + 1,
      bytes: pulled.bytes + Buffer.byteLength(text),
      transferred: true,
    };
  }

  /**
   * An artifact's pack index: the blob of each pack (`<number>/<PACKS>` → sha256); empty when
   * the index is missing or was written for another pack size.
   */
  async #packs(digest: string): Promise<Map<string, string>> {
    const indexed = await this.#request('GET', `${this.#prefix}artifacts/${digest}.packs.json`, {
      ok: [200, 404],
      what: `fetch the pack index of ${artifactDigestLabel(digest)}`,
    });
    const index =
      indexed.status === 200
        ? ((await indexed.json().catch(() => ({}))) as {
            maxFileBytes?: number;
            packs?: Record<string, string>;
          })
        : {};
    const packs = new Map<string, string>();
    if (index.maxFileBytes === PACK_FILE_MAX)
      for (const [pack, sha] of Object.entries(index.packs ?? {}))
        if (/^[0-9a-f]{64}$/.test(sha)) packs.set(pack, sha);
    return packs;
  }

  /** The bucket's blobs (`blobs/sha256/<sha256>`), for the loops of `remote-transfer.ts`. */
  #makeTransport(): BlobTransport {
    const blobKey = (sha: string) => `${this.#prefix}blobs/sha256/${sha}`;
    return {
      label: this.label,
      hasBlob: async (sha) =>
        (await this.#request('HEAD', blobKey(sha), { ok: [200, 404], what: 'look up a blob' }))
          .status === 200,
      putBlob: async (sha, body) => {
        await this.#request('PUT', blobKey(sha), {
          body: body instanceof Uint8Array ? body : await readFile(body.file),
          ok: [200],
          what: `upload blob sha256:${sha.slice(0, 12)}`,
        });
      },
      getBlob: async (sha, range) => {
        const r = await this.#request('GET', blobKey(sha), {
          ...(range
            ? { headers: { range: `bytes=${range.offset}-${range.offset + range.length - 1}` } }
            : {}),
          ok: [200, 206, 404],
          what: `fetch blob sha256:${sha.slice(0, 12)}`,
        });
        if (r.status === 404) return null;
        // Verified by the caller, against the file or pack it should be.
        return { bytes: new Uint8Array(await r.arrayBuffer()), partial: r.status === 206 };
      },
    };
  }

  /**
   * See {@link RemoteStore.collect}: deletes the manifests (and pack indexes) of removed
   * artifacts, then the blobs no remaining artifact names that are older than the grace period.
   */
  async collect(
    known: ReadonlySet<string>,
    keep: ReadonlySet<string>,
    options: RemoteCollectOptions = {},
  ): Promise<RemoteCollectResult> {
    const manifests = await this.#list(`${this.#prefix}artifacts/`);
    const held = manifests
      .map(
        (o) => /^([0-9a-f]{64})\.json$/.exec(o.key.slice(`${this.#prefix}artifacts/`.length))?.[1],
      )
      .filter((d): d is string => Boolean(d));
    const sorted = sortForCollection(held, known, keep);
    // Blobs stay while any remaining artifact names them, this project's or not.
    const gone = new Set(sorted.removed);
    const referenced = new Set<string>();
    let unreadable = false;
    await mapLimit(
      held.filter((d) => !gone.has(d)),
      CONCURRENCY,
      async (digest) => {
        const r = await this.#request('GET', `${this.#prefix}artifacts/${digest}.json`, {
          ok: [200, 404],
          what: `read ${artifactDigestLabel(digest)}`,
        });
        if (r.status === 404) return;
        try {
          const manifest = parseManifest(await r.text(), digest);
          for (const entry of manifest.entries)
            if (entry.kind === 'file') referenced.add(entry.sha256);
          // Its packs are blobs too, named by the pack index (which must name every one).
          const packs = await this.#packs(digest);
          if (packs.size < planLayers(manifest).packs.length) throw new Error('pack index');
          for (const sha of packs.values()) referenced.add(sha);
        } catch {
          // What an unreadable manifest names is unknown: no blob can be said unreferenced.
          unreadable = true;
        }
      },
    );
    const oldest = Date.now() - (options.graceMs ?? REMOTE_GC_GRACE_MS);
    const listed = unreadable ? [] : await this.#list(`${this.#prefix}blobs/sha256/`);
    const blobs = listed.filter((o) => {
      const sha = o.key.slice(`${this.#prefix}blobs/sha256/`.length);
      return /^[0-9a-f]{64}$/.test(sha) && !referenced.has(sha) && o.modified <= oldest;
    });
    if (!options.dryRun) {
      // Manifests first: an artifact is whole or absent, never a manifest naming removed blobs.
      for (const digest of sorted.removed)
        for (const key of [`${digest}.json`, `${digest}.packs.json`])
          await this.#request('DELETE', `${this.#prefix}artifacts/${key}`, {
            ok: [200, 204, 404],
            what: `remove ${artifactDigestLabel(digest)}`,
          });
      await mapLimit(blobs, CONCURRENCY, async (o) => {
        await this.#request('DELETE', o.key, { ok: [200, 204, 404], what: 'remove a blob' });
      });
    }
    return {
      ...sorted,
      blobs: { count: blobs.length, bytes: blobs.reduce((sum, o) => sum + o.size, 0) },
    };
  }

  /** Every object under `prefix` (ListObjectsV2, page by page): key, size (bytes), last modified (ms since the epoch). */
  async #list(prefix: string): Promise<{ key: string; size: number; modified: number }[]> {
    const out: { key: string; size: number; modified: number }[] = [];
    let token: string | null = null;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix };
      if (token) query['continuation-token'] = token;
      const r = await this.#request('GET', '', { ok: [200], what: 'list its objects', query });
      const xml = await r.text();
      for (const [, body] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const field = (name: string) =>
          new RegExp(`<${name}>([^<]*)</${name}>`).exec(body ?? '')?.[1] ?? '';
        out.push({
          key: decodeXml(field('Key')),
          size: Number(field('Size')),
          modified: Date.parse(field('LastModified')),
        });
      }
      token = /<IsTruncated>true<\/IsTruncated>/.test(xml)
        ? decodeXml(
            /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1] ?? '',
          ) || null
        : null;
    } while (token);
    return out;
  }

  async #request(
    method: string,
    key: string,
    options: {
      body?: Uint8Array;
      headers?: Record<string, string>;
      ok: number[];
      what: string;
      query?: Record<string, string>;
    },
  ): Promise<Response> {
    const base = this.#endpoint.pathname.replace(/\/$/, '');
    // The bucket itself (a listing) is `/<bucket>`; an object is `/<bucket>/<key>`.
    const pathname = key ? `${base}/${this.#bucket}/${encodeKey(key)}` : `${base}/${this.#bucket}`;
    const query = new URLSearchParams(options.query ?? {}).toString();
    const url = `${this.#endpoint.origin}${pathname}${query ? `?${query}` : ''}`;
    const now = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const payload = options.body ? hash('sha256', options.body, 'hex') : EMPTY_SHA;
    const headers: Record<string, string> = {
      ...options.headers,
      host: this.#endpoint.host,
      'x-amz-content-sha256': payload,
      'x-amz-date': now,
    };
    if (this.#settings.sessionToken) headers['x-amz-security-token'] = this.#settings.sessionToken;
    const { accessKeyId, secretAccessKey } = this.#settings;
    if (accessKeyId && secretAccessKey)
      headers.authorization = signV4({
        method,
        path: `${pathname}${query ? `?${query}` : ''}`,
        headers,
        region: this.#region,
        accessKeyId,
        secretAccessKey,
      });
    const { host: _host, ...sent } = headers;
    if (options.body) this.sentBytes += options.body.length;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: sent,
        ...(options.body ? { body: options.body } : {}),
      });
    } catch (error) {
      throw new ProviderError(
        'ARTIFACT_STORE_FAILED',
        `${this.label} cannot be reached to ${options.what} (${(error as Error).cause ?? (error as Error).message}).`,
        {
          hint: 'Check `artifacts:` and AWS_ENDPOINT_URL_S3; the command can be run again (what was sent is kept).',
        },
      );
    }
    return expectStatus(this.label, method, response, options, {
      denied:
        'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION) to credentials allowed to read (and, where Airlock builds, write) this bucket.',
      other:
        'Check that the bucket exists and the endpoint speaks S3; the command can be run again (what was sent is kept).',
    });
  }
}

/**
 * The `Authorization` header of an S3 request under AWS Signature Version 4, made by the aws4
 * library: `headers` (names in lower case, `host` included) are signed, and `x-amz-date`
 * (`YYYYMMDDTHHMMSSZ`) and `x-amz-content-sha256` (the payload's sha256, hex) must be among them.
 * `path` is the encoded path with its query string, if any (`/bucket?list-type=2&prefix=…`).
 */
export function signV4(request: {
  method: string;
  path: string;
  headers: Record<string, string>;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}): string {
  const { host, ...headers } = request.headers;
  const signed = aws4.sign(
    {
      host,
      path: request.path,
      method: request.method,
      service: 's3',
      region: request.region,
      headers: { ...headers },
    },
    { accessKeyId: request.accessKeyId, secretAccessKey: request.secretAccessKey },
  );
  const authorization = (signed.headers as Record<string, string> | undefined)?.Authorization;
  if (!authorization) throw new Error('aws4 made no Authorization header');
  return authorization;
}
