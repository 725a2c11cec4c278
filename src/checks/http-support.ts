import type Http from 'node:http';
import type Https from 'node:https';

/**
 * Small helpers shared by the HTTP and latency checks: naming why a request failed (an
 * unreachable environment is a failed check, never a crash: "if staging is unreachable, promotion blocks"),
 * per-request timeouts, and abortable pauses.
 */

const CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'DNS lookup failed (host not found)',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = codeOf(inner);
      if (found) return found;
    }
  }
  return codeOf((error as { cause?: unknown }).cause);
}

/**
 * A one-line reason for a failed request.
 * @param timeoutMs the per-request timeout, named when the request timed out.
 */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${timeoutMs} ms`;
  }
  if (error instanceof Error && error.name === 'AbortError') return 'cancelled';
  const code = codeOf(error);
  if (code && CODES[code]) return CODES[code];
  if (code) return `request failed (${code})`;
  const cause = error instanceof Error ? error.cause : undefined;
  const message =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return `request failed: ${message}`;
}

/** Rounded milliseconds since `start` (a `performance.now()` value). */
export function elapsedMs(start: number): number {
  return Math.round(performance.now() - start);
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The per-request signal: a timeout, combined with the caller's signal when there is one. */
export function requestSignal(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** What {@link httpRequest} read: the status and the whole body as UTF-8 text. */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * One HTTP(S) request through `node:http`/`node:https` (not `fetch`, whose first call loads
 * undici: tenths of a second of a command's start on a loaded machine). Redirects are not
 * followed; no compression is asked for; a new connection each time.
 * @throws the signal's reason when it aborted (a `TimeoutError` from {@link requestSignal}), else
 *   the socket's error (`code` ECONNREFUSED, …; see {@link describeFetchError}).
 */
export function httpRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
): Promise<HttpAnswer> {
  const target = new URL(url);
  const client: typeof Http | typeof Https | null =
    target.protocol === 'http:'
      ? process.getBuiltinModule('node:http')
      : target.protocol === 'https:'
        ? process.getBuiltinModule('node:https')
        : null;
  if (!client) return Promise.reject(new TypeError(`unsupported protocol ${target.protocol}`));
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(init.signal.aborted ? init.signal.reason : error);
    const request = client.request(
      target,
      { method: init.method, headers: init.headers, signal: init.signal, agent: false },
      (response) => {
        response.setEncoding('utf8');
        let body = '';
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', fail);
      },
    );
    request.on('error', fail);
    request.end(init.body);
  });
}
