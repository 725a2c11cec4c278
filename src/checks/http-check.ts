/**
 * The HTTP check: one request against the environment's URL, retried until it passes or the
 * check's `timeoutMs` ends ("smoke tests (health + version)"; "unreachable
 * blocks"; Kargo verification, Kamal's health check before the switch).
 */

import type { CheckContext, CheckResult, HttpCheckSpec } from './check.ts';
import {
  describeFetchError,
  elapsedMs,
  httpRequest,
  requestSignal,
  sleep,
} from './http-support.ts';
import { interpolate, interpolateJson, matchJsonSubset } from './interpolate.ts';

interface Attempt {
  passed: boolean;
  /** What happened, without the method and path: `→ 500, expected 200`, `unreachable: …`. */
  reason: string;
  status: number | null;
  latencyMs: number | null;
}

/**
 * Runs one HTTP check. Each attempt sends `spec.method` to `ctx.baseUrl + spec.path` (path,
 * headers and body interpolated), aborting after `spec.requestTimeoutMs`; redirects are not
 * followed, so a 302 is seen as a 302. An attempt passes when:
 * the status equals `expect.status`; the body, parsed as JSON, contains `expect.json`
 * (interpolated, see `matchJsonSubset`); the body contains `expect.bodyIncludes` (interpolated);
 * and the latency (request sent → body read, ms) is at most `maxLatencyMs`.
 *
 * Failed attempts are retried every `spec.intervalMs` until `spec.timeoutMs` has passed since
 * the first one (an attempt started before then may run its own `requestTimeoutMs`).
 * Unreachable (connection refused, DNS, timeout) counts as a failed attempt. Aborting
 * `ctx.signal` stops at once with a failed result. Never throws.
 *
 * @returns `message` names the method, the path and the last reason, e.g.
 *   `GET /version → 200 but body.release was "r2", expected "r3" (5 attempts in 10.0 s)`;
 *   `details` has `url`, `status`, `latencyMs` of the last attempt and `reason`.
 */
export async function runHttpCheck(spec: HttpCheckSpec, ctx: CheckContext): Promise<CheckResult> {
  const started = performance.now();
  const deadline = started + spec.timeoutMs;
  const path = interpolate(spec.path, ctx);
  const url = `${ctx.baseUrl}${path.startsWith('/') || path === '' ? '' : '/'}${path}`;
  const label = `${spec.method} ${path}`;
  let attempts = 0;
  let last: Attempt;
  for (;;) {
    attempts++;
    last = await attempt(spec, ctx, url);
    if (last.passed || ctx.signal?.aborted) break;
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    await sleep(Math.min(spec.intervalMs, remaining), ctx.signal);
    if (ctx.signal?.aborted || performance.now() >= deadline) break;
  }
  const durationMs = elapsedMs(started);
  const cancelled = !last.passed && ctx.signal?.aborted === true;
  const tally = `(${attempts} attempt${attempts === 1 ? '' : 's'} in ${(durationMs / 1000).toFixed(1)} s)`;
  return {
    name: spec.name,
    type: 'http',
    status: last.passed ? 'passed' : 'failed',
    durationMs,
    attempts,
    message: cancelled ? `${label} cancelled ${tally}` : `${label} ${last.reason} ${tally}`,
    details: {
      url,
      status: last.status,
      latencyMs: last.latencyMs,
      reason: last.reason,
      ...(cancelled ? { cancelled: true } : {}),
    },
  };
}

async function attempt(spec: HttpCheckSpec, ctx: CheckContext, url: string): Promise<Attempt> {
  const headers: Record<string, string> = { 'user-agent': 'airlock-check' };
  for (const [k, v] of Object.entries(spec.headers ?? {})) headers[k] = interpolate(v, ctx);
  const sent = performance.now();
  let status: number;
  let body: string;
  try {
    const answer = await httpRequest(url, {
      method: spec.method,
      headers,
      ...(spec.body === undefined ? {} : { body: interpolate(spec.body, ctx) }),
      signal: requestSignal(spec.requestTimeoutMs, ctx.signal),
    });
    status = answer.status;
    body = answer.body;
  } catch (error) {
    const reason = `unreachable: ${describeFetchError(error, spec.requestTimeoutMs)}`;
    return { passed: false, reason, status: null, latencyMs: null };
  }
  const latencyMs = elapsedMs(sent);
  const fail = (reason: string): Attempt => ({ passed: false, reason, status, latencyMs });
  if (status !== spec.expect.status) return fail(`→ ${status}, expected ${spec.expect.status}`);
  if (spec.expect.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return fail(`→ ${status} but the body is not JSON: ${JSON.stringify(body.slice(0, 60))}`);
    }
    const mismatch = matchJsonSubset(parsed, interpolateJson(spec.expect.json, ctx));
    if (mismatch) return fail(`→ ${status} but ${mismatch}`);
  }
  if (spec.expect.bodyIncludes !== undefined) {
    const needle = interpolate(spec.expect.bodyIncludes, ctx);
    if (!body.includes(needle)) {
      return fail(`→ ${status} but the body does not contain ${JSON.stringify(needle)}`);
    }
  }
  if (spec.maxLatencyMs !== undefined && latencyMs > spec.maxLatencyMs) {
    return fail(`→ ${status} in ${latencyMs} ms, over the ${spec.maxLatencyMs} ms budget`);
  }
  return { passed: true, reason: `→ ${status} in ${latencyMs} ms`, status, latencyMs };
}
