/**
 * (e) The state store at team scale, on SQLite and on Postgres: the queries of `airlock status`
 * for 100 services × 3 environments, and of `airlock history` over 1 000 000 audit events whose
 * hash chain is computed (as Airlock writes it) and bulk-inserted; the check a gate makes of the
 * chain's tail; and the cost of appending one event with the chain against a plain insert of
 * the same row, in the same run. In process (a CLI's start is measured in (d)); baseline: one
 * `SELECT 1` round trip on the same engine in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { recordedEnvironments } from '../src/pipeline/status.ts';
import { AUDIT_TAIL, type ChainRow, chainHash, eventContent } from '../src/state/audit-chain.ts';
import { AUDIT_GENESIS } from '../src/state/audit-guards.ts';
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
  /** The gate's check of the chain: the newest events re-hashed and the head compared. */
  tailMs: number[];
  /** One event appended through the chain (head locked, hashed, head moved; one transaction). */
  appendMs: number[];
  /** The same row inserted as before the chain: one INSERT, autocommit. */
  plainAppendMs: number[];
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
  await seedChain(store, engine, options.auditEvents);
}

const ENVIRONMENTS = ['staging', 'preview', 'production'];

/**
 * `n` audit events with their hash chain computed here (as `appendAudit` would have) and
 * inserted in batches (SQLite: 500 rows a statement in one transaction; Postgres: 20 000 rows a
 * statement through `unnest`), then the head row set to the last.
 */
export async function seedChain(
  store: KyselyStateStore,
  engine: 'sqlite' | 'postgres',
  n: number,
): Promise<void> {
  const detail = '{"from":"r9","durationMs":321}';
  const batch = engine === 'sqlite' ? 500 : 20_000;
  let prev = AUDIT_GENESIS;
  const table =
    engine === 'postgres'
      ? sql.id((store as PostgresStateStore).schema, 'audit_events')
      : sql.id('audit_events');
  const insertBatch = async (db: KyselyStateStore['db'], from: number, to: number) => {
    const rows: Array<ChainRow> = [];
    for (let id = from; id <= to; id++) {
      const row = {
        id,
        at: '2026-11-21T10:00:00.000Z',
        actor: 'bench',
        action: 'deployment.succeeded',
        environment: ENVIRONMENTS[id % 3] as string,
        release_id: 'r10',
        run_id: null,
        result: 'ok',
        detail,
      };
      const hash = chainHash(prev, eventContent(row));
      rows.push({ ...row, prev_hash: prev, hash });
      prev = hash;
    }
    if (engine === 'sqlite') {
      await db.insertInto('audit_events').values(rows).execute();
      return;
    }
    const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
    await sql`INSERT INTO ${table} (id, at, actor, action, environment, release_id, run_id, result, detail, prev_hash, hash)
      SELECT * FROM unnest(${col('id')}::bigint[], ${col('at')}::text[], ${col('actor')}::text[],
        ${col('action')}::text[], ${col('environment')}::text[], ${col('release_id')}::text[],
        ${col('run_id')}::bigint[], ${col('result')}::text[], ${col('detail')}::text[],
        ${col('prev_hash')}::text[], ${col('hash')}::text[])`.execute(db);
  };
  await store.db.transaction().execute(async (trx) => {
    for (let from = 1; from <= n; from += batch)
      await insertBatch(trx, from, Math.min(n, from + batch - 1));
    await trx
      .updateTable('audit_head')
      .set({ seq: n, hash: prev, chain_start: 1 })
      .where('id', '=', 1)
      .execute();
  });
  if (engine === 'postgres') await sql`ANALYZE ${table}`.execute(store.db);
}

/** A plain insert of one event, as before the chain (the id taken as the table's next). */
function plainAppend(store: KyselyStateStore, engine: 'sqlite' | 'postgres') {
  const table =
    engine === 'postgres'
      ? sql.id((store as PostgresStateStore).schema, 'audit_events')
      : sql.id('audit_events');
  return store.db
    .insertInto('audit_events')
    .values({
      id: sql<number>`(SELECT coalesce(max(id), 0) + 1 FROM ${table})`,
      at: new Date().toISOString(),
      actor: 'bench',
      action: 'lock.acquired',
      environment: 'production',
      release_id: null,
      run_id: null,
      result: 'ok',
      detail: '{"message":"bench"}',
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

function chainedAppend(store: KyselyStateStore) {
  return store.appendAudit({
    at: new Date().toISOString(),
    actor: 'bench',
    action: 'lock.acquired',
    environment: 'production',
    releaseId: null,
    runId: null,
    result: 'ok',
    detail: { message: 'bench' },
  });
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
    tailMs: await timed(options.iterations, () => store.verifyAudit({ tail: AUDIT_TAIL })),
    ...(await appendCosts(store, engine, options.iterations)),
  };
}

/** Plain and chained appends, alternated so both see the same table and the same machine. */
async function appendCosts(
  store: KyselyStateStore,
  engine: 'sqlite' | 'postgres',
  iterations: number,
): Promise<{ appendMs: number[]; plainAppendMs: number[] }> {
  await plainAppend(store, engine);
  await chainedAppend(store);
  const appendMs: number[] = [];
  const plainAppendMs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    let t = performance.now();
    await plainAppend(store, engine);
    plainAppendMs.push(performance.now() - t);
    t = performance.now();
    await chainedAppend(store);
    appendMs.push(performance.now() - t);
  }
  return { appendMs, plainAppendMs };
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
      row(`${label}: a gate's check of the audit chain (newest ${AUDIT_TAIL} events + head), p95`, {
        ...stat(r.tailMs),
        ...baseline,
        target: '< 50 ms',
        ok: p95(r.tailMs) < 50,
      }),
      row(`${label}: appending one audit event with the hash chain, median`, {
        value: median(r.appendMs),
        n: r.appendMs.length,
        baseline: median(r.plainAppendMs),
        baselineLabel: 'the same row by a plain INSERT (no chain), same run',
        target: '≤ baseline + 1 ms',
        ok: median(r.appendMs) - median(r.plainAppendMs) <= 1,
      }),
    );
  }
  return {
    id: 'stateStore',
    title: `(e) State store at team scale: ${options.services} services × 3 environments, ${options.auditEvents.toLocaleString('en')} audit events (in process; ${options.iterations} runs each)`,
    valueLabel: 'value',
    rows,
    notes: [
      'The audit log is seeded with its hash chain (computed as Airlock writes it). The append rows compare medians of the same event appended with the chain (head row locked, hashed, head moved, one transaction) and inserted plainly, alternated in one run.',
      'The other values are p95s. The status queries are what `airlock status` asks the store (serving, releases in one query, last deployment, lock, interrupted runs) for every environment at once; the local runtime is not involved.',
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
          medianAppendMs: median(r.appendMs),
          medianPlainAppendMs: median(r.plainAppendMs),
          appendCostMs: median(r.appendMs) - median(r.plainAppendMs),
        },
      ]),
    ),
  };
}
