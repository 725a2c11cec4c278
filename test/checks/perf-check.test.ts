/**
 * The perf check against a real HTTP server in a child process: an unchanged server measured
 * again and again never fails against its baseline (the noise floor stays under the allowance),
 * a 50 ms delay injected on one endpoint does, and errors fail.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult, PerfCheckSpec } from '../../src/checks/check.ts';
import { comparePerf, median, runPerfCheck, spread } from '../../src/checks/perf-check.ts';
import { context } from './test-server.ts';

/** A small JSON server; `DELAY_MS` delays `/notes` only. Prints its port. */
const SERVER = `
const http = require('node:http');
const delay = Number(process.env.DELAY_MS || 0);
const server = http.createServer((req, res) => {
  const answer = () => { res.writeHead(req.url === '/broken' ? 500 : 200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); };
  if (req.url === '/notes' && delay > 0) setTimeout(answer, delay); else answer();
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill();
});

async function server(delayMs = 0): Promise<string> {
  const child = spawn(process.execPath, ['-e', SERVER], {
    env: { ...process.env, DELAY_MS: String(delayMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return `http://127.0.0.1:${line.toString().trim()}`;
}

const spec: PerfCheckSpec = {
  name: 'perf',
  type: 'perf',
  paths: ['/health', '/notes'],
  rate: 40,
  connections: 2,
  durationMs: 250,
  rounds: 3,
  maxRegression: 0.2,
  minRegressionMs: 10,
  requestTimeoutMs: 2000,
};

const baselineOf = (result: CheckResult) => ({ release: 'r1', results: [result] });

describe('perf check', () => {
  it('compares medians with a noise allowance (pure)', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([1, 2, 3, 10])).toBe(2.5);
    expect(spread([10, 11, 12, 30])).toBe(20);
    const path = (
      p95: number,
      rounds: number[],
      p50 = p95 / 2,
      rounds50 = rounds.map((r) => r / 2),
    ) => ({
      path: '/notes',
      p50Ms: p50,
      p95Ms: p95,
      roundsP50Ms: rounds50,
      roundsP95Ms: rounds,
      spreadMs: spread(rounds),
      requests: 10,
      errors: 0,
      errorRate: 0,
    });
    const base = [path(2, [2, 2, 3])];
    // +8 ms on a 2 ms endpoint: under the 10 ms floor. +52 ms: a regression.
    expect(comparePerf([path(10, [9, 10, 11])], base, spec)[0]?.regressed).toBe(false);
    expect(comparePerf([path(54, [53, 54, 55])], base, spec)[0]).toMatchObject({
      regressed: true,
      deltaMs: 52,
      allowanceMs: 10,
    });
    // 20 % of a 200 ms baseline is 40 ms: +30 ms passes.
    expect(comparePerf([path(230, [230])], [path(200, [200])], spec)[0]?.regressed).toBe(false);
    // A noisy machine: round p95s from 3 to 111 ms, p50 steady near 1 ms. The p95 allowance
    // widens to the noise measured; the steady p50 decides, and it did not move.
    const noisy = comparePerf(
      [path(101, [111, 3, 101], 1.2, [1.2, 0.6, 0.9])],
      [path(20, [29, 5, 20], 0.9, [0.9, 1.2, 0.6])],
      spec,
    )[0];
    expect(noisy).toMatchObject({ regressed: false, allowanceMs: 108 });
    // Stalls in two rounds of three move the median p95, not the best round: no regression.
    expect(
      comparePerf(
        [path(28.2, [28.2, 1.5, 30], 0.4, [0.4, 0.4, 0.4])],
        [path(1.4, [1.4, 1.2, 1.5], 0.4, [0.4, 0.4, 0.4])],
        spec,
      )[0],
    ).toMatchObject({ deltaMs: 26.8, bestDeltaMs: 0.3, regressed: false });
    // The same noise with 50 ms added to every request: the p50 shows it.
    expect(
      comparePerf(
        [path(140, [150, 53, 140], 51, [51.2, 50.6, 50.9])],
        [path(20, [29, 5, 20], 0.9, [0.9, 1.2, 0.6])],
        spec,
      )[0],
    ).toMatchObject({ regressed: true, p50AllowanceMs: 10 });
  });

  it('passes an unchanged server run after run, and fails a 50 ms delay on one endpoint', async () => {
    const steady = await server();
    const first = await runPerfCheck(spec, context(steady));
    expect(first.status, first.message).toBe('passed');
    expect(first.message).toContain('no baseline yet');
    const paths = first.details.paths as Array<{ path: string; requests: number; errors: number }>;
    expect(paths.map((p) => p.path)).toEqual(['/health', '/notes']);
    expect(paths.every((p) => p.requests >= 15 && p.errors === 0)).toBe(true);

    // The same server, measured again several times against the first result (on the endpoint
    // the delay goes to, to keep it short): no false failure.
    for (let i = 0; i < 3; i++) {
      const again = await runPerfCheck(
        { ...spec, paths: ['/notes'] },
        context(steady, { baseline: baselineOf(first) }),
      );
      expect(again.status, again.message).toBe('passed');
      expect(again.details.baselineRelease).toBe('r1');
    }

    // The same code with 50 ms added to /notes: /notes regresses, /health does not.
    const slow = await server(50);
    const delayed = await runPerfCheck(spec, context(slow, { baseline: baselineOf(first) }));
    expect(delayed.status).toBe('failed');
    expect(delayed.message).toMatch(
      /^response time regressed against r1: \/notes p95 [\d.]+ → [\d.]+ ms/,
    );
    const byPath = Object.fromEntries(
      (delayed.details.comparisons as Array<{ path: string; regressed: boolean }>).map((c) => [
        c.path,
        c.regressed,
      ]),
    );
    expect(byPath).toEqual({ '/health': false, '/notes': true });
  });

  it('fails when requests error', async () => {
    const url = await server();
    const result = await runPerfCheck(
      { ...spec, paths: ['/broken'], rounds: 3, durationMs: 200 },
      context(url),
    );
    expect(result.status).toBe('failed');
    expect(result.message).toMatch(
      /^\/broken: \d+ of \d+ requests failed \(first: GET \/broken: → 500\)/,
    );
  });
});
