/**
 * `createApp(deps)`: the Hono app behind `airlock serve`, with no socket (tests call
 * `app.request`; `serve.ts` is the only place that listens). It serves the JSON API under
 * `/api` (OpenAPI at `/api/openapi.json`), the dashboard's pages, `/healthz` and `/readyz`.
 * Errors render in one shape (`{ error: { kind, code, message, hint? } }`, as the CLI's
 * `--json`); an unexpected fault says only that it is one (its stack stays in the log).
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { AirlockError, type ErrorCode } from '../errors.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { apiRoutes } from './api.ts';
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
}

/** HTTP status of an Airlock error, by its code. */
export function statusOf(code: ErrorCode): 400 | 403 | 404 | 409 {
  switch (code) {
    case 'RELEASE_NOT_FOUND':
    case 'DEPLOYMENT_NOT_FOUND':
    case 'UNKNOWN_ENVIRONMENT':
    case 'UNKNOWN_SERVICE':
      return 404;
    case 'SELF_APPROVAL':
    case 'NOT_AN_APPROVER':
    case 'APPROVAL_IDENTITY_REQUIRED':
      return 403;
    case 'LOCK_HELD':
    case 'GATE_BLOCKED':
    case 'NOTHING_TO_PROMOTE':
    case 'APPROVAL_NOT_ALLOWED':
      return 409;
    default:
      return 400;
  }
}

/** The app; see the module comment. */
export function createApp(deps: ServerDeps): OpenAPIHono<ServerEnv> {
  const app = new OpenAPIHono<ServerEnv>();
  app.use(async (c, next) => {
    const started = performance.now();
    c.set('ctx', deps.ctx);
    c.set('user', undefined);
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
  app.onError((error, c) => {
    if (error instanceof AirlockError && error.kind !== 'internal') {
      return c.json({ error: error.toJSON() }, statusOf(error.code));
    }
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
  app.route('/api', apiRoutes());
  return app;
}

export type { AirlockContext };
