/**
 * (e) The state store at team scale, on SQLite and on Postgres: the queries of `airlock status`
 * for 100 services × 3 environments, and of `airlock history` over 1 000 000 audit events.
 * In process (a CLI's start is measured in (d)); baseline: one `SELECT 1` round trip on the
 * same engine in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { recordedEnvironments } from '../src/pipeline/status.ts';
import type { KyselyStateStore } from '../src/state/kysely-state-store.ts';
import { PostgresStateStore } from '../src/state/postgres-state-store.ts';
import { SqliteStateStore } from '../src/state/sqlite-state-store.ts';
import type { ReleaseArtifact } from '../src/state/state-store.ts';
import { log } from './project.ts';
import { type Row, row, type Section } from './report.ts';
import { median, p95 } from './stats.ts';

const PIPELINE = ['staging', 'preview', 'production'];

export interface StateStoreOptions {
  services: number;
  auditEvents: number;
  iterations: number;
  /** Admin URL of a Postgres server, or null to measure SQLite only. */
  postgresUrl: string | null;
}

interface EngineResult {
  engine: 'sqlite' | 'postgres';
  selectMs: number[];
  statusMs: number[];
  historyMs: number[];
  historyEnvMs: number[];
  seedS: number;
}

async function timed(iterations: number, fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm caches and prepared plans once
  const out: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

/** Fills a store: 10 releases of `services` services, all serving in 3 environments, and the audit log. */
async function seed(
  store: KyselyStateStore,
  engine: 'sqlite' | 'postgres',
  options: StateStoreOptions,
): Promise<void> {
  const services: Record<string, ReleaseArtifact> = {};
  for (let s = 0; s < options.services; s++) {
    services[`svc-${s}`] = {
      digest: 'a'.repeat(64),
      bytes: 1000,
      files: 3,
      migrationsDigest: null,
      migrations: [],
    };
  }
  for (let r = 1; r <= 10; r++) {
    await store.insertRelease({
      digest: String(r).padStart(64, '0'),
      commit: String(r).padStart(40, '0'),
      dirty: false,
      subject: `r${r}`,
      createdAt: new Date().toISOString(),
      createdBy: 'bench',
      buildMs: 1,
      services,
    });
  }
  for (const environment of PIPELINE) {
    const d = await store.createDeployment({
      runId: null,
      environment,
      releaseId: 'r10',
      kind: 'deploy',
      actor: 'bench',
      previousReleaseId: 'r9',
      startedAt: new Date().toISOString(),
    });
    await store.transaction(async (tx) => {
      for (let s = 0; s < options.services; s++) {
        await tx.setServing({
          environment,
          service: `svc-${s}`,
          releaseId: 'r10',
          deploymentId: d.id,
          since: new Date().toISOString(),
        });
      }
    });
  }
  const n = options.auditEvents;
  const detail = '{"from":"r9","durationMs":321}';
  if (engine === 'sqlite') {
    await sql`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n})
      INSERT INTO audit_events (at, actor, action, environment, release_id, run_id, result, detail)
      SELECT '2026-11-21T10:00:00.000Z', 'bench', 'deployment.succeeded',
        CASE x % 3 WHEN 0 THEN 'staging' WHEN 1 THEN 'preview' ELSE 'production' END, 'r10', NULL, 'ok', ${detail}
      FROM c`.execute(store.db);
  } else {
    // Raw SQL is not schema-qualified by Kysely: name the table in the store's schema.
    const table = sql.id((store as PostgresStateStore).schema, 'audit_events');
    await sql`INSERT INTO ${table} (at, actor, action, environment, release_id, run_id, result, detail)
      SELECT '2026-11-21T10:00:00.000Z', 'bench', 'deployment.succeeded',
        (ARRAY['staging','preview','production'])[1 + x % 3], 'r10', NULL, 'ok', ${detail}
      FROM generate_series(1, ${n}) x`.execute(store.db);
    await sql`ANALYZE ${table}`.execute(store.db);
  }
}

async function measure(
  store: KyselyStateStore,
  engine: 'sqlite' | 'postgres',
  options: StateStoreOptions,
): Promise<EngineResult> {
  const t = performance.now();
  await seed(store, engine, options);
  const seedS = (performance.now() - t) / 1000;
  log(
    `state store (${engine}): seeded ${options.services} services × 3 environments and ${options.auditEvents} audit events in ${seedS.toFixed(1)} s`,
  );
  return {
    engine,
    seedS,
    selectMs: await timed(options.iterations, () => sql`SELECT 1`.execute(store.db)),
    statusMs: await timed(options.iterations, () => recordedEnvironments(store, PIPELINE)),
    historyMs: await timed(options.iterations, () => store.listAudit({ limit: 30 })),
    historyEnvMs: await timed(options.iterations, () =>
      store.listAudit({ environment: 'production', limit: 30 }),
    ),
  };
}

export async function measureStateStore(options: StateStoreOptions): Promise<EngineResult[]> {
  const results: EngineResult[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-state-'));
  try {
    const store = await SqliteStateStore.open({ file: path.join(dir, 'state.db') });
    try {
      results.push(await measure(store, 'sqlite', options));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (options.postgresUrl) {
    const name = `airlock_bench_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: options.postgresUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
      const u = new URL(options.postgresUrl);
      u.pathname = `/${name}`;
      const store = await PostgresStateStore.open({ url: u.toString() });
      try {
        results.push(await measure(store, 'postgres', options));
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
      await admin.end();
    }
  }
  return results;
}

export function stateStoreSection(results: EngineResult[], options: StateStoreOptions): Section {
  const rows: Row[] = [];
  for (const r of results) {
    const label = r.engine === 'sqlite' ? 'SQLite' : 'Postgres';
    const baseline = { baseline: median(r.selectMs), baselineLabel: `\`SELECT 1\` on ${label}` };
    const stat = (values: number[]) => ({ value: p95(values), p95: p95(values), n: values.length });
    rows.push(
      row(
        `${label}: \`airlock status\` queries (${options.services} services × 3 environments), p95`,
        {
          ...stat(r.statusMs),
          ...baseline,
          target: '< 50 ms',
          ok: p95(r.statusMs) < 50,
        },
      ),
      row(
        `${label}: \`airlock history\` (newest 30 of ${options.auditEvents.toLocaleString('en')}), p95`,
        {
          ...stat(r.historyMs),
          ...baseline,
          target: '< 50 ms',
          ok: p95(r.historyMs) < 50,
        },
      ),
      row(`${label}: \`airlock history production\` (one environment), p95`, {
        ...stat(r.historyEnvMs),
        ...baseline,
        target: '< 50 ms',
        ok: p95(r.historyEnvMs) < 50,
      }),
    );
  }
  return {
    id: 'stateStore',
    title: `(e) State store at team scale: ${options.services} services × 3 environments, ${options.auditEvents.toLocaleString('en')} audit events (in process; ${options.iterations} runs each)`,
    valueLabel: 'value',
    rows,
    notes: [
      'The values are p95s. The status queries are what `airlock status` asks the store (serving, releases in one query, last deployment, lock, interrupted runs) for every environment at once; the local runtime is not involved.',
      ...(results.some((r) => r.engine === 'postgres')
        ? []
        : ['Postgres not measured: pass --postgres <url> or set AIRLOCK_TEST_POSTGRES_URL.']),
    ],
    details: Object.fromEntries(
      results.map((r) => [
        r.engine,
        {
          seedS: r.seedS,
          medianStatusMs: median(r.statusMs),
          medianHistoryMs: median(r.historyMs),
        },
      ]),
    ),
  };
}
