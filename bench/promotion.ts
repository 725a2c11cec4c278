/**
 * (a) Promotion latency. Each iteration commits a change to the app's bytes plus a small
 * migration, runs `airlock deploy staging` and `airlock approve production --as reviewer`, then
 * times the real `airlock promote production --yes --json` from spawn to exit. Each promotion is
 * split with what Airlock recorded: app boot (the deploy step's `bootMs`, from the state DB's
 * run_steps because the --json output does not carry it), checks (the --json `checks[]`
 * durations), migration SQL time (the migrate step's `durationMs`, also from run_steps), and the
 * rest, Airlock's own overhead — itself split into before the run (process start, modules,
 * config, state, gates, lock), inside the run, and after it (closing, exit).
 */
import type { PlainApp } from './plain-app.ts';
import { measurePlainBoot } from './plain-app.ts';
import { type BenchProject, cliJson, log, REVIEWER, stepOf } from './project.ts';
import { row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

export interface PromotionIteration {
  release: string;
  wallMs: number;
  bootMs: number;
  checksMs: number;
  migrationsMs: number;
  overheadMs: number;
  /** Spawn → the run row's started_at. */
  beforeRunMs: number;
  /** Run duration minus boot, checks and migrations. */
  inRunMs: number;
  /** The run row's finished_at → process exit. */
  afterRunMs: number;
  /** The deploy step minus bootMs (copy, runtime call, switch, drain, keep warm). */
  deployStepRestMs: number;
  /** The check step minus the checks' own durations (checkout decision, recording results). */
  checkStepRestMs: number;
  deployStagingWallMs: number;
  approveWallMs: number;
}

export interface PromotionResult {
  iterations: PromotionIteration[];
  plainBootMs: number[];
}

function num(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}

/** Deploys the current HEAD to staging and has the reviewer approve it for production. */
export async function stageAndApprove(
  project: BenchProject,
): Promise<{ deployMs: number; approveMs: number }> {
  const deploy = await project.cli(['deploy', 'staging', '--json']);
  const approve = await project.cli(['approve', 'production', '--as', REVIEWER, '--json']);
  return { deployMs: deploy.wallMs, approveMs: approve.wallMs };
}

export async function measurePromotion(
  project: BenchProject,
  plainApp: PlainApp,
  options: { iterations: number; bootRuns: number },
): Promise<PromotionResult> {
  // Warm-up (not measured): starts the runtime daemon and production's proxy, fills caches.
  log('promotion: warm-up (r1 to staging and production)');
  await stageAndApprove(project);
  await project.cli(['promote', 'production', '--yes', '--json']);

  const iterations: PromotionIteration[] = [];
  for (let i = 1; i <= options.iterations; i++) {
    project.commitChange(`promotion ${i}`, { migration: true });
    const staged = await stageAndApprove(project);
    const promote = await project.cli(['promote', 'production', '--yes', '--json']);
    const json = cliJson(promote);
    if (json.status !== 'succeeded') {
      throw new Error(`promotion ${i} did not succeed: ${promote.stdout.slice(0, 800)}`);
    }
    const run = project.run(num(json.runId));
    const deployStep = stepOf(run, 'deploy:notes');
    const migrateStep = stepOf(run, 'migrate:notes');
    const checkStep = stepOf(run, 'check:notes');
    const checks = (json.checks as Array<{ durationMs: number }>) ?? [];
    const bootMs = num(deployStep.output?.bootMs);
    const checksMs = checks.reduce((sum, c) => sum + c.durationMs, 0);
    const migrationsMs = num(migrateStep.output?.durationMs);
    const runMs = run.finishedAt - run.startedAt;
    const it: PromotionIteration = {
      release: String((json.release as { id: string }).id),
      wallMs: promote.wallMs,
      bootMs,
      checksMs,
      migrationsMs,
      overheadMs: promote.wallMs - bootMs - checksMs - migrationsMs,
      beforeRunMs: run.startedAt - promote.startedAt,
      inRunMs: runMs - bootMs - checksMs - migrationsMs,
      afterRunMs: promote.exitedAt - run.finishedAt,
      deployStepRestMs: num(deployStep.durationMs) - bootMs,
      checkStepRestMs: num(checkStep.durationMs) - checksMs,
      deployStagingWallMs: staged.deployMs,
      approveWallMs: staged.approveMs,
    };
    iterations.push(it);
    log(
      `promotion ${i}/${options.iterations}: ${it.release} wall ${Math.round(it.wallMs)} ms = boot ${it.bootMs} + checks ${it.checksMs} + migrations ${it.migrationsMs} + overhead ${Math.round(it.overheadMs)}`,
    );
  }
  log('promotion: app boot without Airlock (1 ms /health poll)');
  const plainBootMs = await measurePlainBoot(plainApp, options.bootRuns);
  return { iterations, plainBootMs };
}

export function promotionSection(
  result: PromotionResult,
  context: {
    versionMs: number[];
    nodeMs: number[];
    importMs: number[];
    healthIntervalMs: number;
  },
): Section {
  const its = result.iterations;
  const col = (pick: (it: PromotionIteration) => number) => its.map(pick);
  const stat = (values: number[]) => ({
    value: median(values),
    p95: p95(values),
    n: values.length,
  });
  const wall = col((it) => it.wallMs);
  const floor = col((it) => it.bootMs + it.checksMs + it.migrationsMs);
  const overhead = col((it) => it.overheadMs);
  const boot = col((it) => it.bootMs);
  const overheadMedian = median(overhead);
  const versionMedian = median(context.versionMs);
  const nodeMedian = median(context.nodeMs);
  return {
    id: 'promotion',
    title:
      '(a) Promotion latency: `airlock promote production --yes --json` (real CLI, spawn → exit)',
    valueLabel: 'median',
    rows: [
      row('promote wall time', {
        ...stat(wall),
        baseline: median(floor),
        baselineLabel: 'boot + checks + migrations',
      }),
      row('Airlock overhead (wall − boot − checks − migr.)', {
        ...stat(overhead),
        baseline: versionMedian,
        baselineLabel: '`airlock --version` start',
        target: '≤ 300 ms',
        ok: overheadMedian <= 300,
      }),
      row('  · spawn → run started (start, config, gates, lock)', {
        ...stat(col((it) => it.beforeRunMs)),
        baseline: median(context.importMs),
        baselineLabel: 'node + importing its modules only',
      }),
      row('  · inside the run, besides boot/checks/migr.', stat(col((it) => it.inRunMs))),
      row('    of which deploy step − bootMs', stat(col((it) => it.deployStepRestMs))),
      row('    of which check step − checks', stat(col((it) => it.checkStepRestMs))),
      row('  · run finished → process exit', stat(col((it) => it.afterRunMs))),
      row('app boot (deploy step bootMs)', {
        ...stat(boot),
        baseline: median(result.plainBootMs),
        baselineLabel: `plain \`node server.js\`, 1 ms poll, n=${result.plainBootMs.length}`,
      }),
      row('checks (smoke + e2e, their own durations)', stat(col((it) => it.checksMs))),
      row('migrations (SQL time, 1 file per promotion)', stat(col((it) => it.migrationsMs))),
      row('context: `airlock deploy staging` wall', stat(col((it) => it.deployStagingWallMs))),
      row('context: `airlock approve production` wall', {
        ...stat(col((it) => it.approveWallMs)),
        baseline: versionMedian,
        baselineLabel: '`airlock --version` start',
      }),
      row('context: `airlock --version` process start', {
        value: versionMedian,
        p95: p95(context.versionMs),
        n: context.versionMs.length,
        baseline: nodeMedian,
        baselineLabel: '`node -e 0`',
      }),
    ],
    notes: [
      'boot, migrations and each step come from the state DB (run_steps.output); the --json output has no per-step data (see the report).',
      `bootMs is measured by the runtime's /health poll (health.intervalMs = ${context.healthIntervalMs} ms), so it includes up to one poll interval of waiting; the plain baseline polls every 1 ms.`,
    ],
    details: {
      iterations: its.map((it) =>
        Object.fromEntries(
          Object.entries(it).map(([k, v]) => [k, typeof v === 'number' ? round1(v) : v]),
        ),
      ),
      plainBootMs: result.plainBootMs.map(round1),
    },
  };
}
