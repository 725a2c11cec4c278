/**
 * FAKE Infisical: a local HTTP server on 127.0.0.1 shaped after Infisical's documented REST API,
 * only the part Airlock uses — universal auth (`POST /api/v1/auth/universal-auth/login`
 * {clientId, clientSecret} → {accessToken, expiresIn, tokenType}), list (`GET
 * /api/v3/secrets/raw?workspaceId&environment&secretPath` → {secrets: [{secretKey, secretValue,
 * environment, secretPath, …}], imports: []}), create (`POST /api/v3/secrets/raw/{name}`) and
 * update (`PATCH /api/v3/secrets/raw/{name}`) with {workspaceId, environment, secretPath,
 * secretValue, type}. Errors answer {statusCode, message, error} as Infisical does. Secrets are
 * kept per (project, environment slug, path); a token is needed for every secrets call.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeInfisical {
  url: string;
  /** Stored values, by `project/environment:path` then name (for assertions). */
  secrets: Map<string, Map<string, string>>;
  /** Every request, method and path (no bodies). */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeInfisical(identity: {
  clientId: string;
  clientSecret: string;
}): Promise<FakeInfisical> {
  const secrets = new Map<string, Map<string, string>>();
  const tokens = new Set<string>();
  const requests: string[] = [];
  const scope = (p: { workspaceId?: unknown; environment?: unknown; secretPath?: unknown }) =>
    `${String(p.workspaceId)}/${String(p.environment)}:${String(p.secretPath ?? '/')}`;
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, message: string) =>
    send(res, status, {
      statusCode: status,
      message,
      error: status === 401 ? 'Unauthorized' : 'BadRequest',
    });
  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return chunks.length
      ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)
      : {};
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push(`${req.method} ${url.pathname}`);
      if (req.method === 'POST' && url.pathname === '/api/v1/auth/universal-auth/login') {
        const b = await body(req);
        if (b.clientId !== identity.clientId || b.clientSecret !== identity.clientSecret)
          return fail(res, 401, 'Invalid credentials');
        const accessToken = randomUUID();
        tokens.add(accessToken);
        return send(res, 200, {
          accessToken,
          expiresIn: 7200,
          accessTokenMaxTTL: 43200,
          tokenType: 'Bearer',
        });
      }
      const auth = req.headers.authorization ?? '';
      if (!tokens.has(auth.replace(/^Bearer /, '')))
        return fail(res, 401, 'Token missing or invalid');
      if (req.method === 'GET' && url.pathname === '/api/v3/secrets/raw') {
        const q = Object.fromEntries(url.searchParams);
        const kept = secrets.get(scope(q)) ?? new Map();
        return send(res, 200, {
          secrets: [...kept].map(([secretKey, secretValue]) => ({
            id: randomUUID(),
            workspace: q.workspaceId,
            environment: q.environment,
            version: 1,
            type: 'shared',
            secretKey,
            secretValue,
            secretComment: '',
            secretPath: q.secretPath ?? '/',
          })),
          imports: [],
        });
      }
      const named = /^\/api\/v3\/secrets\/raw\/([^/]+)$/.exec(url.pathname);
      if (named && (req.method === 'POST' || req.method === 'PATCH')) {
        const name = decodeURIComponent(named[1] as string);
        const b = await body(req);
        if (typeof b.secretValue !== 'string' || !b.environment || !b.workspaceId)
          return fail(res, 400, 'secretValue, environment and workspaceId are required');
        const key = scope(b);
        const kept = secrets.get(key) ?? new Map<string, string>();
        if (req.method === 'POST' && kept.has(name)) return fail(res, 400, 'Secret already exist');
        if (req.method === 'PATCH' && !kept.has(name))
          return fail(res, 404, `Secret with name '${name}' not found`);
        kept.set(name, b.secretValue);
        secrets.set(key, kept);
        return send(res, 200, {
          secret: {
            secretKey: name,
            environment: b.environment,
            secretPath: b.secretPath,
            version: 1,
          },
        });
      }
      return fail(res, 404, `Route ${req.method}:${url.pathname} not found`);
    })().catch((error: unknown) => fail(res, 500, String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    secrets,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
