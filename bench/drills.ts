/**
 * (m) Release drills, on the notes example through the real CLI: (1) the time a rollback
 * rehearsal adds to a staging deployment (`rollbackRehearsal: required` on production; each
 * release adds a migration, so staging switches back to the previous release, runs its checks,
 * switches forward and checks again), against the rest of the same deployment; (2) the perf
 * check's noise floor: the same release measured again and again against its own first
 * measurement, with the allowance the check computed and the false failures (target 0).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { PerfCheckSpec } from '../src/checks/check.ts';
import { type PerfComparison, runPerfCheck } from '../src/checks/perf-check.ts';
import { type BenchProject, cliJson, log, stepOf } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

export interface DrillsOptions {
  /** Staging deployments with a migration (each rehearsed). */
  deployments: number;
  /** Perf check runs compared with the first one. */
  perfRuns: number;
}

export interface DrillsResult {
  rehearseMs: number[];
  /** The same deployments without their rehearse step (ms). */
  restMs: number[];
  perf: {
    spec: PerfCheckSpec;
    /** Per run and path: |p95 − baseline p95|, |p50 − baseline p50| and the allowances (ms). */
    comparisons: PerfComparison[];
    falseFailures: number;
    runMs: number[];
  };
}

const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

export async function measureDrills(
  project: BenchProject,
  options: DrillsOptions,
): Promise<DrillsResult> {
  const file = path.join(project.dir, 'airlock.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['environments', 'production', 'promotion', 'rollbackRehearsal'], 'required');
  writeFileSync(file, doc.toString());
  project.commitChange('rehearse rollbacks for production');
  await project.cli(['deploy', 'staging', '--json']);

  const rehearseMs: number[] = [];
  const restMs: number[] = [];
  for (let i = 1; i <= options.deployments; i++) {
    project.commitChange(`drill ${i}`, { migration: true });
    const json = cliJson(await project.cli(['deploy', 'staging', '--json']));
    if (json.status !== 'succeeded') throw new Error(`drill ${i}: ${JSON.stringify(json)}`);
    const run = project.run(num(json.runId));
    const rehearse = stepOf(run, 'rehearse:notes');
    if (rehearse.output?.result !== 'passed')
      throw new Error(`drill ${i}: the rehearsal did not run: ${JSON.stringify(rehearse)}`);
    const total = run.finishedAt - run.startedAt;
    rehearseMs.push(num(rehearse.durationMs));
    restMs.push(total - num(rehearse.durationMs));
    log(`drills: deployment ${i}: ${Math.round(total)} ms, rehearsal ${rehearse.durationMs} ms`);
  }

  const spec: PerfCheckSpec = {
    name: 'perf',
    type: 'perf',
    paths: ['/notes', '/health'],
    rate: 50,
    connections: 2,
    durationMs: 500,
    rounds: 5,
    maxRegression: 0.2,
    minRegressionMs: 10,
    requestTimeoutMs: 5000,
  };
  const ctx = {
    baseUrl: project.url('staging'),
    environment: 'staging',
    service: 'notes',
    release: { id: 'bench', commit: 'bench', digest: 'bench' },
    serviceRoot: project.dir,
  };
  const first = await runPerfCheck(spec, ctx);
  if (first.status !== 'passed') throw new Error(`perf baseline: ${first.message}`);
  const comparisons: PerfComparison[] = [];
  const runMs: number[] = [];
  let falseFailures = 0;
  for (let i = 1; i <= options.perfRuns; i++) {
    const again = await runPerfCheck(spec, {
      ...ctx,
      baseline: { release: 'the same release', results: [first] },
    });
    runMs.push(again.durationMs);
    if (again.status !== 'passed') falseFailures++;
    comparisons.push(...(again.details.comparisons as PerfComparison[]));
    log(`drills: perf run ${i}: ${again.status} — ${again.message}`);
  }
  return { rehearseMs, restMs, perf: { spec, comparisons, falseFailures, runMs } };
}

export function drillsSection(r: DrillsResult): Section {
  const p95Deltas = r.perf.comparisons.map((c) => Math.abs(c.deltaMs));
  const p50Deltas = r.perf.comparisons.map((c) => Math.abs(c.p50DeltaMs));
  const allowances = r.perf.comparisons.map((c) => c.allowanceMs);
  const p50Allowances = r.perf.comparisons.map((c) => c.p50AllowanceMs);
  const s = r.perf.spec;
  return {
    id: 'drills',
    title: '(m) Release drills: rollback rehearsal on staging, perf check noise floor',
    valueLabel: 'median',
    rows: [
      row('rehearsal added to a staging deployment', {
        unit: 'ms',
        value: round1(median(r.rehearseMs)),
        p95: round1(p95(r.rehearseMs)),
        baseline: round1(median(r.restMs)),
        baselineLabel: 'the rest of the same deployment',
        n: r.rehearseMs.length,
      }),
      row('perf: |p95 − baseline|, unchanged release', {
        unit: 'ms',
        value: round1(median(p95Deltas)),
        p95: round1(Math.max(...p95Deltas)),
        baseline: round1(median(allowances)),
        baselineLabel: 'p95 allowance computed',
        n: p95Deltas.length,
      }),
      row('perf: |p50 − baseline|, unchanged release', {
        unit: 'ms',
        value: round1(median(p50Deltas)),
        p95: round1(Math.max(...p50Deltas)),
        baseline: round1(median(p50Allowances)),
        baselineLabel: 'p50 allowance computed',
        n: p50Deltas.length,
      }),
      row('perf: false failures, unchanged release', {
        unit: 'count',
        value: r.perf.falseFailures,
        p95: null,
        target: '0',
        ok: r.perf.falseFailures === 0,
        n: r.perf.runMs.length,
      }),
      row('perf: one check run', {
        unit: 'ms',
        value: round1(median(r.perf.runMs)),
        p95: round1(p95(r.perf.runMs)),
        n: r.perf.runMs.length,
      }),
    ],
    notes: [
      'A rehearsal: staging switched back to the previous release (warm or restarted), its checks, staging switched forward, the candidate checks again. The notes example checks with a smoke request and its e2e suite, so the rehearsal costs about two check runs and two switches.',
      `Perf: ${s.paths.join(' and ')} on staging, ${s.rate} req/s over ${s.connections} connections, ${s.rounds} rounds of ${s.durationMs} ms per path; "p95" column is the largest difference seen. The spread is the noise a regression must rise above; the allowance is what the check computed from it.`,
    ],
    details: {
      rehearseMs: r.rehearseMs,
      restMs: r.restMs,
      comparisons: r.perf.comparisons,
    },
  };
}
