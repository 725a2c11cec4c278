/**
 * `createApp(deps)`: the Hono app behind `airlock serve`, with no socket (tests call
 * `app.request`; `serve.ts` is the only place that listens). It serves the JSON API under
 * `/api` (OpenAPI at `/api/openapi.json`), the dashboard's pages, `/healthz` and `/readyz`.
 * Errors render in one shape (`{ error: { kind, code, message, hint? } }`, as the CLI's
 * `--json`); an unexpected fault says only that it is one (its stack stays in the log).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { AirlockError } from '../errors.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { actionRoutes } from './actions.ts';
import { apiRoutes } from './api.ts';
import { statusOf } from './app-status.ts';
import { identify } from './auth.ts';
import { dashboardRoutes } from './dashboard.ts';
import { LiveHub } from './live.ts';
import type { ServerEnv } from './server-env.ts';

/** One line of the request log (JSON). */
export interface RequestLogEntry {
  at: string;
  method: string;
  path: string;
  status: number;
  /** Wall time to the response's headers (ms). */
  ms: number;
  address: string;
  principal: string | null;
  /** Set for a 500: the fault's message (never shown to the client). */
  error?: string;
}

export interface ServerDeps {
  /** The server's context: its state store, configuration and clock. */
  ctx: AirlockContext;
  /** Receives one entry per request (default: none). */
  log?: (entry: RequestLogEntry) => void;
  /** The client's address for a request (serve.ts reads the socket); default `unknown`. */
  addressOf?: (request: Request, env: unknown) => string;
  /** Aborted at shutdown: live streams end. */
  signal?: AbortSignal;
  /** Mark cookies `Secure` (the server is behind TLS). */
  secureCookies?: boolean;
  /** How often live pages read the state store for changes (ms; default 100). */
  pollMs?: number;
  /**
   * Promotions and rollbacks in progress are added here while they run (default: a set of the
   * app's own); `serve.ts` waits for them at shutdown.
   */
  operations?: Set<Promise<unknown>>;
}

/** The app; see the module comment. */
export function createApp(deps: ServerDeps): OpenAPIHono<ServerEnv> {
  const app = new OpenAPIHono<ServerEnv>();
  const hub = new LiveHub(deps.ctx.store, deps.pollMs ?? 100);
  const operations = deps.operations ?? new Set<Promise<unknown>>();
  deps.signal?.addEventListener('abort', () => hub.close(), { once: true });
  app.use(async (c, next) => {
    const started = performance.now();
    c.set('ctx', deps.ctx);
    c.set('user', undefined);
    c.set('operations', operations);
    c.set('address', deps.addressOf?.(c.req.raw, c.env) ?? 'unknown');
    await next();
    deps.log?.({
      at: new Date().toISOString(),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      address: c.var.address,
      principal: c.var.user?.principal ?? null,
      ...(c.res.status >= 500 && c.error ? { error: c.error.message } : {}),
    });
  });
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    }),
  );
  app.onError((error, c) => {
    if (error instanceof AirlockError && error.kind !== 'internal') {
      return c.json({ error: error.toJSON() }, statusOf(error.code));
    }
    c.error = error;
    return c.json(
      {
        error: {
          kind: 'internal',
          code: 'INTERNAL',
          message: 'The server failed to answer this request; its log has the cause.',
        },
      },
      500,
    );
  });
  app.notFound((c) =>
    c.json(
      { error: { kind: 'user', code: 'NOT_FOUND', message: `Nothing at ${c.req.path}.` } },
      404,
    ),
  );
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    try {
      await deps.ctx.store.listRuns({ limit: 1 });
      return c.json({ ok: true });
    } catch {
      return c.json({ ok: false, reason: 'the state store does not answer' }, 503);
    }
  });
  app.use(identify());
  app.use('/api/*', async (c, next) => {
    if (!c.var.user && c.req.path !== '/api/openapi.json')
      return c.json(
        {
          error: {
            kind: 'user' as const,
            code: 'UNAUTHENTICATED',
            message:
              'Sign in first: send `Authorization: Bearer <token>` (`airlock token create`).',
          },
        },
        401,
      );
    await next();
  });
  const api = apiRoutes();
  actionRoutes(api);
  app.route('/api', api);
  app.route(
    '/',
    dashboardRoutes({ hub, secureCookies: deps.secureCookies ?? false, signal: deps.signal }),
  );
  return app;
}
