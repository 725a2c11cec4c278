/**
 * The perf check: response times of a candidate compared with the release that served the
 * environment before (response-time benchmarks; staging performance matching production).
 * A fixed-rate load (autocannon, used as a library) is sent to each path for several short
 * rounds; the median over rounds of each round's p50 and p95 is compared with the baseline, the
 * same check's stored result for the previous release, measured on the same environment.
 *
 * Noise: on a shared machine a round's p95 moves a lot from round to round (a scheduling stall
 * of 100 ms hits every request in flight), while its p50 barely moves. Each percentile is
 * therefore compared with an allowance that is the largest of `maxRegression × baseline`,
 * `minRegressionMs`, and the noise measured in this very comparison (the wider range of the
 * round values, candidate's or baseline's): a regression has to stand out of the noise. A
 * percentile regresses when its median over rounds and its best (lowest) round both grew beyond
 * the allowance — noise only adds latency, so a stall that hit most rounds leaves the best one
 * alone, while a slower endpoint moves every round. The check fails when the p50 or the p95
 * regresses: a slower endpoint moves both; a noisy machine widens the p95 allowance but not the
 * p50 one.
 */
import type { Options as AutocannonOptions } from 'autocannon';
import type { CheckContext, CheckResult, PerfCheckSpec } from './check.ts';
import { elapsedMs } from './http-support.ts';
import { interpolate } from './interpolate.ts';
import { percentile } from './latency-check.ts';

/** One path measured: the median of the rounds' percentiles (ms) and their spread. */
export interface PerfPathResult {
  path: string;
  /** Median over rounds of each round's p50 (ms, 0.1 ms resolution). */
  p50Ms: number;
  /** Median over rounds of each round's p95 (ms). */
  p95Ms: number;
  /** Every round's p50 (ms), in order. */
  roundsP50Ms: number[];
  /** Every round's p95 (ms), in order. */
  roundsP95Ms: number[];
  /** Range (max − min) of the round p95s (ms): the noise of this measurement. */
  spreadMs: number;
  requests: number;
  /** Requests that failed: connection errors, timeouts, status ≥ 400. */
  errors: number;
  errorRate: number;
}

/** A path compared with its baseline. */
export interface PerfComparison {
  path: string;
  baselineP50Ms: number;
  p50Ms: number;
  /** p50 − baseline p50 (ms). */
  p50DeltaMs: number;
  /** Best (lowest) round p50 − the baseline's best round p50 (ms). */
  p50BestDeltaMs: number;
  /** The p50 increase (ms) allowed before the check fails. */
  p50AllowanceMs: number;
  baselineP95Ms: number;
  p95Ms: number;
  /** p95 − baseline p95 (ms). */
  deltaMs: number;
  /** Best (lowest) round p95 − the baseline's best round p95 (ms). */
  bestDeltaMs: number;
  /** The p95 increase (ms) allowed before the check fails. */
  allowanceMs: number;
  /** A percentile regressed when both its median and its best round grew beyond its allowance. */
  regressed: boolean;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** The median of `values` (0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Range of `values`: max − min (0 for none). */
export function spread(values: readonly number[]): number {
  return values.length ? Math.max(...values) - Math.min(...values) : 0;
}

/**
 * Compares `current` with `baseline` path by path (paths absent from the baseline are not
 * compared). Pure.
 */
export function comparePerf(
  current: readonly PerfPathResult[],
  baseline: readonly PerfPathResult[],
  spec: Pick<PerfCheckSpec, 'maxRegression' | 'minRegressionMs'>,
): PerfComparison[] {
  const out: PerfComparison[] = [];
  for (const c of current) {
    const b = baseline.find((x) => x.path === c.path);
    if (!b) continue;
    const allowance = (base: number, rounds: number[], baseRounds: number[] = []) =>
      round1(
        Math.max(
          base * spec.maxRegression,
          spec.minRegressionMs,
          spread(rounds),
          spread(baseRounds),
        ),
      );
    const p50AllowanceMs = allowance(b.p50Ms, c.roundsP50Ms ?? [], b.roundsP50Ms ?? []);
    const allowanceMs = allowance(b.p95Ms, c.roundsP95Ms, b.roundsP95Ms);
    const p50DeltaMs = round1(c.p50Ms - b.p50Ms);
    const deltaMs = round1(c.p95Ms - b.p95Ms);
    // Noise only ever adds latency: the best rounds are the least disturbed. A regression moves
    // them too; a stall that hit most rounds does not move the best one.
    const best = (rounds: number[] | undefined, fallback: number) =>
      rounds?.length ? Math.min(...rounds) : fallback;
    const p50BestDeltaMs = round1(best(c.roundsP50Ms, c.p50Ms) - best(b.roundsP50Ms, b.p50Ms));
    const bestDeltaMs = round1(best(c.roundsP95Ms, c.p95Ms) - best(b.roundsP95Ms, b.p95Ms));
    out.push({
      path: c.path,
      baselineP50Ms: b.p50Ms,
      p50Ms: c.p50Ms,
      p50DeltaMs,
      p50BestDeltaMs,
      p50AllowanceMs,
      baselineP95Ms: b.p95Ms,
      p95Ms: c.p95Ms,
      deltaMs,
      bestDeltaMs,
      allowanceMs,
      regressed:
        (deltaMs > allowanceMs && bestDeltaMs > allowanceMs) ||
        (p50DeltaMs > p50AllowanceMs && p50BestDeltaMs > p50AllowanceMs),
    });
  }
  return out;
}

/** The command that installs autocannon, as the perf check's message names it. */
export const AUTOCANNON_INSTALL = 'npm install -D autocannon@9.0.0';

/** Raised when autocannon is not installed: its message is the check's whole message. */
class AutocannonMissing extends Error {}

/**
 * autocannon, which sends the perf check's load. It is not installed with Airlock (only perf
 * checks use it, and it brings its own dependencies): the project that runs perf checks
 * installs it beside Airlock.
 * @throws AutocannonMissing naming the install command when it cannot be found.
 */
async function loadAutocannon(): Promise<typeof import('autocannon')> {
  try {
    return (await import('autocannon')).default;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_MODULE_NOT_FOUND' && message.includes("'autocannon'")) {
      throw new AutocannonMissing(
        `perf checks send their load with autocannon, which is not installed with Airlock: install it in this project (\`${AUTOCANNON_INSTALL}\`) and run the check again`,
      );
    }
    throw error;
  }
}

/** One round on one URL: every answered request's latency (ms), and the failures. */
async function oneRound(
  url: string,
  spec: PerfCheckSpec,
  signal: AbortSignal | undefined,
): Promise<{ latencies: number[]; requests: number; errors: number; firstError: string | null }> {
  const autocannon = await loadAutocannon();
  const latencies: number[] = [];
  let errors = 0;
  let requests = 0;
  let firstError: string | null = null;
  let done!: (value: { timeouts: number; errors: number } | Error) => void;
  const finished = new Promise<{ timeouts: number; errors: number } | Error>((resolve) => {
    done = resolve;
  });
  const instance = autocannon(
    {
      url,
      connections: Math.min(spec.connections, spec.rate),
      overallRate: spec.rate,
      duration: spec.durationMs / 1000,
      timeout: Math.max(1, Math.ceil(spec.requestTimeoutMs / 1000)),
      headers: { 'user-agent': 'airlock-check' },
      // autocannon checks its stop time on each sample tick: tick often, so a round lasts
      // `durationMs`, not the next whole second.
      sampleInt: 100,
    } as AutocannonOptions,
    (error, result) => done(error ?? result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    requests++;
    if (statusCode >= 400) {
      errors++;
      firstError ??= `→ ${statusCode}`;
    } else latencies.push(responseTime);
  });
  instance.on('reqError', (error: Error) => {
    requests++;
    errors++;
    firstError ??= error.message || String(error);
  });
  const stop = () => instance.stop();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await finished;
    if (result instanceof Error) throw result;
    // Timeouts are counted by autocannon, not emitted as responses.
    if (result.timeouts > 0) {
      errors += result.timeouts;
      requests += result.timeouts;
      firstError ??= `no answer within ${spec.requestTimeoutMs} ms`;
    }
    if (requests === 0 && result.errors > 0) {
      errors += result.errors;
      requests += result.errors;
      firstError ??= 'could not connect';
    }
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  return { latencies, requests, errors, firstError };
}

/**
 * Measures every path (`spec.rounds` rounds of `spec.durationMs` at `spec.rate` requests/s,
 * rounds alternating between paths) and compares with `ctx.baseline`'s result of a check of the
 * same name, when there is one. Never throws.
 *
 * Fails when any request errors (connection, timeout, status ≥ 400), or when a path's median
 * p95 regresses beyond its allowance (see the module comment). Without a baseline it passes and
 * its result becomes the next release's baseline.
 *
 * @returns `details`: `paths` (`PerfPathResult[]`), `comparisons` (`PerfComparison[]`),
 *   `baselineRelease` (or null), `firstError`.
 */
export async function runPerfCheck(spec: PerfCheckSpec, ctx: CheckContext): Promise<CheckResult> {
  const started = performance.now();
  const paths = spec.paths.map((p) => interpolate(p, ctx));
  const samples = paths.map(() => ({
    p50: [] as number[],
    p95: [] as number[],
    requests: 0,
    errors: 0,
  }));
  let firstError: string | null = null;
  let missing: string | null = null;
  try {
    for (let r = 0; r < spec.rounds && !ctx.signal?.aborted; r++) {
      for (const [i, path] of paths.entries()) {
        const round = await oneRound(`${ctx.baseUrl}${path}`, spec, ctx.signal);
        const s = samples[i] as (typeof samples)[number];
        const sorted = round.latencies.sort((a, b) => a - b);
        s.p50.push(percentile(sorted, 50));
        s.p95.push(percentile(sorted, 95));
        s.requests += round.requests;
        s.errors += round.errors;
        if (round.firstError) firstError ??= `GET ${path}: ${round.firstError}`;
      }
    }
  } catch (error) {
    if (error instanceof AutocannonMissing) missing = error.message;
    firstError ??= (error as Error).message;
    samples.forEach((s) => {
      s.errors++;
    });
  }
  const results: PerfPathResult[] = paths.map((path, i) => {
    const s = samples[i] as (typeof samples)[number];
    return {
      path,
      p50Ms: round1(median(s.p50)),
      p95Ms: round1(median(s.p95)),
      roundsP50Ms: s.p50.map(round1),
      roundsP95Ms: s.p95.map(round1),
      spreadMs: round1(spread(s.p95)),
      requests: s.requests,
      errors: s.errors,
      errorRate: s.requests ? round1((s.errors / s.requests) * 1000) / 1000 : 1,
    };
  });
  const base = ctx.baseline?.results.find(
    (b) => b.name === spec.name && b.type === 'perf' && Array.isArray(b.details.paths),
  );
  const baseline = base ? (base.details.paths as PerfPathResult[]) : null;
  const comparisons = baseline ? comparePerf(results, baseline, spec) : [];
  const cancelled = ctx.signal?.aborted === true;
  const errored = results.filter((p) => p.errors > 0 || p.requests === 0);
  const regressed = comparisons.filter((c) => c.regressed);
  const passed = !cancelled && errored.length === 0 && regressed.length === 0;
  const against = baseline ? ` against ${ctx.baseline?.release}` : '';
  const stats = results
    .map((p) => {
      const c = comparisons.find((x) => x.path === p.path);
      const vs = c
        ? ` (baseline ${c.baselineP95Ms} ms, ${c.deltaMs >= 0 ? '+' : ''}${c.deltaMs} ms, allowed +${c.allowanceMs} ms)`
        : '';
      return `${p.path} p95 ${p.p95Ms} ms${vs}, p50 ${p.p50Ms} ms, rounds' p95 spread ${p.spreadMs} ms`;
    })
    .join('; ');
  let message: string;
  if (cancelled) message = 'perf check cancelled';
  else if (missing) message = missing;
  else if (errored.length > 0)
    message = `${errored.map((p) => `${p.path}: ${p.errors} of ${p.requests} requests failed`).join('; ')} (first: ${firstError ?? 'no request answered'})`;
  else if (regressed.length > 0)
    message = `response time regressed${against}: ${regressed.map((c) => `${c.path} p95 ${c.baselineP95Ms} → ${c.p95Ms} ms (${c.deltaMs >= 0 ? '+' : ''}${c.deltaMs} ms, allowed +${c.allowanceMs} ms), p50 ${c.baselineP50Ms} → ${c.p50Ms} ms (${c.p50DeltaMs >= 0 ? '+' : ''}${c.p50DeltaMs} ms, allowed +${c.p50AllowanceMs} ms)`).join('; ')}`;
  else
    message = `${stats}${baseline ? `: within the allowance${against}` : ' — no baseline yet (this result is the next release’s baseline)'}`;
  return {
    name: spec.name,
    type: 'perf',
    status: passed ? 'passed' : 'failed',
    durationMs: elapsedMs(started),
    attempts: results.reduce((n, p) => n + p.requests, 0),
    message,
    details: {
      paths: results,
      comparisons,
      baselineRelease: baseline ? (ctx.baseline?.release ?? null) : null,
      rate: spec.rate,
      rounds: spec.rounds,
      durationMs: spec.durationMs,
      firstError,
      ...(cancelled ? { cancelled: true } : {}),
    },
  };
}
