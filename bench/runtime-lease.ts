/**
 * (k) No unchecked release keeps serving, and the runtime comes back by itself.
 *
 * Lease: production gets a check only the first release passes, so every later release fails
 * its production checks. A promotion of the second release is killed with -9 at every step
 * boundary in turn (`AIRLOCK_FAULT_PAUSE`), then left alone: the time the failing release served
 * is read from the runtime's events (its switch → the switch back to the first release). One more
 * promotion runs to its end (the pipeline rolls back by itself). Default lease (30 s); target:
 * at most lease + 5 s at every boundary.
 *
 * Supervisor: under a fixed-rate load on production (one GET /version every 1000/rate ms over
 * keep-alive connections — not autocannon, which retries a refused connection at once and so
 * counts thousands of failures per second of outage), the runtime daemon is killed with -9
 * several times; per kill, the time until production answers again (a fresh connection polled
 * every 10 ms), the failed requests of the load, and the `runtime.recovered` events in
 * production's audit log. Target: serving again within 2 s.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { DEFAULT_CHECKS_LEASE_MS } from '../src/config/resolve-environment.ts';
import {
  type BenchProject,
  BIN,
  cliJson,
  DEVELOPER,
  epochNow,
  getJson,
  log,
  REVIEWER,
  servedRelease,
  sleep,
  startProcess,
} from './project.ts';
import { row, type Section } from './report.ts';
import { median, quantile } from './stats.ts';

/** What the fixed-rate load saw. */
export interface FixedLoad {
  sent: number;
  failed: number;
  rate: number;
  errorCodes: Record<string, number>;
}

/** GET `url` every 1000/`rate` ms (keep-alive) while `action` runs, and 2 s more. */
async function fixedRateLoad(
  url: string,
  rate: number,
  action: () => Promise<void>,
): Promise<FixedLoad> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const load: FixedLoad = { sent: 0, failed: 0, rate: 0, errorCodes: {} };
  const pending = new Set<Promise<void>>();
  const started = performance.now();
  const timer = setInterval(() => {
    load.sent += 1;
    const request = getJson(url, agent, 2_000).then(
      (r) => {
        if (r.status !== 200) {
          load.failed += 1;
          load.errorCodes[`HTTP ${r.status}`] = (load.errorCodes[`HTTP ${r.status}`] ?? 0) + 1;
        }
      },
      (error: NodeJS.ErrnoException) => {
        load.failed += 1;
        const code = error.code ?? error.message;
        load.errorCodes[code] = (load.errorCodes[code] ?? 0) + 1;
      },
    );
    pending.add(request);
    void request.finally(() => pending.delete(request));
  }, 1000 / rate);
  try {
    await action();
    await sleep(2_000);
  } finally {
    clearInterval(timer);
  }
  await Promise.all(pending);
  agent.destroy();
  load.rate = load.sent / ((performance.now() - started) / 1000);
  return load;
}

export interface LeaseKill {
  boundary: string;
  /** How long the failing release served (ms); 0 when it never switched. */
  servedMs: number;
  /** Whether production served the first release again afterwards. */
  back: boolean;
}

export interface RuntimeLeaseResult {
  leaseMs: number;
  kills: LeaseKill[];
  /** The same promotion run to its end: the failing release's serving time before the rollback. */
  uninterruptedMs: number;
  /** Per daemon kill: kill → production answers 200 again (ms). */
  daemonDownMs: number[];
  /** Baseline, same run: spawning `node -e 0` until it exits (ms), as many times. */
  nodeStartMs: number[];
  load: FixedLoad;
  recoveredEvents: number;
}

async function gitSync(dir: string, args: string[]): Promise<void> {
  const done = await startProcess('git', args, { cwd: dir }).done;
  if (done.code !== 0) throw new Error(`git ${args.join(' ')}: ${done.stderr}`);
}

/** The first release's id passes production's check; every later release fails it. */
async function productionChecksOnly(project: BenchProject, release: string): Promise<void> {
  const file = path.join(project.dir, 'airlock.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(
    ['environments', 'production', 'services', 'notes', 'checks'],
    doc.createNode([
      {
        name: `only-${release}`,
        type: 'http',
        path: '/version',
        expect: { status: 200, json: { release } },
        timeoutMs: 1000,
        intervalMs: 100,
      },
    ]),
  );
  doc.setIn(['parity'], doc.createNode({ allow: ['airlock.checks.*'] }));
  writeFileSync(file, doc.toString());
  await gitSync(project.dir, ['commit', '-q', '-am', 'bench: production checks only pass r1']);
}

/** How long `bad` served in production from `since` (epoch ms) until the next switch away. */
function servedFrom(project: BenchProject, bad: string, since: number): number | null {
  const events = project.events('production').filter((e) => e.at >= since);
  const on = events.find((e) => e.type === 'switched' && e.release === bad);
  if (!on) return 0;
  const off = events.find((e) => e.type === 'switched' && e.at >= on.at && e.release !== bad);
  return off ? off.at - on.at : null;
}

async function approve(project: BenchProject): Promise<void> {
  await project.cli(['approve', 'production', '--as', REVIEWER, '--json']);
}

/** Measures (k) on `project` (fresh: nothing deployed). */
export async function measureRuntimeLease(
  project: BenchProject,
  options: { loadRate: number; daemonKills: number },
): Promise<RuntimeLeaseResult> {
  const leaseMs = DEFAULT_CHECKS_LEASE_MS;
  // r1 everywhere, passing production's check; r2 in staging, failing it.
  // Releases are numbered from r1 on a fresh project.
  await productionChecksOnly(project, 'r1');
  await project.cli(['deploy', 'staging', '--json']);
  await approve(project);
  await project.cli(['promote', 'production', '--yes', '--json']);
  project.commitChange('r-bad');
  await project.cli(['deploy', 'staging', '--json']);
  const bad = await servedRelease(project.url('staging'));
  const good = await servedRelease(project.url('production'));
  await approve(project);

  const plan = cliJson(await project.cli(['plan', 'production', '--json'])) as {
    plan?: { steps: Array<{ name: string }> };
    steps?: Array<{ name: string }>;
  };
  const steps = (plan.plan?.steps ?? plan.steps ?? []).map((s) => s.name);
  const boundaries = steps.flatMap((s) => [`before:${s}`, `after:${s}`]);
  log(`lease: ${bad} fails production's checks; killing at ${boundaries.length} boundaries`);

  const marker = path.join(project.home, 'fault-paused');
  const kills: LeaseKill[] = [];
  for (const boundary of boundaries) {
    rmSync(marker, { force: true });
    const since = epochNow();
    const cli = startProcess(process.execPath, [BIN, 'promote', 'production', '--yes', '--json'], {
      cwd: project.dir,
      env: {
        ...process.env,
        AIRLOCK_ACTOR: DEVELOPER,
        CI: '1',
        NO_COLOR: '1',
        AIRLOCK_FAULT_PAUSE: boundary,
      },
    });
    const deadline = performance.now() + 60_000;
    while (!existsSync(marker) && performance.now() < deadline) {
      if (cli.child.exitCode !== null) break;
      await sleep(20);
    }
    const paused = existsSync(marker);
    cli.child.kill('SIGKILL');
    await cli.done;
    // Wait for the runtime to put the good release back (at most the lease and some).
    const until = performance.now() + leaseMs + 30_000;
    let served = servedFrom(project, bad, since);
    while (served === null && performance.now() < until) {
      await sleep(100);
      served = servedFrom(project, bad, since);
    }
    const back = (await servedRelease(project.url('production')).catch(() => '')) === good;
    kills.push({
      boundary: paused ? boundary : `${boundary} (not reached)`,
      servedMs: served ?? Number.NaN,
      back,
    });
    log(`lease: killed at ${boundary}: ${bad} served ${served ?? '?'} ms; ${good} back: ${back}`);
    await approve(project).catch(() => {});
  }

  // The same promotion, not killed: the pipeline's own rollback.
  const since = epochNow();
  await project.startCli(['promote', 'production', '--yes', '--json']).done;
  const uninterruptedMs = servedFrom(project, bad, since) ?? Number.NaN;

  // Supervisor kill -9 under load.
  const runtimeFile = path.join(project.home, 'local', 'runtime.json');
  const daemonDownMs: number[] = [];
  const url = project.url('production');
  const load = await fixedRateLoad(`${url}/version`, options.loadRate, async () => {
    await sleep(1_000);
    for (let i = 0; i < options.daemonKills; i++) {
      const { pid } = JSON.parse(readFileSync(runtimeFile, 'utf8')) as { pid: number };
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      for (;;) {
        const ok = await getJson(`${url}/version`, false, 500).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok && performance.now() - t0 > 20) break;
        if (performance.now() - t0 > 30_000) break;
        await sleep(10);
      }
      daemonDownMs.push(performance.now() - t0);
      await sleep(2_500);
    }
  });
  const history = cliJson(
    await project.cli(['history', 'production', '--json', '--limit', '200']),
  ) as {
    events: Array<{ action: string; at: string }>;
  };
  const recoveredEvents = history.events.filter((e) => e.action === 'runtime.recovered').length;
  // What any restart costs at least on this machine now: Node's own start.
  const nodeStartMs: number[] = [];
  for (let i = 0; i < options.daemonKills; i++) {
    nodeStartMs.push(
      (await startProcess(process.execPath, ['-e', '0'], { cwd: project.dir }).done).wallMs,
    );
  }
  return { leaseMs, kills, uninterruptedMs, daemonDownMs, nodeStartMs, load, recoveredEvents };
}

export function runtimeLeaseSection(r: RuntimeLeaseResult): Section {
  const served = r.kills.map((k) => k.servedMs).filter((v) => Number.isFinite(v));
  const longest =
    served.length === r.kills.length && served.length ? Math.max(...served) : Number.NaN;
  const afterSwitch = served.filter((v) => v > 0);
  const target = r.leaseMs + 5_000;
  const failed = r.load.failed;
  return {
    id: 'runtime-lease',
    title: `(k) Unchecked releases and the runtime's own death: kill -9 at ${r.kills.length} step boundaries of a promotion whose production checks fail (lease ${r.leaseMs / 1000} s); daemon kill -9 ×${r.daemonDownMs.length} under ${Math.round(r.load.rate)} req/s`,
    valueLabel: 'median',
    rows: [
      row('longest time a failing release served (any boundary)', {
        value: longest,
        target: `≤ ${target / 1000} s`,
        ok: Number.isFinite(longest) && longest <= target,
        n: r.kills.length,
      }),
      row('time it served, kills after the switch', {
        value: median(afterSwitch),
        p95: quantile(afterSwitch, 0.95),
        n: afterSwitch.length,
      }),
      row('time it served, not killed (the pipeline rolls back)', {
        value: r.uninterruptedMs,
      }),
      row('daemon kill -9 → production answers again', {
        value: median(r.daemonDownMs),
        p95: quantile(r.daemonDownMs, 0.95),
        baseline: median(r.nodeStartMs),
        baselineLabel: '`node -e 0` start',
        target: '≤ 2 s',
        ok: r.daemonDownMs.length > 0 && Math.max(...r.daemonDownMs) <= 2_000,
        n: r.daemonDownMs.length,
      }),
      row('failed requests during the daemon kills', {
        unit: 'count',
        value: failed,
        baseline: r.load.sent,
        baselineLabel: 'requests sent',
      }),
      row('runtime.recovered events in the audit log (one per kill)', {
        unit: 'count',
        value: r.recoveredEvents,
        target: `= ${r.daemonDownMs.length}`,
        ok: r.recoveredEvents === r.daemonDownMs.length,
      }),
    ],
    notes: [
      `per boundary (ms the failing release served): ${r.kills.map((k) => `${k.boundary} ${Math.round(k.servedMs)}${k.back ? '' : ' (first release NOT back)'}`).join(', ')}`,
      `daemon kills (ms to serve again): ${r.daemonDownMs.map((v) => Math.round(v)).join(', ')}; failures by code: ${JSON.stringify(r.load.errorCodes)}`,
    ],
    details: { ...r },
  };
}
