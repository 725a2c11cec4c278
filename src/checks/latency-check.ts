/**
 * The latency check: a small benchmark of one path against the live environment, so a release
 * that makes staging slow does not reach production (response-time benchmarks).
 */

import type { CheckContext, CheckResult, LatencyCheckSpec } from './check.ts';
import { describeFetchError, elapsedMs, requestSignal } from './http-support.ts';
import { interpolate } from './interpolate.ts';

/**
 * The nearest-rank percentile (`p` in 0..100) of ascending `sorted` values; 0 for an empty list.
 */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/**
 * Sends `spec.requests` GETs to `ctx.baseUrl + spec.path` (interpolated), at most
 * `spec.concurrency` at a time, each aborted after `spec.requestTimeoutMs`. A request's latency
 * is from sending it until its body is read (ms). A request errors when it cannot connect,
 * times out, or answers with a status ≥ 400.
 *
 * Fails if any request errors or the p95 exceeds `spec.p95Ms`. Never throws; aborting
 * `ctx.signal` stops sending and fails.
 *
 * @returns `details`: `p50Ms`, `p95Ms`, `maxMs` (of the requests that answered), `budgetMs`,
 *   `requests` (sent), `errors` (count) and `firstError`.
 */
export async function runLatencyCheck(
  spec: LatencyCheckSpec,
  ctx: CheckContext,
): Promise<CheckResult> {
  const started = performance.now();
  const path = interpolate(spec.path, ctx);
  const url = `${ctx.baseUrl}${path}`;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let sent = 0;

  const one = async () => {
    const t0 = performance.now();
    try {
      const response = await fetch(url, {
        headers: { 'user-agent': 'airlock-check' },
        redirect: 'manual',
        signal: requestSignal(spec.requestTimeoutMs, ctx.signal),
      });
      await response.arrayBuffer();
      if (response.status >= 400) throw new StatusError(response.status);
      latencies.push(elapsedMs(t0));
    } catch (error) {
      errors++;
      firstError ??=
        error instanceof StatusError
          ? `→ ${error.status}`
          : describeFetchError(error, spec.requestTimeoutMs);
    }
  };
  const worker = async () => {
    while (sent < spec.requests && !ctx.signal?.aborted) {
      sent++;
      await one();
    }
  };
  const workers = Math.max(1, Math.min(spec.concurrency, spec.requests));
  await Promise.all(Array.from({ length: workers }, worker));

  latencies.sort((a, b) => a - b);
  const p50Ms = percentile(latencies, 50);
  const p95Ms = percentile(latencies, 95);
  const maxMs = latencies.at(-1) ?? 0;
  const cancelled = ctx.signal?.aborted === true;
  const passed = !cancelled && errors === 0 && sent > 0 && p95Ms <= spec.p95Ms;
  const label = `GET ${path}`;
  const stats = `p95 ${p95Ms} ms (p50 ${p50Ms} ms, max ${maxMs} ms)`;
  let message: string;
  if (cancelled) message = `${label} latency check cancelled after ${sent} requests`;
  else if (errors > 0) {
    message = `${label}: ${errors} of ${sent} requests failed (first: ${firstError})`;
  } else if (!passed) {
    message = `${label} ${stats} over ${sent} requests, over the ${spec.p95Ms} ms budget`;
  } else message = `${label} ${stats} over ${sent} requests, within ${spec.p95Ms} ms`;
  return {
    name: spec.name,
    type: 'latency',
    status: passed ? 'passed' : 'failed',
    durationMs: elapsedMs(started),
    attempts: sent,
    message,
    details: {
      url,
      p50Ms,
      p95Ms,
      maxMs,
      budgetMs: spec.p95Ms,
      requests: sent,
      errors,
      firstError,
      ...(cancelled ? { cancelled: true } : {}),
    },
  };
}

class StatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`status ${status}`);
    this.status = status;
  }
}
