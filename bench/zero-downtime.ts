/**
 * (b) Zero downtime. autocannon (programmatic API) sends GET /version and GET /notes at a fixed
 * overall rate to production's URL while Airlock runs deploy staging → approve → promote
 * production → rollback production, and keeps going until at least `target` responses are in.
 * Baseline, in the same run with the same load: the same app on a fixed port, "stop old, start
 * new" (SIGTERM, wait for exit, spawn the new process on that port) as many times as production
 * switches during Airlock's sequence.
 *
 * autocannon's rate limit is per second and per connection (each connection sends its quota at
 * the start of each second, then pauses), so the load is split over staggered instances to
 * spread it over the second; responses near each switch are counted to show the load covered it.
 */
import { createRequire } from 'node:module';
import type { PlainApp } from './plain-app.ts';
import { type BenchProject, cliJson, epochNow, sleep } from './project.ts';
import { stageAndApprove } from './promotion.ts';
import { row, type Section } from './report.ts';
import { median, quantile, round1 } from './stats.ts';

interface AutocannonOptions {
  url: string;
  connections: number;
  overallRate: number;
  duration: number;
  sampleInt: number;
  timeout: number;
  requests: Array<{ method: string; path: string }>;
  ignoreCoordinatedOmission: boolean;
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p99: number; totalCount: number };
}

interface AutocannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
  on(event: 'reqError', listener: (error: Error & { code?: string }) => void): void;
  stop(): void;
}

type Autocannon = (
  options: AutocannonOptions,
  callback: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadOptions {
  /** Requests per second over all instances. */
  rate: number;
  /** Stop only once at least this many responses (or failures) are in. */
  target: number;
  /** Instances started 1000/instances ms apart. */
  instances: number;
  connectionsPerInstance: number;
  /** Load before `action` starts, and at least this long after it ends (ms). */
  leadMs: number;
}

export interface LoadResult {
  label: string;
  completed: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  errorCodes: Record<string, number>;
  /**
   * Time with failures: failures closer than 250 ms together form one incident; the sum of the
   * incidents' spans (first to last failure). 0 when nothing failed.
   */
  failureWindowMs: number;
  incidents: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  durationS: number;
  achievedRate: number;
  /** autocannon's own totals (cross-check). */
  autocannon: { twoxx: number; non2xx: number; errors: number; timeouts: number };
  /** Epoch ms of each switch / restart, and responses within ±50 ms of it. */
  switches: Array<{ at: number; what: string; responsesWithin50ms: number }>;
  /** What the action reported (CLI walls etc.). */
  action: Record<string, number | string>;
}

/**
 * Runs the load against `url`, calls `action` after `leadMs`, and stops once `action` is done,
 * `leadMs` more passed and `target` requests completed. `action` returns the switch moments.
 */
export async function underLoad(
  label: string,
  url: string,
  options: LoadOptions,
  action: () => Promise<{
    switches: Array<{ at: number; what: string }>;
    info: LoadResult['action'];
  }>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const responseTimes: number[] = [];
  const failureTimes: number[] = [];
  const errorCodes: Record<string, number> = {};
  let completed = 0;
  let ok2xx = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const instances: AutocannonInstance[] = [];
  const results: Array<Promise<AutocannonResult>> = [];
  const started = performance.now();
  for (let i = 0; i < options.instances; i++) {
    if (i > 0) await sleep(1000 / options.instances);
    let instance!: AutocannonInstance;
    results.push(
      new Promise((resolve, reject) => {
        instance = autocannon(
          {
            url,
            connections: options.connectionsPerInstance,
            overallRate: Math.round(options.rate / options.instances),
            duration: 600,
            sampleInt: 100,
            timeout: 10,
            requests: [
              { method: 'GET', path: '/version' },
              { method: 'GET', path: '/notes' },
            ],
            ignoreCoordinatedOmission: true,
          },
          (error, result) => (error ? reject(error) : resolve(result)),
        );
      }),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      const now = epochNow();
      completed += 1;
      latencies.push(ms);
      responseTimes.push(now);
      if (status >= 200 && status < 300) ok2xx += 1;
      else {
        non2xx += 1;
        failureTimes.push(now);
      }
    });
    instance.on('reqError', (error) => {
      errors += 1;
      if (error.message.includes('timed out')) timeouts += 1;
      const code = error.code ?? error.message;
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      failureTimes.push(epochNow());
    });
    instances.push(instance);
  }
  await sleep(options.leadMs);
  let outcome: Awaited<ReturnType<typeof action>>;
  try {
    outcome = await action();
    await sleep(options.leadMs);
    const deadline = performance.now() + 120_000;
    while (completed < options.target && performance.now() < deadline) await sleep(50);
  } finally {
    for (const instance of instances) instance.stop();
  }
  const totals = await Promise.all(results);
  const durationS = (performance.now() - started) / 1000;
  const sum = (pick: (r: AutocannonResult) => number) => totals.reduce((s, r) => s + pick(r), 0);
  const switches = outcome.switches.map((s) => ({
    ...s,
    responsesWithin50ms: responseTimes.filter((t) => Math.abs(t - s.at) <= 50).length,
  }));
  const { windowMs: failureWindowMs, incidents } = incidentsOf(failureTimes, 250);
  return {
    label,
    completed,
    ok2xx,
    non2xx,
    errors,
    timeouts,
    errorCodes,
    failureWindowMs,
    incidents,
    latencyP50: quantile(latencies, 0.5),
    latencyP99: quantile(latencies, 0.99),
    latencyMax: latencies.length ? Math.max(...latencies) : Number.NaN,
    durationS,
    achievedRate: (completed + errors) / durationS,
    autocannon: {
      twoxx: sum((r) => r['2xx']),
      non2xx: sum((r) => r.non2xx),
      errors: sum((r) => r.errors),
      timeouts: sum((r) => r.timeouts),
    },
    switches,
    action: outcome.info,
  };
}

/** Groups failure times (epoch ms) into incidents split by gaps over `gapMs`; sums their spans. */
export function incidentsOf(
  times: readonly number[],
  gapMs: number,
): { windowMs: number; incidents: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let windowMs = 0;
  let incidents = 0;
  let start = Number.NaN;
  let last = Number.NaN;
  for (const t of sorted) {
    if (incidents === 0 || t - last > gapMs) {
      if (incidents > 0) windowMs += last - start;
      incidents += 1;
      start = t;
    }
    last = t;
  }
  if (incidents > 0) windowMs += last - start;
  return { windowMs, incidents };
}

/** Airlock's sequence under load: deploy staging → approve → promote production → rollback. */
export async function airlockUnderLoad(
  project: BenchProject,
  label: string,
  options: LoadOptions,
): Promise<LoadResult> {
  project.commitChange(label);
  return underLoad(label, project.url('production'), options, async () => {
    const since = epochNow();
    const staged = await stageAndApprove(project);
    const promote = await project.cli(['promote', 'production', '--yes', '--json']);
    const rollback = await project.cli(['rollback', 'production', '--yes', '--json']);
    const p = cliJson(promote);
    const r = cliJson(rollback);
    if (p.status !== 'succeeded' || r.status !== 'succeeded') {
      throw new Error(`${label}: promote ${p.status}, rollback ${r.status}`);
    }
    const switched = project
      .events('production')
      .filter((e) => e.type === 'switched' && e.at >= since)
      .map((e) => ({ at: e.at, what: `switched to ${e.release}` }));
    return {
      switches: switched,
      info: {
        deployStagingMs: round1(staged.deployMs),
        approveMs: round1(staged.approveMs),
        promoteMs: round1(promote.wallMs),
        rollbackMs: round1(rollback.wallMs),
        promoted: String((p.release as { id: string }).id),
        rolledBackTo: String((r.release as { id: string }).id),
      },
    };
  });
}

/** "Stop old, start new" on a fixed port, `restarts` times, `gapMs` apart, under the same load. */
export async function baselineUnderLoad(
  app: PlainApp,
  options: LoadOptions & { restarts: number; gapMs: number },
): Promise<LoadResult> {
  let current = app.start('baseline-0');
  await app.waitHealthy(performance.now(), 5);
  try {
    return await underLoad('stop old, start new', app.url, options, async () => {
      const switches: Array<{ at: number; what: string }> = [];
      const downtimes: number[] = [];
      for (let i = 1; i <= options.restarts; i++) {
        if (i > 1) await sleep(options.gapMs);
        const t0 = performance.now();
        switches.push({ at: epochNow(), what: `restart ${i}` });
        await app.stop(current);
        current = app.start(`baseline-${i}`);
        downtimes.push(await app.waitHealthy(t0, 1));
      }
      return {
        switches,
        info: Object.fromEntries(
          downtimes.map((d, i) => [`restart${i + 1}UntilHealthyMs`, round1(d)]),
        ),
      };
    });
  } finally {
    await app.stopAll();
  }
}

/** The fewest responses seen around any one switch (0 when there was no switch). */
function covered(r: LoadResult): number {
  return r.switches.length ? Math.min(...r.switches.map((s) => s.responsesWithin50ms)) : 0;
}

function failures(r: LoadResult): number {
  return r.non2xx + r.errors;
}

export function zeroDowntimeSection(
  runs: LoadResult[],
  baseline: LoadResult,
  options: LoadOptions,
  quick: boolean,
): Section {
  const rows = [];
  for (const r of runs) {
    const f = failures(r);
    rows.push(
      row(`${r.label}: requests sent (answered + failed)`, {
        unit: 'count',
        value: r.completed + r.errors,
        baseline: baseline.completed + baseline.errors,
        baselineLabel: 'stop old, start new',
        ratio: null,
      }),
      row(`${r.label}: responses received`, {
        unit: 'count',
        value: r.completed,
        baseline: baseline.completed,
        baselineLabel: 'same load',
        ratio: null,
        target: `≥ ${options.target.toLocaleString('en-US')}`,
        ok: r.completed >= options.target,
      }),
      row(`${r.label}: failed (non-2xx + errors)`, {
        unit: 'count',
        value: f,
        baseline: failures(baseline),
        baselineLabel: 'stop old, start new',
        ratio: failures(baseline) > 0 ? f / failures(baseline) : null,
        target: '0',
        ok: f === 0,
      }),
      row(`${r.label}: time with failures (sum of incidents)`, {
        value: r.failureWindowMs,
        baseline: baseline.failureWindowMs,
        baselineLabel: 'stop old, start new',
        ratio: baseline.failureWindowMs > 0 ? r.failureWindowMs / baseline.failureWindowMs : null,
      }),
      row(`${r.label}: latency p99`, {
        value: r.latencyP99,
        baseline: baseline.latencyP99,
        baselineLabel: 'stop old, start new (direct)',
      }),
      row(`${r.label}: latency max`, {
        value: r.latencyMax,
        baseline: baseline.latencyMax,
        baselineLabel: 'stop old, start new (direct)',
      }),
      row(`${r.label}: responses within ±50 ms of a switch (min)`, {
        unit: 'count',
        value: covered(r),
        baseline: covered(baseline),
        baselineLabel: 'around each restart',
        ratio: null,
        target: '≥ 1 (load covers it)',
        ok: covered(r) >= 1,
      }),
    );
  }
  const restarts = Object.entries(baseline.action)
    .filter(([k]) => k.endsWith('UntilHealthyMs'))
    .map(([, v]) => Number(v));
  rows.push(
    row('baseline: SIGTERM → new process answers /health', {
      value: median(restarts),
      n: restarts.length,
      baselineLabel: null,
    }),
  );
  return {
    id: 'zeroDowntime',
    title: `(b) Zero downtime: autocannon at ${options.rate} req/s (GET /version, /notes) on production during deploy staging → promote → rollback`,
    valueLabel: 'value',
    rows,
    notes: [
      `load: ${options.instances} autocannon instances × ${options.connectionsPerInstance} keep-alive connection(s), started ${Math.round(1000 / options.instances)} ms apart (autocannon rate-limits per second per connection: each sends its quota at the start of its second), so the load is spread over the second; latency is as autocannon measures it, without coordinated-omission correction.`,
      `baseline: the same app on a fixed port, SIGTERM then a new \`node server.js\` on that port, ${baseline.switches.length} times (as many times as production switches in Airlock's sequence); its latency is direct, without a proxy. A request written just as the old process closed its connection is re-sent by autocannon on the new connection and counted as a success with the whole wait as latency (hence p99 ≈ 1 s), so the baseline's failure count is a lower bound. Baseline incidents: ${baseline.incidents}.`,
      ...(quick ? ['--quick: fewer requests than the full run (target ≥ 20 000 there).'] : []),
      ...(baseline.errors > 0
        ? [
            `baseline errors by code: ${Object.entries(baseline.errorCodes)
              .map(([k, v]) => `${k} ${v}`)
              .join(
                ', ',
              )} (autocannon reconnects at once after a refused connection, so the count depends on how fast it retries; the failure window does not).`,
          ]
        : []),
    ],
    details: {
      load: options,
      runs: [...runs, baseline].map((r) => ({
        ...r,
        latencyP50: round1(r.latencyP50),
        latencyP99: round1(r.latencyP99),
        latencyMax: round1(r.latencyMax),
        durationS: round1(r.durationS),
        achievedRate: Math.round(r.achievedRate),
        failureWindowMs: round1(r.failureWindowMs),
      })),
    },
  };
}
