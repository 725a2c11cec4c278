import { afterEach, describe, expect, it } from 'vitest';
import type { LatencyCheckSpec } from '../../src/checks/check.ts';
import { percentile, runLatencyCheck } from '../../src/checks/latency-check.ts';
import { closedPort, context, startServer, type TestServer } from './test-server.ts';

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

function spec(overrides: Partial<LatencyCheckSpec> = {}): LatencyCheckSpec {
  return {
    name: 'notes latency',
    type: 'latency',
    path: '/notes',
    requests: 20,
    concurrency: 4,
    p95Ms: 500,
    requestTimeoutMs: 2000,
    ...overrides,
  };
}

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(10);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile(values, 100)).toBe(20);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBe(0);
  });
});

describe('runLatencyCheck', () => {
  it('passes when p95 is within budget, reporting p50/p95/max in ms', async () => {
    let hits = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const s = await serve((_req, res) => {
      hits++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      timers.push(
        setTimeout(() => {
          inFlight--;
          res.end('[]');
        }, 5),
      );
    });
    const result = await runLatencyCheck(spec(), context(s.url));
    expect(result.status).toBe('passed');
    expect(hits).toBe(20);
    expect(result.attempts).toBe(20);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(maxInFlight).toBeGreaterThan(1);
    const d = result.details as { p50Ms: number; p95Ms: number; maxMs: number; errors: number };
    expect(d.errors).toBe(0);
    expect(d.p50Ms).toBeGreaterThanOrEqual(4);
    expect(d.p50Ms).toBeLessThanOrEqual(d.p95Ms);
    expect(d.p95Ms).toBeLessThanOrEqual(d.maxMs);
    expect(result.message).toMatch(
      /^GET \/notes p95 \d+ ms \(p50 \d+ ms, max \d+ ms\) over 20 requests, within 500 ms$/,
    );
  });

  it('fails when p95 is over budget', async () => {
    const s = await serve((_req, res) => {
      timers.push(setTimeout(() => res.end('[]'), 80));
    });
    const result = await runLatencyCheck(
      spec({ requests: 8, concurrency: 8, p95Ms: 30 }),
      context(s.url),
    );
    expect(result.status).toBe('failed');
    expect(result.details.p95Ms as number).toBeGreaterThanOrEqual(75);
    expect(result.message).toMatch(/over the 30 ms budget$/);
  });

  it('fails when any request errors, even if fast', async () => {
    let n = 0;
    const s = await serve((_req, res) => {
      n++;
      res.statusCode = n === 3 ? 500 : 200;
      res.end('x');
    });
    const result = await runLatencyCheck(spec({ requests: 10, concurrency: 1 }), context(s.url));
    expect(result.status).toBe('failed');
    expect(result.details.errors).toBe(1);
    expect(result.message).toBe('GET /notes: 1 of 10 requests failed (first: → 500)');
  });

  it('fails an unreachable environment', async () => {
    const port = await closedPort();
    const result = await runLatencyCheck(
      spec({ requests: 3, concurrency: 1 }),
      context(`http://127.0.0.1:${port}`),
    );
    expect(result.status).toBe('failed');
    expect(result.message).toBe('GET /notes: 3 of 3 requests failed (first: connection refused)');
  });
});
