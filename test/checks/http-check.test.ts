import { afterEach, describe, expect, it } from 'vitest';
import type { HttpCheckSpec } from '../../src/checks/check.ts';
import { runHttpCheck } from '../../src/checks/http-check.ts';
import { closedPort, context, json, startServer, type TestServer } from './test-server.ts';

const servers: TestServer[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearTimeout(t);
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler);
  servers.push(s);
  return s;
}

function spec(overrides: Partial<HttpCheckSpec> = {}): HttpCheckSpec {
  return {
    name: 'version',
    type: 'http',
    method: 'GET',
    path: '/version',
    expect: { status: 200 },
    timeoutMs: 400,
    intervalMs: 50,
    requestTimeoutMs: 1000,
    ...overrides,
  };
}

const versionBody = { release: 'r3', commit: 'c0ffee', environment: 'staging', uptime: 12 };

describe('runHttpCheck', () => {
  it('passes on the expected status at the first attempt', async () => {
    const s = await serve((req, res) => json(res, req.url === '/version' ? 200 : 404, versionBody));
    const result = await runHttpCheck(spec(), context(s.url));
    expect(result.status).toBe('passed');
    expect(result.attempts).toBe(1);
    expect(result.message).toMatch(/^GET \/version → 200 in \d+ ms \(1 attempt in \d+\.\d s\)$/);
    expect(result.details).toMatchObject({ status: 200, url: `${s.url}/version` });
  });

  it('fails on another status after retrying until its timeout', async () => {
    let hits = 0;
    const s = await serve((_req, res) => {
      hits++;
      json(res, 500, { error: 'boom' });
    });
    const result = await runHttpCheck(spec({ timeoutMs: 300, intervalMs: 50 }), context(s.url));
    expect(result.status).toBe('failed');
    expect(result.message).toMatch(/^GET \/version → 500, expected 200 \(\d+ attempts in/);
    expect(result.attempts).toBeGreaterThan(2);
    expect(hits).toBe(result.attempts);
    expect(result.durationMs).toBeGreaterThanOrEqual(280);
    expect(result.durationMs).toBeLessThan(1500);
  });

  it('passes a JSON subset with interpolated release, commit and environment', async () => {
    const s = await serve((_req, res) => json(res, 200, versionBody));
    const result = await runHttpCheck(
      spec({
        expect: {
          status: 200,
          json: {
            release: `\${release.id}`,
            commit: `\${release.commit}`,
            environment: `\${environment}`,
          },
        },
      }),
      context(s.url),
    );
    expect(result.status).toBe('passed');
  });

  it('fails a JSON subset with the exact path and values of the mismatch', async () => {
    const s = await serve((_req, res) => json(res, 200, { ...versionBody, release: 'r2' }));
    const result = await runHttpCheck(
      spec({ timeoutMs: 150, expect: { status: 200, json: { release: `\${release.id}` } } }),
      context(s.url),
    );
    expect(result.status).toBe('failed');
    expect(result.details.reason).toBe('→ 200 but body.release was "r2", expected "r3"');
    expect(result.message).toMatch(
      /^GET \/version → 200 but body\.release was "r2", expected "r3" \(\d+ attempts? in \d+\.\d s\)$/,
    );
  });

  it('checks bodyIncludes and reports a body that is not JSON', async () => {
    const s = await serve((_req, res) => res.end('<html>notes staging</html>'));
    const ok = await runHttpCheck(
      spec({ path: '/', expect: { status: 200, bodyIncludes: `notes \${environment}` } }),
      context(s.url),
    );
    expect(ok.status).toBe('passed');
    const missing = await runHttpCheck(
      spec({ path: '/', timeoutMs: 0, expect: { status: 200, bodyIncludes: 'production' } }),
      context(s.url),
    );
    expect(missing.details.reason).toBe('→ 200 but the body does not contain "production"');
    const notJson = await runHttpCheck(
      spec({ path: '/', timeoutMs: 0, expect: { status: 200, json: { a: 1 } } }),
      context(s.url),
    );
    expect(notJson.status).toBe('failed');
    expect(notJson.details.reason).toMatch(/^→ 200 but the body is not JSON/);
  });

  it('fails when the answer is slower than maxLatencyMs', async () => {
    const s = await serve((_req, res) => {
      timers.push(setTimeout(() => json(res, 200, versionBody), 150));
    });
    const result = await runHttpCheck(spec({ maxLatencyMs: 50, timeoutMs: 0 }), context(s.url));
    expect(result.status).toBe('failed');
    expect(result.details.reason).toMatch(/^→ 200 in \d+ ms, over the 50 ms budget$/);
    expect(result.details.latencyMs as number).toBeGreaterThanOrEqual(140);
  });

  it('retries until a server that starts late is ready', async () => {
    const port = await closedPort();
    timers.push(
      setTimeout(() => {
        void startServer((_req, res) => json(res, 200, versionBody), port).then((s) =>
          servers.push(s),
        );
      }, 500),
    );
    const result = await runHttpCheck(
      spec({ path: '/health', timeoutMs: 5000, intervalMs: 100 }),
      context(`http://127.0.0.1:${port}`),
    );
    expect(result.status).toBe('passed');
    expect(result.attempts).toBeGreaterThan(1);
    expect(result.durationMs).toBeGreaterThanOrEqual(450);
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('fails a closed port as unreachable within its timeout', async () => {
    const port = await closedPort();
    const result = await runHttpCheck(
      spec({ path: '/health', timeoutMs: 600, intervalMs: 100 }),
      context(`http://127.0.0.1:${port}`),
    );
    expect(result.status).toBe('failed');
    expect(result.message).toMatch(
      /^GET \/health unreachable: connection refused \(\d+ attempts in/,
    );
    expect(result.details.status).toBeNull();
    expect(result.durationMs).toBeLessThan(1500);
  });

  it('gives up on one attempt after requestTimeoutMs', async () => {
    const s = await serve(() => undefined); // never answers
    const result = await runHttpCheck(
      spec({ timeoutMs: 0, requestTimeoutMs: 200 }),
      context(s.url),
    );
    expect(result.status).toBe('failed');
    expect(result.details.reason).toBe('unreachable: no answer within 200 ms');
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('sends method, interpolated path, headers and body', async () => {
    let seen = '';
    const s = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen = `${req.method} ${req.url} ${req.headers['x-release']} ${body}`;
        json(res, 201, { ok: true });
      });
    });
    const result = await runHttpCheck(
      spec({
        method: 'POST',
        path: `/deploys/\${release.id}`,
        headers: { 'x-release': `\${release.id}`, 'content-type': 'application/json' },
        body: `{"service":"\${service}"}`,
        expect: { status: 201 },
      }),
      context(s.url),
    );
    expect(result.status).toBe('passed');
    expect(seen).toBe('POST /deploys/r3 r3 {"service":"notes"}');
  });

  it('stops at once when the signal aborts', async () => {
    const port = await closedPort();
    const controller = new AbortController();
    timers.push(setTimeout(() => controller.abort(), 150));
    const result = await runHttpCheck(
      spec({ timeoutMs: 10_000, intervalMs: 50 }),
      context(`http://127.0.0.1:${port}`, { signal: controller.signal }),
    );
    expect(result.status).toBe('failed');
    expect(result.details.cancelled).toBe(true);
    expect(result.durationMs).toBeLessThan(1000);
  });
});
