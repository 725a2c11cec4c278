/**
 * The manifest digest of a tag in Fly's registry, read through the registry's own HTTP API
 * (Docker Registry HTTP API v2 / OCI distribution), for builders whose flyctl output does not
 * print the pushed digest. Authenticates as Fly's registry expects (user `x`, the API token as
 * password), following a Bearer challenge when the registry issues one. The token travels in a
 * header only and never appears in errors.
 */
import { createHash } from 'node:crypto';
import { ProviderError } from '../../errors.ts';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

function challenge(header: string | null): { realm: string; params: URLSearchParams } | null {
  if (!header || !/^bearer\s/i.test(header)) return null;
  const params = new URLSearchParams();
  let realm = '';
  for (const match of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) {
    const [, key, value] = match;
    if (!key || value === undefined) continue;
    if (key === 'realm') realm = value;
    else params.set(key, value);
  }
  return realm ? { realm, params } : null;
}

/**
 * @param registry base URL, e.g. `https://registry.fly.io`.
 * @param repository e.g. `notes-staging`.
 * @throws ProviderError `PROVIDER_AUTH` (401/403), `PROVIDER_COMMAND_FAILED` (anything else).
 */
export async function registryDigest(
  registry: string,
  repository: string,
  tag: string,
  token: string | null,
  signal?: AbortSignal,
): Promise<string> {
  const url = `${registry.replace(/\/$/, '')}/v2/${repository}/manifests/${encodeURIComponent(tag)}`;
  const basic = token ? `Basic ${Buffer.from(`x:${token}`).toString('base64')}` : null;
  const get = (authorization: string | null) =>
    fetch(url, {
      headers: { accept: ACCEPT, ...(authorization ? { authorization } : {}) },
      ...(signal ? { signal } : {}),
    });
  let response = await get(basic);
  if (response.status === 401) {
    const bearer = challenge(response.headers.get('www-authenticate'));
    if (bearer) {
      const tokenUrl = `${bearer.realm}?${bearer.params.toString()}`;
      const issued = await fetch(tokenUrl, {
        headers: basic ? { authorization: basic } : {},
        ...(signal ? { signal } : {}),
      });
      if (issued.ok) {
        const body = (await issued.json()) as { token?: string; access_token?: string };
        const granted = body.token ?? body.access_token;
        if (granted) response = await get(`Bearer ${granted}`);
      }
    }
  }
  if (response.status === 401 || response.status === 403) {
    throw new ProviderError(
      'PROVIDER_AUTH',
      `Fly's registry refused to show ${repository}:${tag} (HTTP ${response.status}).`,
      { hint: 'Check FLY_API_TOKEN: it must be valid and allowed to deploy this app.' },
    );
  }
  if (!response.ok) {
    throw new ProviderError(
      'PROVIDER_COMMAND_FAILED',
      `Fly's registry has no ${repository}:${tag} (HTTP ${response.status}), though flyctl reported pushing it.`,
      { hint: 'Run `airlock build --rebuild` to push the image again.' },
    );
  }
  const header = response.headers.get('docker-content-digest');
  if (header && /^sha256:[0-9a-f]{64}$/.test(header)) return header;
  const body = Buffer.from(await response.arrayBuffer());
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
