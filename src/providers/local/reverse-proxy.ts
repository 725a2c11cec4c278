/**
 * The stable front door of one (environment, service): an HTTP server on 127.0.0.1:<port> that
 * forwards every request and WebSocket upgrade to whichever app process serves right now
 * (kamal-proxy's role). The runtime switches releases by changing what its upstream serves, in
 * one assignment; each forwarded request is counted on the process so a switch can drain it.
 * While a crashed process restarts it answers 503 with `Retry-After`; when nothing serves, 502.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import { ProviderError } from '../../errors.ts';
import type { AppProcess } from './app-process.ts';

/** Idle keep-alive sockets to an app are closed after this long (ms); below Node's 5 s default. */
const UPSTREAM_IDLE_TIMEOUT_MS = 2_000;

/** What the proxy reads on every request: where to send it, or why it cannot. */
export interface ProxyUpstream {
  readonly environment: string;
  readonly service: string;
  /** The process requests go to; null (or exited) when nothing serves. */
  readonly serving: AppProcess | null;
  /** Set while a crashed process waits for its restart: `retryAt` in ms since the epoch. */
  readonly restart: { readonly retryAt: number } | null;
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** The proxy of one (environment, service); see the module comment. */
export class ReverseProxy {
  readonly #upstream: ProxyUpstream;
  readonly #now: () => number;
  readonly #agent: http.Agent;
  readonly #proxy: ProxyServer;
  #server: http.Server | null = null;
  /** The port it listens on (127.0.0.1). */
  port: number;

  /** Prepares a proxy for `port`; it listens only after {@link start}. `now` is ms since the epoch. */
  constructor(upstream: ProxyUpstream, port: number, now: () => number) {
    this.#upstream = upstream;
    this.#now = now;
    this.port = port;
    // Idle upstream sockets are closed after 2 s, before the app's own keep-alive timeout
    // (Node's default is 5 s), so the proxy never reuses a socket the app is closing (a 502).
    this.#agent = new http.Agent({
      keepAlive: true,
      maxSockets: 256,
      maxFreeSockets: 32,
      timeout: UPSTREAM_IDLE_TIMEOUT_MS,
    });
    this.#proxy = createProxyServer({ ws: true, xfwd: true, agent: this.#agent });
    this.#proxy.on('error', () => {
      // every proxy call passes its own error callback; this only keeps stray errors non-fatal
    });
  }

  /**
   * Listens on 127.0.0.1:`port`. On failure the proxy is destroyed.
   * @throws ProviderError `PORT_IN_USE`
   */
  async start(): Promise<void> {
    try {
      this.#server = await this.listen(this.port);
    } catch (error) {
      this.#agent.destroy();
      throw error;
    }
  }

  /**
   * Starts one more server on 127.0.0.1:`port` that proxies like this one: the first half of a
   * port move, completed by {@link moveTo} (or undone by {@link discard}).
   * @throws ProviderError `PORT_IN_USE`
   */
  async listen(port: number): Promise<http.Server> {
    const server = http.createServer((req, res) => this.#handleRequest(req, res));
    server.on('upgrade', (req, socket, head) => this.#handleUpgrade(req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const { environment, service } = this.#upstream;
      throw new ProviderError(
        'PORT_IN_USE',
        code === 'EACCES'
          ? `Cannot listen on port ${port} for ${service} in ${environment}: permission denied.`
          : `Port ${port} (environment ${environment}, service ${service}) is already in use by another process.`,
        {
          hint: `Stop whatever listens on 127.0.0.1:${port}, or change \`port\` of ${service} for environment ${environment} in airlock.yaml to a free port.`,
          details: { port, environment, service, errno: code },
          cause: error,
        },
      );
    }
    server.on('error', () => {
      // after listen, errors are per connection; never crash the runtime
    });
    return server;
  }

  /** Makes `server` (from {@link listen}) the proxy's server on `port`, and closes the old one. */
  moveTo(server: http.Server, port: number): void {
    const old = this.#server;
    this.#server = server;
    this.port = port;
    if (old) closeServer(old);
  }

  /** Closes a server from {@link listen} that did not become the proxy's server. */
  discard(server: http.Server): void {
    if (this.#server !== server) closeServer(server);
  }

  /** Stops accepting connections (open ones finish; see {@link destroy}). */
  close(): void {
    if (this.#server) closeServer(this.#server);
  }

  /** Ends every open connection and the upstream sockets. */
  destroy(): void {
    this.#server?.closeAllConnections();
    this.#agent.destroy();
  }

  #handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const slot = this.#upstream;
    const upstream = slot.serving;
    if (!upstream || upstream.exit) {
      this.#unavailable(res);
      return;
    }
    res.once('close', upstream.acquire());
    this.#proxy.web(req, res, { target: upstream.target }, (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (slot.restart) {
        this.#unavailable(res);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code ?? error.message;
      sendJson(res, 502, {
        error: `${slot.service} ${upstream.release} in ${slot.environment} did not answer (${code}).`,
      });
    });
  }

  #unavailable(res: http.ServerResponse): void {
    const slot = this.#upstream;
    if (slot.restart) {
      const retryAfter = Math.max(1, Math.ceil((slot.restart.retryAt - this.#now()) / 1000));
      sendJson(
        res,
        503,
        {
          error: `${slot.service} in ${slot.environment} is restarting after a crash; retry in ${retryAfter} s.`,
        },
        { 'retry-after': String(retryAfter) },
      );
      return;
    }
    sendJson(res, 502, {
      error: `Nothing serves ${slot.service} in ${slot.environment} right now: no release was deployed or promoted here yet, or the local runtime is still starting it. \`airlock status\` shows what should serve here.`,
    });
  }

  #handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const slot = this.#upstream;
    const upstream = slot.serving;
    if (!upstream || upstream.exit) {
      const status = slot.restart ? '503 Service Unavailable' : '502 Bad Gateway';
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    // An upgraded connection counts as in flight until its socket closes.
    socket.once('close', upstream.acquire());
    this.#proxy.ws(req, socket, head, { target: upstream.target }, () => socket.destroy());
  }
}

function closeServer(server: http.Server): void {
  server.close();
  server.closeIdleConnections();
}
