/**
 * (n) `airlock serve` at team scale, on Postgres state: a project of 3 environments × 100
 * services (300 environment-services, all serving; a candidate waits in preview and in
 * production behind an approval) and 1 000 000 audit events with a valid hash chain
 * (bulk-inserted as in (e), since the pipeline's gates check the chain's tail).
 * (1) Sequential requests through a real `serve` listener on 127.0.0.1, signed in with a browser
 * session cookie: p50/p95 of `GET /api/pipeline` and `GET /api/history` (newest page, one
 * environment, a deep page), against `GET /healthz` on the same server and the history page's
 * rows read raw through `pg`, in the same run; one bearer-token request row shows what checking
 * a personal token adds.
 * (2) Live fan-out: 100 clients on `/events/environment/staging` (one socket each); a step's
 * transition is written to the state store, and the time until the last client receives it is
 * measured, over several transitions (the server learns of it through LISTEN/NOTIFY).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { Reporter } from '../src/cli/reporter.ts';
import { openSession, type Session } from '../src/cli/session.ts';
import { loadConfig } from '../src/config/load.ts';
import { type RunningServer, startServer } from '../src/server/serve.ts';
import { createToken, openWebSession, verifyToken } from '../src/server/tokens.ts';
import { PostgresStateStore } from '../src/state/postgres-state-store.ts';
import type { ReleaseArtifact, RunStep } from '../src/state/state-store.ts';
import { log } from './project.ts';
import { row, type Section } from './report.ts';
import { seedChain } from './state-store.ts';
import { median, p95 } from './stats.ts';

const PIPELINE = ['staging', 'preview', 'production'];

export interface DashboardBenchOptions {
  /** Admin URL of a Postgres server (a scratch database is made and dropped). */
  adminUrl: string;
  services: number;
  auditEvents: number;
  /** Sequential requests per endpoint. */
  requests: number;
  clients: number;
  /** Step transitions timed for the fan-out. */
  transitions: number;
}

export interface DashboardBenchResult {
  services: number;
  auditEvents: number;
  clients: number;
  seedS: number;
  /** Per endpoint label, wall times of sequential requests (ms). */
  requests: Record<string, number[]>;
  /** CPU time of the process per `/api/pipeline` request (ms), one figure per round. */
  pipelineCpuMs: number[];
  /** Per transition: write start → last client received (ms). */
  fanOutMs: number[];
  /** Per transition: write start → first client received (ms). */
  firstMs: number[];
  /** Per transition: the state store's write alone (ms). */
  writeMs: number[];
  pollMs: number;
}

const POLL_MS = 100;

/** A git repository with the project's configuration: 3 environments × `services` services. */
export function makeProject(dir: string, services: number, stateUrl: string): string {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  const key = path.join(dir, 'key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', key]);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const project = path.join(dir, 'project');
  mkdirSync(path.join(project, '.approvals'), { recursive: true });
  writeFileSync(path.join(project, '.approvals', 'allowed_signers'), `alice ${pub}\n`);
  const environments: Record<string, unknown> = {};
  PIPELINE.forEach((env, e) => {
    environments[env] = {
      ...(env === 'production'
        ? {
            promotion: {
              approval: {
                required: 1,
                identity: 'signed',
                allowedSigners: '.approvals/allowed_signers',
              },
            },
          }
        : {}),
      services: Object.fromEntries(names.map((n, i) => [n, { port: 20000 + e * 1000 + i }])),
    };
  });
  writeFileSync(
    path.join(project, 'airlock.yaml'),
    stringify({
      project: 'dashboard-bench',
      pipeline: PIPELINE,
      state: stateUrl,
      services: Object.fromEntries(
        names.map((n) => [
          n,
          { build: { command: 'node build.js', output: 'dist' }, run: 'node server.js' },
        ]),
      ),
      environments,
    }),
  );
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: project, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git(
    '-c',
    'user.name=bench',
    '-c',
    'user.email=bench@airlock.bench',
    'commit',
    '-q',
    '-m',
    'bench project',
  );
  return project;
}

/** Releases r1..r10 at HEAD; staging serves r10, preview r9, production r8 (candidates wait). */
export async function seedState(
  store: PostgresStateStore,
  services: number,
  commit: string,
  auditEvents: number,
): Promise<void> {
  const artifacts: Record<string, ReleaseArtifact> = {};
  for (let s = 0; s < services; s++)
    artifacts[`svc-${s}`] = {
      digest: 'a'.repeat(64),
      bytes: 1000,
      files: 3,
      migrationsDigest: null,
      migrations: [],
    };
  for (let r = 1; r <= 10; r++)
    await store.insertRelease({
      digest: String(r).padStart(64, '0'),
      commit,
      dirty: false,
      subject: `r${r}`,
      createdAt: new Date().toISOString(),
      createdBy: 'bench',
      buildMs: 1,
      services: artifacts,
    });
  for (const [e, environment] of PIPELINE.entries()) {
    const releaseId = `r${10 - e}`;
    const d = await store.createDeployment({
      runId: null,
      environment,
      releaseId,
      kind: 'deploy',
      actor: 'bench',
      previousReleaseId: `r${9 - e}`,
      startedAt: new Date().toISOString(),
    });
    await store.updateDeployment(d.id, {
      status: 'succeeded',
      finishedAt: new Date().toISOString(),
    });
    await store.transaction(async (tx) => {
      for (let s = 0; s < services; s++)
        await tx.setServing({
          environment,
          service: `svc-${s}`,
          releaseId,
          deploymentId: d.id,
          since: new Date().toISOString(),
        });
    });
  }
  await seedChain(store, 'postgres', auditEvents);
}

/** Sequential GETs through one keep-alive socket; wall time of each (ms), after 5 warm-ups. */
async function timeRequests(
  url: string,
  headers: Record<string, string>,
  n: number,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n + 5; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
    if (i >= 5) out.push(performance.now() - t);
  }
  return out;
}

interface LiveClient {
  /** Resolves when a snapshot containing `marker` arrives; the time (performance.now()). */
  waitFor(marker: string): Promise<number>;
  close(): void;
}

/** One SSE client on its own socket; parses `data:` lines of each event. */
function connectClient(url: string, cookie: string, agent: http.Agent): Promise<LiveClient> {
  return new Promise((resolve, reject) => {
    const waiters: Array<{ marker: string; resolve: (t: number) => void }> = [];
    const req = http.get(
      url,
      { headers: { cookie, accept: 'text/event-stream' }, agent },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SSE ${url}: ${res.statusCode}`));
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          const at = performance.now();
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            for (let i = waiters.length - 1; i >= 0; i--) {
              const w = waiters[i] as (typeof waiters)[number];
              if (event.includes(w.marker)) {
                waiters.splice(i, 1);
                w.resolve(at);
              }
            }
            end = buffer.indexOf('\n\n');
          }
        });
        res.on('error', () => {});
        resolve({
          waitFor: (marker) => new Promise((r) => waiters.push({ marker, resolve: r })),
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}

export async function measureDashboard(
  options: DashboardBenchOptions,
): Promise<DashboardBenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-dashboard-'));
  const name = `airlock_bench_dash_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: options.adminUrl });
  await admin.connect();
  const previousHome = process.env.AIRLOCK_HOME;
  let session: Session | null = null;
  let server: RunningServer | null = null;
  let raw: pg.Client | null = null;
  const clients: LiveClient[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
    const u = new URL(options.adminUrl);
    u.pathname = `/${name}`;
    const stateUrl = u.toString();
    const project = makeProject(dir, options.services, stateUrl);
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: project, encoding: 'utf8' })
      .trim()
      .toString();

    const t = performance.now();
    const seeding = await PostgresStateStore.open({ url: stateUrl });
    const schema = seeding.schema;
    try {
      await seedState(seeding, options.services, commit, options.auditEvents);
    } finally {
      await seeding.close();
    }
    const seedS = (performance.now() - t) / 1000;
    log(
      `dashboard: seeded ${options.services} services × 3 environments and ${options.auditEvents.toLocaleString('en')} audit events in ${seedS.toFixed(1)} s`,
    );

    process.env.AIRLOCK_HOME = path.join(dir, 'home');
    session = await openSession({ as: 'bench' }, new Reporter({ json: true, verbose: false }), {
      config: loadConfig({ cwd: project, env: process.env }),
    });
    const ctx = session.ctx;
    const made = await createToken(ctx, { principal: 'alice', role: 'viewer', ttlMs: 3600_000 });
    const verified = await verifyToken(ctx.store, made.token, ctx.now());
    if (!verified.ok) throw new Error('the bench token does not verify');
    const { cookie } = await openWebSession(ctx.store, verified.token, ctx.now());
    const cookieHeader = `airlock_session=${cookie}`;
    server = await startServer({ ctx, port: 0, host: '127.0.0.1', pollMs: POLL_MS });
    const base = server.url;
    const signedIn = { cookie: cookieHeader };

    // Check the pipeline is what we claim: 3 environments × N services, a candidate waiting.
    const pipeline = (await (
      await fetch(`${base}/api/pipeline`, { headers: signedIn })
    ).json()) as {
      environments: Array<{ serving: unknown[]; candidate: { plan: unknown } }>;
    };
    const serving = pipeline.environments.reduce((n, e) => n + e.serving.length, 0);
    if (serving !== 3 * options.services)
      throw new Error(`the pipeline shows ${serving} environment-services`);
    if (!pipeline.environments[2]?.candidate.plan)
      throw new Error('no candidate waits for production');

    raw = new pg.Client({ connectionString: stateUrl });
    await raw.connect();
    const n = options.requests;
    const requests: Record<string, number[]> = {};
    /** CPU time of this process (server and client) per pipeline request, per round. */
    const pipelineCpuMs: number[] = [];
    // Interleaved rounds so every endpoint sees the same machine.
    const endpoints: Array<[string, () => Promise<number[]>]> = [
      ['healthz', () => timeRequests(`${base}/healthz`, {}, 10)],
      [
        'raw',
        async () => {
          const out: number[] = [];
          for (let i = 0; i < 10; i++) {
            const t0 = performance.now();
            await raw?.query(
              `SELECT * FROM ${pg.escapeIdentifier(schema)}.audit_events ORDER BY id DESC LIMIT 51`,
            );
            out.push(performance.now() - t0);
          }
          return out;
        },
      ],
      [
        'pipeline',
        async () => {
          const cpu = process.cpuUsage();
          const out = await timeRequests(`${base}/api/pipeline`, signedIn, 10);
          const used = process.cpuUsage(cpu);
          pipelineCpuMs.push((used.user + used.system) / 1000 / (out.length + 5));
          return out;
        },
      ],
      ['history', () => timeRequests(`${base}/api/history?limit=50`, signedIn, 10)],
      [
        'historyEnv',
        () => timeRequests(`${base}/api/history?environment=production&limit=50`, signedIn, 10),
      ],
      [
        'historyDeep',
        () =>
          timeRequests(
            `${base}/api/history?limit=50&before=${Math.floor(options.auditEvents / 2)}`,
            signedIn,
            10,
          ),
      ],
    ];
    for (let round = 0; round < Math.ceil(n / 10); round++)
      for (const [label, fn] of endpoints) {
        const samples = await fn();
        requests[label] = [...(requests[label] ?? []), ...samples];
      }
    requests.bearer = await timeRequests(
      `${base}/api/history?limit=50`,
      { authorization: `Bearer ${made.token}` },
      Math.min(n, 30),
    );
    log(`dashboard: ${n} sequential requests per endpoint`);

    // (2) fan-out: a run in staging, 100 clients watching its newest run.
    const run = await ctx.store.createRun({
      kind: 'deploy',
      environment: 'staging',
      releaseId: 'r10',
      actor: 'bench',
      pid: process.pid,
      host: os.hostname(),
      startedAt: new Date().toISOString(),
    });
    for (let i = 0; i < options.clients; i++)
      clients.push(await connectClient(`${base}/events/environment/staging`, cookieHeader, agent));
    const fanOutMs: number[] = [];
    const firstMs: number[] = [];
    const writeMs: number[] = [];
    for (let k = 0; k < options.transitions + 1; k++) {
      const marker = `bench-transition-${k}`;
      const arrivals = clients.map((c) => c.waitFor(marker));
      // Spaced (and at a random phase, should the server fall back to polling).
      await new Promise((r) => setTimeout(r, 150 + Math.random() * POLL_MS));
      const step: RunStep = {
        runId: run.id,
        index: k,
        name: 'check',
        title: `step ${k}`,
        status: 'running',
        startedAt: new Date().toISOString(),
        finishedAt: null,
        durationMs: null,
        message: marker,
        output: null,
      };
      const t0 = performance.now();
      await ctx.store.saveStep(step);
      const written = performance.now();
      const times = await Promise.all(arrivals);
      if (k === 0) continue; // warm-up
      writeMs.push(written - t0);
      fanOutMs.push(Math.max(...times) - t0);
      firstMs.push(Math.min(...times) - t0);
    }
    log(`dashboard: ${options.transitions} transitions fanned out to ${options.clients} clients`);
    return {
      services: options.services,
      auditEvents: options.auditEvents,
      clients: options.clients,
      seedS,
      requests,
      pipelineCpuMs,
      fanOutMs,
      firstMs,
      writeMs,
      pollMs: POLL_MS,
    };
  } finally {
    for (const c of clients) c.close();
    agent.destroy();
    await server?.close(1000).catch(() => {});
    await raw?.end().catch(() => {});
    await session?.ctx.store.close?.().catch(() => {});
    if (previousHome === undefined) delete process.env.AIRLOCK_HOME;
    else process.env.AIRLOCK_HOME = previousHome;
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function dashboardSection(r: DashboardBenchResult): Section {
  const q = r.requests;
  const stat = (values: number[] = []) => ({
    value: median(values),
    p95: p95(values),
    n: values.length,
  });
  const healthz = {
    baseline: median(q.healthz ?? []),
    baselineLabel: '`GET /healthz`, same server',
  };
  const rawRows = {
    baseline: median(q.raw ?? []),
    baselineLabel: 'the same 51 rows raw through pg',
  };
  const target = (values: number[] = []) => ({ target: 'p95 < 50 ms', ok: p95(values) < 50 });
  return {
    id: 'dashboard',
    title: `(n) airlock serve on Postgres: ${r.services} services × 3 environments, ${r.auditEvents.toLocaleString('en')} audit events; sequential requests on 127.0.0.1, live fan-out to ${r.clients} clients`,
    valueLabel: 'median',
    rows: [
      row('GET /healthz (baseline)', { ...stat(q.healthz) }),
      row('GET /api/pipeline (3 environments, plans and gates)', {
        ...stat(q.pipeline),
        ...healthz,
        ...target(q.pipeline),
      }),
      row('GET /api/pipeline: CPU time per request (server and client)', {
        ...stat(r.pipelineCpuMs),
      }),
      row('GET /api/history (newest 50)', {
        ...stat(q.history),
        ...rawRows,
        ...target(q.history),
      }),
      row('GET /api/history?environment=production (newest 50)', {
        ...stat(q.historyEnv),
        ...rawRows,
        ...target(q.historyEnv),
      }),
      row('GET /api/history?before=<middle> (a deep page)', {
        ...stat(q.historyDeep),
        ...rawRows,
        ...target(q.historyDeep),
      }),
      row('GET /api/history with a bearer token (scrypt per request)', {
        ...stat(q.bearer),
        ...rawRows,
      }),
      row(`step transition → last of ${r.clients} SSE clients receives it`, {
        ...stat(r.fanOutMs),
        baseline: median(r.firstMs),
        baselineLabel: 'the first client',
      }),
      row('the transition written to the state store (part of the above)', {
        ...stat(r.writeMs),
      }),
    ],
    notes: [
      `The audit log is bulk-inserted with a valid hash chain (the pipeline's gates check its tail); seeded in ${r.seedS.toFixed(0)} s. Staging serves r10, preview r9 and production r8: each /api/pipeline request plans two promotions (their gates, the chain's tail and git included). The records and both plans share one view of the state per request (what serves, the newest deployments, locks, interrupted runs, open incidents and fingerprints of the whole pipeline in one statement; every other read asked once; releases kept across requests) and of each platform (a service's configuration read once); what stays per service is the parity comparison and the local provider's secrets files: its CPU row per round of 10.`,
      'Requests are sequential on one keep-alive connection, signed in with a browser session cookie; the endpoints are interleaved in rounds of 10. The bearer row shows what a personal token costs per request: its scrypt check (N=16384) is by design slow.',
      `On Postgres the server LISTENs for the state's change notices (sent by triggers at the writing transaction's commit), so a transition reaches the clients without polling (the ${r.pollMs} ms poll only runs while that connection is lost, or on SQLite); one read per watched run, however many clients; the clients run in the bench's process, beside the server. Over ${r.fanOutMs.length} transitions.`,
    ],
    details: {
      seedS: r.seedS,
      medians: Object.fromEntries(Object.entries(q).map(([k, v]) => [k, median(v)])),
      fanOutMs: r.fanOutMs,
    },
  };
}
