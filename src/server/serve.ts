/**
 * The only place Airlock listens on a socket: `airlock serve --port --host` puts `createApp`
 * on Node's HTTP server, logs one JSON line per request, and shuts down gracefully (stops
 * accepting, ends live streams, waits for requests in flight, up to `graceMs`).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { AirlockContext } from '../pipeline/context.ts';
import { createApp, type RequestLogEntry } from './app.ts';

export interface ServeOptions {
  ctx: AirlockContext;
  /** 0 picks a free port. */
  port: number;
  host: string;
  log?: (entry: RequestLogEntry) => void;
  /** Set `Secure` on cookies (behind TLS). */
  secureCookies?: boolean;
  /** How often live pages look for changes in the state store (ms; default 100). */
  pollMs?: number;
}

export interface RunningServer {
  /** `http://host:port`. */
  url: string;
  port: number;
  /**
   * Stops accepting, ends live streams, waits up to `graceMs` (default 5000) for the rest, and
   * for every promotion or rollback in progress to end (however long).
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const shutdown = new AbortController();
  const operations = new Set<Promise<unknown>>();
  const app = createApp({
    ctx: options.ctx,
    operations,
    signal: shutdown.signal,
    ...(options.log ? { log: options.log } : {}),
    ...(options.secureCookies ? { secureCookies: true } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
    addressOf: (_request, env) =>
      (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
        ?.remoteAddress ?? 'unknown',
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, () =>
      resolve(s),
    );
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        shutdown.abort();
        const timer = setTimeout(() => {
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          // A promotion or rollback runs to its end (its client may be gone already).
          void Promise.allSettled([...operations]).then(() => resolve());
        });
        (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      }),
  };
}
