/**
 * Profiling aid for (n): keeps one seeded Postgres database (`airlock_dash_profile`, made on the
 * first call) and calls the app's `/api/pipeline` and `/api/history` in-process, so
 * `node --cpu-prof bench/dashboard-profile.ts` shows where a request's CPU goes.
 * Usage: node bench/dashboard-profile.ts [--requests N] [--audit N] [--reseed]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Reporter } from '../src/cli/reporter.ts';
import { openSession } from '../src/cli/session.ts';
import { loadConfig } from '../src/config/load.ts';
import { createApp } from '../src/server/app.ts';
import { createToken, openWebSession, verifyToken } from '../src/server/tokens.ts';
import { PostgresStateStore } from '../src/state/postgres-state-store.ts';
import { makeProject, seedState } from './dashboard.ts';
import { median, p95 } from './stats.ts';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const adminUrl =
  process.env.AIRLOCK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = process.env.AIRLOCK_PROFILE_DB ?? 'airlock_dash_profile';
const dir = path.join(process.env.TMPDIR ?? '/tmp', name);
const u = new URL(adminUrl);
u.pathname = `/${name}`;
const stateUrl = u.toString();
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
if (!exists || args.includes('--reseed') || !existsSync(path.join(dir, 'project'))) {
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  execFileSync('rm', ['-rf', dir]);
  mkdirSync(dir, { recursive: true });
  const project = makeProject(dir, 100, stateUrl);
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
    cwd: project,
    encoding: 'utf8',
  }).trim();
  const store = await PostgresStateStore.open({ url: stateUrl });
  await seedState(store, 100, commit, opt('--audit', 1_000_000));
  await store.close();
}
await admin.end();
process.env.AIRLOCK_HOME = path.join(dir, 'home');
const session = await openSession({ as: 'bench' }, new Reporter({ json: true, verbose: false }), {
  config: loadConfig({ cwd: path.join(dir, 'project'), env: process.env }),
});
const ctx = session.ctx;
const made = await createToken(ctx, { principal: 'alice', role: 'viewer', ttlMs: 3600_000 });
const verified = await verifyToken(ctx.store, made.token, ctx.now());
if (!verified.ok) throw new Error('token');
const { cookie } = await openWebSession(ctx.store, verified.token, ctx.now());
const app = createApp({ ctx });
const headers = { cookie: `airlock_session=${cookie}` };
/** With --queries: counts the SQL statements of one request of each route (by text). */
if (args.includes('--queries')) {
  const seen = new Map<string, number>();
  const original = pg.Client.prototype.query;
  // biome-ignore lint/suspicious/noExplicitAny: a counting shim around pg's overloads
  (pg.Client.prototype as any).query = function (this: pg.Client, ...a: any[]) {
    const text = typeof a[0] === 'string' ? a[0] : a[0]?.text;
    if (text) seen.set(text, (seen.get(text) ?? 0) + 1);
    // biome-ignore lint/suspicious/noExplicitAny: see above
    return (original as any).apply(this, a);
  };
  for (const route of ['/api/pipeline', '/api/history?limit=50']) {
    await app.request(route, { headers });
    seen.clear();
    await app.request(route, { headers });
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    console.log(`${route}: ${total} statements`);
    for (const [text, n] of [...seen].sort((a, b) => b[1] - a[1]))
      console.log(`  ${String(n).padStart(4)} ${text.replace(/\s+/g, ' ').slice(0, 160)}`);
  }
  pg.Client.prototype.query = original;
}
for (const route of args.includes('--pipeline-only')
  ? ['/api/pipeline']
  : [
      '/api/pipeline',
      '/api/history?limit=50',
      '/api/history?environment=production&limit=50',
      '/api/history?limit=50&before=500000',
    ]) {
  const times: number[] = [];
  const n = opt('--requests', 50);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n + 5; i++) {
    const t = performance.now();
    const res = await app.request(route, { headers });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${route}: ${res.status} ${body.slice(0, 300)}`);
    if (i >= 5) times.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  console.log(
    `${route}: median ${median(times).toFixed(1)} ms, p95 ${p95(times).toFixed(1)} ms, cpu ${((used.user + used.system) / 1000 / (n + 5)).toFixed(1)} ms/request`,
  );
}
await ctx.store.close?.();
