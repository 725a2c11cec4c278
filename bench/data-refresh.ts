/**
 * (j) `airlock data refresh` between two Postgres databases: a table of N rows × 6 columns (3 of
 * them scrubbed: email, fullName, phone), copied by Airlock's streaming copy (`copyPostgres`, in
 * a child process so its peak memory is its own), against `pg_dump --data-only | psql` of the
 * same table in the same run (no scrubbing: the floor of moving the bytes). Rows per second,
 * the ratio to the baseline's rate (target ≥ 0.5×), and Airlock's peak RSS at two table sizes
 * (flat with the size when it streams).
 *
 * Run alone with `node bench/data-refresh.ts [rows]` (default 1 000 000).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client } from 'pg';
import { copyPostgres } from '../src/data/copy-postgres.ts';
import { planTables } from '../src/data/scrub.ts';
import { log } from './project.ts';
import { renderSection, row, type Section } from './report.ts';
import { median } from './stats.ts';

export interface DataRefreshBenchOptions {
  /** Admin URL of the Postgres server (databases are created and dropped on it). */
  adminUrl: string;
  rows: number;
  runs: number;
}

export interface DataRefreshResult {
  rows: number;
  runs: number;
  airlockMs: number[];
  baselineMs: number[];
  /** Peak RSS (bytes) of the copying process at `rows` and at a tenth of it. */
  peakRss: { rows: number; bytes: number }[];
}

const COLUMNS = ['id', 'email', 'name', 'phone', 'city', 'score'];
const SCRUB = {
  scrub: { 'people.email': 'email', 'people.name': 'fullName', 'people.phone': 'phone' } as const,
  keep: ['people.id', 'people.city', 'people.score'],
  exclude: [],
  strict: true,
};
const SALT = 'bench-salt-0123456789abcdef';

function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.href;
}

async function query(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The child's work: one copy of `people`, then its peak RSS (bytes) on stdout. */
async function child(source: string, target: string): Promise<void> {
  const src = new Client({ connectionString: source });
  const dst = new Client({ connectionString: target });
  await Promise.all([src.connect(), dst.connect()]);
  const plans = planTables([{ table: 'people', columns: COLUMNS }], SCRUB, SALT, 'bench');
  const started = performance.now();
  await copyPostgres(src, dst, plans, [], { schema: 'public' });
  const ms = performance.now() - started;
  await Promise.all([src.end(), dst.end()]);
  process.stdout.write(JSON.stringify({ ms, maxRss: process.resourceUsage().maxRSS * 1024 }));
}

function runChild(source: string, target: string): Promise<{ ms: number; maxRss: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', source, target], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`copy child exited ${code}`)),
    );
  });
}

function baseline(source: string, target: string): number {
  const started = performance.now();
  const r = spawnSync(
    'bash',
    [
      '-c',
      'set -o pipefail; pg_dump --data-only -t people "$1" | psql -q -v ON_ERROR_STOP=1 "$2"',
      'x',
      source,
      target,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (r.status !== 0) throw new Error(`pg_dump | psql exited ${r.status}`);
  return performance.now() - started;
}

const TABLE = `CREATE TABLE people (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text, phone text, city text, score int)`;

async function fill(url: string, rows: number): Promise<void> {
  await query(
    url,
    `${TABLE}; INSERT INTO people SELECT i, 'person' || i || '@mail.example.org', 'Given' || i || ' Family' || (i % 977), '+1-555-' || lpad((i % 10000000)::text, 7, '0'), 'City' || (i % 300), i % 1000 FROM generate_series(1, ${rows}) i`,
  );
}

/** Creates the databases, measures, drops them. */
export async function measureDataRefresh(
  options: DataRefreshBenchOptions,
): Promise<DataRefreshResult> {
  const id = randomBytes(4).toString('hex');
  const names = ['src', 'dst', 'small_src', 'small_dst'].map(
    (n) => `airlock_bench_data_${n}_${id}`,
  );
  for (const n of names) await query(options.adminUrl, `CREATE DATABASE "${n}"`);
  const [src, dst, smallSrc, smallDst] = names.map((n) => withDatabase(options.adminUrl, n)) as [
    string,
    string,
    string,
    string,
  ];
  try {
    log(`data refresh: filling ${options.rows} rows`);
    await fill(src, options.rows);
    await query(dst, TABLE);
    const small = Math.max(1000, Math.round(options.rows / 10));
    await fill(smallSrc, small);
    await query(smallDst, TABLE);
    const airlockMs: number[] = [];
    const baselineMs: number[] = [];
    let peakBig = 0;
    for (let i = 0; i < options.runs; i++) {
      log(`data refresh: run ${i + 1}/${options.runs}`);
      await query(dst, 'TRUNCATE people');
      baselineMs.push(baseline(src, dst));
      const r = await runChild(src, dst);
      airlockMs.push(r.ms);
      peakBig = Math.max(peakBig, r.maxRss);
    }
    const smallRun = await runChild(smallSrc, smallDst);
    return {
      rows: options.rows,
      runs: options.runs,
      airlockMs,
      baselineMs,
      peakRss: [
        { rows: small, bytes: smallRun.maxRss },
        { rows: options.rows, bytes: peakBig },
      ],
    };
  } finally {
    for (const n of names)
      await query(options.adminUrl, `DROP DATABASE IF EXISTS "${n}" WITH (FORCE)`).catch(() => {});
  }
}

export function dataRefreshSection(r: DataRefreshResult): Section {
  const rate = (ms: number) => (r.rows * 1000) / ms;
  const airlockRate = rate(median(r.airlockMs));
  const baselineRate = rate(median(r.baselineMs));
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const [small, big] = r.peakRss;
  return {
    id: 'data-refresh',
    title: `(j) data refresh, Postgres → Postgres: ${r.rows.toLocaleString('en-US')} rows × 6 columns, 3 scrubbed`,
    valueLabel: 'median',
    rows: [
      row('copy time, Airlock (scrubbed, streaming)', {
        unit: 'ms',
        value: median(r.airlockMs),
        p95: Math.max(...r.airlockMs),
        baseline: median(r.baselineMs),
        baselineLabel: 'pg_dump --data-only | psql (not scrubbed)',
        n: r.runs,
      }),
      row('rate, Airlock vs baseline (rows/s)', {
        unit: 'count',
        value: Math.round(airlockRate),
        p95: null,
        baseline: Math.round(baselineRate),
        baselineLabel: 'pg_dump | psql rows/s',
        target: '≥ 0.5×',
        ok: airlockRate / baselineRate >= 0.5,
        n: r.runs,
      }),
      row(`peak RSS of the copy (MiB), ${big?.rows.toLocaleString('en-US')} rows`, {
        unit: 'count',
        value: mib(big?.bytes ?? 0),
        p95: null,
        baseline: mib(small?.bytes ?? 0),
        baselineLabel: `the same at ${small?.rows.toLocaleString('en-US')} rows`,
        target: 'flat (≤ 1.5×)',
        ok: (big?.bytes ?? 0) <= 1.5 * (small?.bytes ?? 1),
        n: r.runs,
      }),
    ],
    notes: [
      'Airlock transforms three columns of every row (deterministic, keyed pseudonyms); the baseline copies bytes only.',
    ],
    details: { ...r },
  };
}

if (process.argv[2] === '--child') {
  await child(process.argv[3] ?? '', process.argv[4] ?? '');
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = Number(process.argv[2] ?? 1_000_000);
  const adminUrl =
    process.env.AIRLOCK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const result = await measureDataRefresh({ adminUrl, rows, runs: 3 });
  process.stdout.write(`${renderSection(dataRefreshSection(result))}\n`);
}
