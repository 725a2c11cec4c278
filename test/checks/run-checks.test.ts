import { afterEach, describe, expect, it } from 'vitest';
import type { CheckResult, CheckSpec } from '../../src/checks/check.ts';
import { runChecks } from '../../src/checks/run-checks.ts';
import { context, json, startServer, type TestServer } from './test-server.ts';

const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const specs: CheckSpec[] = [
  {
    name: 'health',
    type: 'http',
    method: 'GET',
    path: '/health',
    expect: { status: 200, json: { status: 'ok' } },
    timeoutMs: 0,
    intervalMs: 50,
    requestTimeoutMs: 1000,
  },
  {
    name: 'version',
    type: 'http',
    method: 'GET',
    path: '/version',
    expect: { status: 200, json: { release: `\${release.id}` } },
    timeoutMs: 0,
    intervalMs: 50,
    requestTimeoutMs: 1000,
  },
  { name: 'e2e', type: 'command', run: 'test -n "$BASE_URL"', timeoutMs: 5000 },
  {
    name: 'latency',
    type: 'latency',
    path: '/health',
    requests: 5,
    concurrency: 2,
    p95Ms: 1000,
    requestTimeoutMs: 1000,
  },
];

describe('runChecks', () => {
  it('runs every check in order, reporting each, and does not stop at a failure', async () => {
    const s = await startServer((req, res) =>
      req.url === '/health' ? json(res, 200, { status: 'ok' }) : json(res, 200, { release: 'r2' }),
    );
    servers.push(s);
    const seen: string[] = [];
    const results = await runChecks(specs, context(s.url), (r) => seen.push(r.name));
    expect(seen).toEqual(['health', 'version', 'e2e', 'latency']);
    expect(results.map((r) => [r.name, r.type, r.status])).toEqual([
      ['health', 'http', 'passed'],
      ['version', 'http', 'failed'],
      ['e2e', 'command', 'passed'],
      ['latency', 'latency', 'passed'],
    ]);
  });

  it('honours the abort signal: checks not started are reported as cancelled', async () => {
    const s = await startServer((_req, res) => json(res, 200, { status: 'ok', release: 'r3' }));
    servers.push(s);
    const controller = new AbortController();
    const results: CheckResult[] = await runChecks(
      specs,
      context(s.url, { signal: controller.signal }),
      (r) => {
        if (r.name === 'health') controller.abort();
      },
    );
    expect(results.map((r) => [r.name, r.status, r.attempts])).toEqual([
      ['health', 'passed', 1],
      ['version', 'failed', 0],
      ['e2e', 'failed', 0],
      ['latency', 'failed', 0],
    ]);
    expect(results[1]!.details.cancelled).toBe(true);
  });
});
