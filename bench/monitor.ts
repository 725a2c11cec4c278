/**
 * (l) The monitor: one `airlock monitor` pass over 300 environment-services (3 environments ×
 * 100 services, one HTTP check each, all answered by a real HTTP server on 127.0.0.1), on a
 * real SQLite state store: wall time and CPU time per pass, and the state store's growth per
 * day at a 60 s interval (the database file's growth over the passes, WAL checkpointed, scaled to
 * 1 440 passes).
 * Baseline: the same 300 GETs with `fetch`, 16 at a time, in the same run. The platform is a
 * stub that reports the server's URL (the local runtime's own `describe` is not measured).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { HttpCheckSpec } from '../src/checks/check.ts';
import { Monitor } from '../src/monitor/monitor.ts';
import { MONITOR_DEFAULTS } from '../src/monitor/monitor-settings.ts';
import type { AirlockContext } from '../src/pipeline/context.ts';
import { SqliteStateStore } from '../src/state/sqlite-state-store.ts';
import { log } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95 } from './stats.ts';

const PIPELINE = ['staging', 'preview', 'production'];

export interface MonitorBenchOptions {
  services: number;
  passes: number;
}

export interface MonitorBenchResult {
  probes: number;
  wallMs: number[];
  cpuMs: number[];
  baselineMs: number[];
  /** Bytes the state file grew per pass (mean over the passes, WAL checkpointed). */
  bytesPerPass: number;
}

export async function measureMonitor(options: MonitorBenchOptions): Promise<MonitorBenchResult> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-monitor-'));
  const file = path.join(dir, 'state.db');
  const store = await SqliteStateStore.open({ file });
  try {
    const check: HttpCheckSpec = {
      name: 'health',
      type: 'http',
      method: 'GET',
      path: '/health',
      expect: { status: 200 },
      timeoutMs: 0,
      intervalMs: 100,
      requestTimeoutMs: 5000,
    };
    const names = Array.from({ length: options.services }, (_, i) => `svc-${i}`);
    const release = await store.insertRelease({
      digest: 'a'.repeat(64),
      commit: '1'.repeat(40),
      dirty: false,
      subject: 'bench',
      createdAt: new Date().toISOString(),
      createdBy: 'bench',
      buildMs: 0,
      services: {},
    });
    const environments: Record<string, unknown> = {};
    for (const env of PIPELINE) {
      const services: Record<string, unknown> = {};
      for (const name of names) {
        services[name] = { root: '.', checks: [check], unset: [], references: [], database: null };
        await store.setServing({
          environment: env,
          service: name,
          releaseId: release.id,
          deploymentId: 1,
          since: new Date().toISOString(),
        });
      }
      environments[env] = { name: env, services };
    }
    let clock = Date.now();
    const ctx = {
      config: { project: 'bench', dir, pipeline: PIPELINE, environments, github: null },
      store,
      actor: 'bench',
      host: os.hostname(),
      pid: process.pid,
      now: () => new Date(clock),
      providerFor: () => ({ describe: async () => ({ url }) }),
    } as unknown as AirlockContext;
    const monitor = new Monitor({ ctx, settings: { ...MONITOR_DEFAULTS }, issues: null });
    const result: MonitorBenchResult = {
      probes: PIPELINE.length * options.services,
      wallMs: [],
      cpuMs: [],
      baselineMs: [],
      bytesPerPass: 0,
    };
    const urls = Array.from({ length: result.probes }, () => `${url}/health`);
    const baseline = async () => {
      let next = 0;
      const worker = async () => {
        while (next < urls.length) {
          const u = urls[next++] as string;
          await (await fetch(u)).text();
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
    };
    await monitor.pass(); // warm
    await baseline();
    // The WAL is checkpointed into the file before and after, so the file's size is the store's.
    const checkpointed = async () => {
      await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(store.db);
      return statSync(file).size;
    };
    const before = await checkpointed();
    for (let i = 0; i < options.passes; i++) {
      clock += 60_000;
      const cpu = process.cpuUsage();
      const t = performance.now();
      const pass = await monitor.pass();
      result.wallMs.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      result.cpuMs.push((used.user + used.system) / 1000);
      if (pass.environments.flatMap((e) => e.samples).length !== result.probes)
        throw new Error('a pass did not probe every environment-service');
      const b = performance.now();
      await baseline();
      result.baselineMs.push(performance.now() - b);
    }
    result.bytesPerPass = ((await checkpointed()) - before) / options.passes;
    log(`monitor: ${options.passes} passes of ${result.probes} probes`);
    return result;
  } finally {
    await store.close();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function monitorSection(r: MonitorBenchResult): Section {
  const perDay = (r.bytesPerPass * 1440) / (1024 * 1024);
  return {
    id: 'monitor',
    title: `(l) monitor: one pass over ${r.probes} environment-services (SQLite state)`,
    valueLabel: 'median',
    rows: [
      row('pass, wall time', {
        value: median(r.wallMs),
        p95: p95(r.wallMs),
        baseline: median(r.baselineMs),
        baselineLabel: `${r.probes} GETs with fetch, 16 at a time`,
      }),
      row('pass, CPU time (user + system)', { value: median(r.cpuMs), p95: p95(r.cpuMs) }),
      row('state store growth per day at 60 s', { unit: 'MiB', value: perDay, p95: null }),
    ],
    notes: [
      `${r.wallMs.length} passes. Growth: the SQLite file's growth per pass (WAL checkpointed) × 1 440; samples older than monitor.retentionMs (7 days) are deleted at the end of each pass, so the store levels off at about 7 × that.`,
    ],
    details: { ...r },
  };
}
