/**
 * `npm run bench [-- --json] [-- --quick] [-- --only state-store,apply,lint,layouts[-postgres],real-size,artifact-store,data-refresh,runtime-lease] [-- --runs N]`:
 * Airlock's performance figures, measured on real processes, real HTTP on 127.0.0.1 and real
 * SQLite, with baselines from the same run: (a) promotion latency and Airlock's own overhead,
 * (b) zero downtime under load against a "stop old, start new" baseline, (c) warm and cold
 * rollback, (d) CLI cold start, (e) the state store, (f) applying migrations, (g) lint, (h)
 * other tools' layouts, (i) a real-size release, (j) a scrubbed data refresh, (k) unchecked releases and the runtime's
 * own death, (l) the monitor. `--only` runs just the sections named (those
 * that need no shared example project: `state-store` (e), `apply` (f), `lint` (g), `layouts`
 * (h), `layouts-postgres` (h) without wrangler's ~100 s per run, `real-size` (i), `data-refresh` (j),
 * on Postgres only, and `runtime-lease` (k): kill -9 of the CLI at every step boundary of a
 * failing promotion, and of the runtime daemon under load — about 5 minutes, so it runs only
 * when named), `monitor` (l): one monitor pass over 300 environment-services, `drills` (m):
 * the time a rollback rehearsal adds to a staging deployment and the perf check's noise floor
 * (runs only when named), `dashboard` (n): `airlock serve` on Postgres with 300
 * environment-services and 1 000 000 audit events, API p50/p95 and SSE fan-out to 100 clients
 * (about a minute and a half with the seeding, so it runs only when named; `--runs N` makes N × 10
 * requests per endpoint); `--runs N`
 * sets their number of runs (of (e) to (h)).
 * Prints one table per measurement, or with --json one JSON object on stdout (progress goes to
 * stderr). Cleans up every process and temporary folder, also when interrupted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.ts';
import { artifactStoreSection, measureArtifactStore } from './artifact-store.ts';
import { type ColdStartResult, coldStartSection, measureColdStart } from './cold-start.ts';
import { dashboardSection, measureDashboard } from './dashboard.ts';
import { dataRefreshSection, measureDataRefresh } from './data-refresh.ts';
import { drillsSection, measureDrills } from './drills.ts';
import { layoutsSection, measurePostgresLayouts, measureWranglerLayout } from './layouts.ts';
import { lintSection, measureLint } from './lint.ts';
import { applySection, measureApply } from './migrations.ts';
import { measureMonitor, monitorSection } from './monitor.ts';
import { type PlainApp, preparePlainApp } from './plain-app.ts';
import { type BenchProject, createBenchProject, killStrayChildren, log } from './project.ts';
import { measurePromotion, type PromotionResult, promotionSection } from './promotion.ts';
import { measureRealSize, realSizeSection } from './real-size.ts';
import { type BenchReport, renderReport, type Section } from './report.ts';
import {
  measureRollback,
  prepareColdRollback,
  type RollbackIteration,
  rollbackSection,
} from './rollback.ts';
import { measureRuntimeLease, runtimeLeaseSection } from './runtime-lease.ts';
import { measureStateStore, stateStoreSection } from './state-store.ts';
import { median } from './stats.ts';
import {
  airlockUnderLoad,
  baselineUnderLoad,
  type LoadOptions,
  zeroDowntimeSection,
} from './zero-downtime.ts';

interface BenchOptions {
  json: boolean;
  quick: boolean;
  /** Admin URL of a Postgres server for (e), or null for SQLite only. */
  postgres: string | null;
  /** Only these sections (`--only`), or null for all. */
  only: Set<OnlySection> | null;
  /** Runs of (f), (g) and (h) (`--runs`), or null for the plan's. */
  runs: number | null;
}

/** The sections `--only` can run alone: they need no example project. */
const ONLY_SECTIONS = [
  'state-store',
  'apply',
  'lint',
  'layouts',
  'layouts-postgres',
  'real-size',
  'artifact-store',
  'data-refresh',
  'runtime-lease',
  'monitor',
  'drills',
  'dashboard',
] as const;
type OnlySection = (typeof ONLY_SECTIONS)[number];
const USAGE =
  'usage: node bench/run.ts [--json] [--quick] [--postgres <admin url> | --no-postgres] [--only state-store,apply,lint,layouts,layouts-postgres,real-size,artifact-store,data-refresh,runtime-lease,monitor,drills,dashboard] [--runs N]';

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    json: false,
    quick: false,
    postgres:
      process.env.AIRLOCK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    only: null,
    runs: null,
  };
  const fail = (why: string): never => {
    process.stderr.write(`${USAGE}\n${why}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--quick') options.quick = true;
    else if (arg === '--postgres' && argv[i + 1]) options.postgres = argv[++i] as string;
    else if (arg === '--no-postgres') options.postgres = null;
    else if (arg === '--only' && argv[i + 1]) {
      const names = (argv[++i] as string).split(',');
      const unknown = names.filter((n) => !(ONLY_SECTIONS as readonly string[]).includes(n));
      if (unknown.length > 0) fail(`--only takes ${ONLY_SECTIONS.join(', ')}; not ${unknown}`);
      options.only = new Set(names as OnlySection[]);
    } else if (arg === '--runs' && argv[i + 1]) {
      const runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1) fail('--runs takes a whole number ≥ 1');
      options.runs = runs;
    } else fail(`unknown argument ${arg}`);
  }
  return options;
}

/** The Postgres server for (e), when it answers. */
async function reachablePostgres(url: string | null): Promise<string | null> {
  if (!url) return null;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return url;
  } catch {
    log('state store: Postgres does not answer; measuring SQLite only');
    return null;
  }
}

function plan(quick: boolean) {
  return quick
    ? {
        promotions: 3,
        bootRuns: 3,
        warmRollbacks: 3,
        controlRollbacks: 2,
        coldRollbacks: 2,
        coldStartRuns: 5,
        dependencyRuns: 3,
        // wrangler takes ~0.5 s per file: 100 files keep --quick short.
        migrationFiles: 100,
        migrationRuns: 1,
        realSize: { runs: 3, promotions: 3, rollbacks: 3 },
        load: { rate: 1000, target: 5000, instances: 20, connectionsPerInstance: 1, leadMs: 1000 },
      }
    : {
        promotions: 9,
        bootRuns: 7,
        warmRollbacks: 7,
        controlRollbacks: 5,
        coldRollbacks: 7,
        coldStartRuns: 21,
        dependencyRuns: 9,
        migrationFiles: 500,
        migrationRuns: 3,
        realSize: { runs: 5, promotions: 5, rollbacks: 5 },
        load: {
          rate: 2000,
          target: 20_000,
          instances: 20,
          connectionsPerInstance: 1,
          leadMs: 1000,
        },
      };
}

/** Findings derived from the figures: missed targets, and where the overhead goes. */
function findingsOf(sections: Section[]): string[] {
  const out: string[] = [];
  for (const section of sections) {
    for (const r of section.rows) {
      if (r.ok === false) {
        out.push(
          `${section.id}: "${r.metric}" is ${r.unit === 'count' ? r.value : `${Math.round((r.target?.startsWith('p95') ? r.p95 : r.value) ?? Number.NaN)} ms`}, target ${r.target}.`,
        );
      }
    }
  }
  return out;
}

/** Where the overhead goes, from the medians of this run. */
function whereTimeGoes(
  promotion: PromotionResult,
  warm: RollbackIteration[],
  coldStart: ColdStartResult,
): string[] {
  const m = (values: number[]) => Math.round(median(values));
  const its = promotion.iterations;
  const deps = Object.entries(coldStart.dependencyMs)
    .map(([dep, values]) => `${dep} ${m(values)}`)
    .join(', ');
  return [
    `promotion overhead ${m(its.map((i) => i.overheadMs))} ms (median): ${m(its.map((i) => i.beforeRunMs))} ms pass before the run starts (node itself: ${m(coldStart.nodeMs)} ms; \`airlock status\` takes ${m(coldStart.statusMs)} ms bundled vs ${m(coldStart.statusSourceMs)} ms from the sources, whose imports alone take ${m(coldStart.importMs)} ms — ms over node -e 0: ${deps}), then ${m(its.map((i) => i.inRunMs))} ms inside the run and ${m(its.map((i) => i.afterRunMs))} ms after it.`,
    `warm rollback: the proxy switches to the previous release ${m(warm.map((i) => i.stepToSwitchMs))} ms after the rollback step starts; from spawning a fresh CLI process, production serves it after ${m(warm.map((i) => i.servedMs))} ms, because the run starts ${m(warm.map((i) => i.spawnToRunMs))} ms after spawn (Node ${m(coldStart.nodeMs)} ms, the CLI's start ${m(coldStart.versionMs)} ms, then config, state and plan).`,
  ];
}

/**
 * (f), (g) and (h), or those of them in `only`: they need no example project.
 * @returns their sections, in that order.
 */
async function migrationSections(
  options: BenchOptions,
  p: ReturnType<typeof plan>,
  only: Set<OnlySection> | null,
): Promise<Section[]> {
  const runs = options.runs ?? p.migrationRuns;
  const wanted = (name: OnlySection) =>
    only === null || only.has(name) || (name === 'layouts' && only.has('layouts-postgres'));
  const sections: Section[] = [];
  // (f) migrations: apply 500 files vs wrangler's local apply; lint a 500-file directory.
  if (wanted('apply')) {
    log(`migrations: applying ${p.migrationFiles} files with Airlock and with wrangler --local`);
    sections.push(applySection(await measureApply({ files: p.migrationFiles, runs })));
  }
  if (wanted('lint')) {
    log(`migrations: linting ${p.migrationFiles} files`);
    sections.push(lintSection(await measureLint({ files: p.migrationFiles, runs })));
  }
  // (h) other tools' layouts: Airlock vs the tool, on the same files.
  if (wanted('layouts')) {
    const layoutRuns = options.runs ?? (options.quick ? 1 : 3);
    const layoutAdmin = await reachablePostgres(options.postgres);
    sections.push(
      layoutsSection([
        ...(layoutAdmin
          ? await measurePostgresLayouts(layoutAdmin, { files: 50, runs: layoutRuns })
          : []),
        ...(only?.has('layouts-postgres') && !only.has('layouts')
          ? []
          : [await measureWranglerLayout({ files: 20, runs: layoutRuns })]),
      ]),
    );
  }
  return sections;
}

/** (e)'s size: 1 000 000 audit events (100 000 with --quick). */
function stateStoreOptions(options: BenchOptions, postgresUrl: string | null) {
  return {
    services: 100,
    auditEvents: options.quick ? 100_000 : 1_000_000,
    iterations: options.quick ? 30 : 200,
    postgresUrl,
  };
}

/**
 * Runs `measure` on an example project of its own in a temporary Airlock home, then stops what
 * it started and restores AIRLOCK_HOME.
 */
async function withOwnProject(
  measure: (project: BenchProject) => Promise<Section>,
): Promise<Section> {
  const homes = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-home-'));
  const previousHome = process.env.AIRLOCK_HOME;
  process.env.AIRLOCK_HOME = homes;
  let project: BenchProject | null = null;
  try {
    project = await createBenchProject();
    return await measure(project);
  } finally {
    killStrayChildren();
    await project?.cleanup().catch(() => {});
    rmSync(homes, { recursive: true, force: true });
    if (previousHome === undefined) delete process.env.AIRLOCK_HOME;
    else process.env.AIRLOCK_HOME = previousHome;
  }
}

/** (m) drills, on a project of its own (runs only when named). */
function drillsAlone(options: BenchOptions): Promise<Section> {
  return withOwnProject(async (project) =>
    drillsSection(
      await measureDrills(project, {
        deployments: options.runs ?? (options.quick ? 2 : 5),
        perfRuns: options.quick ? 3 : 8,
      }),
    ),
  );
}

/** (j) the runtime's lease, on a project of its own. */
function runtimeLeaseAlone(quick: boolean): Promise<Section> {
  return withOwnProject(async (project) =>
    runtimeLeaseSection(
      await measureRuntimeLease(project, { loadRate: 200, daemonKills: quick ? 3 : 7 }),
    ),
  );
}

export async function main(argv: string[]): Promise<void> {
  const options = parseArgs(argv);
  const p = plan(options.quick);
  const began = performance.now();
  const date = new Date().toISOString();
  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
  if (options.only) {
    log(`only ${[...options.only].join(', ')} on ${machine.cpus} CPU, node ${machine.node}`);
    const sections: Section[] = [];
    if (options.only.has('state-store')) {
      const stateOptions = stateStoreOptions(options, await reachablePostgres(options.postgres));
      sections.push(stateStoreSection(await measureStateStore(stateOptions), stateOptions));
    }
    sections.push(...(await migrationSections(options, p, options.only)));
    if (options.only.has('real-size'))
      sections.push(realSizeSection(await measureRealSize(p.realSize)));
    if (options.only.has('artifact-store'))
      sections.push(
        artifactStoreSection(
          await measureArtifactStore({ runs: options.runs ?? (options.quick ? 1 : 3) }),
        ),
      );
    if (options.only.has('data-refresh')) {
      const adminUrl = await reachablePostgres(options.postgres);
      if (adminUrl)
        sections.push(
          dataRefreshSection(
            await measureDataRefresh({
              adminUrl,
              rows: options.quick ? 100_000 : 1_000_000,
              runs: options.runs ?? 3,
            }),
          ),
        );
      else log('data refresh: Postgres does not answer; skipped');
    }
    if (options.only.has('runtime-lease')) sections.push(await runtimeLeaseAlone(options.quick));
    if (options.only.has('drills')) sections.push(await drillsAlone(options));
    if (options.only.has('dashboard')) {
      const adminUrl = await reachablePostgres(options.postgres);
      if (adminUrl)
        sections.push(
          dashboardSection(
            await measureDashboard({
              adminUrl,
              services: 100,
              auditEvents: options.quick ? 100_000 : 1_000_000,
              requests: (options.runs ?? (options.quick ? 3 : 20)) * 10,
              clients: 100,
              transitions: options.quick ? 10 : 30,
            }),
          ),
        );
      else log('dashboard: Postgres does not answer; skipped');
    }
    if (options.only.has('monitor'))
      sections.push(
        monitorSection(await measureMonitor({ services: 100, passes: options.runs ?? 10 })),
      );
    const report: BenchReport = {
      bench: 'airlock',
      date,
      quick: options.quick,
      machine,
      durationS: (performance.now() - began) / 1000,
      sections,
      findings: findingsOf(sections),
    };
    process.stdout.write(
      options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report),
    );
    return;
  }

  let project: BenchProject | null = null;
  let plainApp: PlainApp | null = null;
  const plainDir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-plain-'));
  // Airlock's homes for the bench's projects: a temporary folder, not the user's state folder.
  const homes = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-home-'));
  process.env.AIRLOCK_HOME = homes;
  const cleanup = async () => {
    killStrayChildren();
    await plainApp?.stopAll().catch(() => {});
    await project?.cleanup().catch(() => {});
    rmSync(plainDir, { recursive: true, force: true });
    rmSync(homes, { recursive: true, force: true });
  };
  const onSignal = () => {
    log('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    log(`${options.quick ? 'quick' : 'full'} run on ${machine.cpus} CPU, node ${machine.node}`);
    project = await createBenchProject();
    const config = loadConfig({ cwd: project.dir, env: process.env });
    const production = config.environments.production?.services.notes;
    const healthIntervalMs = production?.health.intervalMs ?? Number.NaN;
    const keepWarmMs = production?.keepWarmMs ?? Number.NaN;
    plainApp = await preparePlainApp(project.dir, plainDir);

    // (a)
    const promotion = await measurePromotion(project, plainApp, {
      iterations: p.promotions,
      bootRuns: p.bootRuns,
    });

    // (b) with the example's config (production keeps the previous release warm)
    const load: LoadOptions = p.load;
    log(`zero downtime: Airlock under ${load.rate} req/s (keepWarmMs ${keepWarmMs})`);
    const warmLoad = await airlockUnderLoad(project, `Airlock (keepWarmMs ${keepWarmMs})`, load);
    log(
      `zero downtime: ${warmLoad.completed} responses, ${warmLoad.non2xx + warmLoad.errors} failed`,
    );
    log('zero downtime: baseline "stop old, start new" under the same load');
    const baseline = await baselineUnderLoad(plainApp, {
      ...load,
      restarts: Math.max(1, warmLoad.switches.length),
      gapMs: 1500,
    });
    log(
      `zero downtime baseline: ${baseline.completed} responses, ${baseline.non2xx + baseline.errors} failed`,
    );

    // (c) warm, then cold
    const warm = await measureRollback(project, p.warmRollbacks, 'warm');
    // Control: the same rollbacks without the bench polling production (2 CPUs are shared).
    const warmUnpolled = await measureRollback(project, p.controlRollbacks, 'warm', {
      poll: false,
    });
    await prepareColdRollback(project);
    const cold = await measureRollback(project, p.coldRollbacks, 'cold');

    // (b) again with keepWarmMs 0: the old process is drained and stopped at each switch.
    log('zero downtime: Airlock with keepWarmMs 0 (old processes drained and stopped)');
    const coldLoad = await airlockUnderLoad(project, 'Airlock (keepWarmMs 0)', load);
    log(
      `zero downtime: ${coldLoad.completed} responses, ${coldLoad.non2xx + coldLoad.errors} failed`,
    );

    // (e)
    const stateOptions = stateStoreOptions(options, await reachablePostgres(options.postgres));
    const stateStore = await measureStateStore(stateOptions);

    // (d)
    const coldStart = await measureColdStart(project, {
      runs: p.coldStartRuns,
      dependencyRuns: p.dependencyRuns,
      releases: project.releaseCount(),
    });

    const applyLintLayouts = await migrationSections(options, p, null);
    // (i) a real-size release: store, verify, materialize, promote, roll back.
    const realSize = await measureRealSize(p.realSize);
    // (m) the real-size artifact pushed to and pulled from a local OCI registry.
    const artifactStore = await measureArtifactStore({ runs: options.quick ? 1 : 3 });
    // (j) a scrubbed data refresh, Postgres to Postgres, against pg_dump | psql.
    const dataAdmin = await reachablePostgres(options.postgres);
    const dataRefresh = dataAdmin
      ? await measureDataRefresh({
          adminUrl: dataAdmin,
          rows: options.quick ? 100_000 : 1_000_000,
          runs: options.quick ? 1 : 3,
        })
      : null;

    const sections = [
      promotionSection(promotion, {
        versionMs: coldStart.versionMs,
        nodeMs: coldStart.nodeMs,
        importMs: coldStart.importMs,
        healthIntervalMs,
      }),
      zeroDowntimeSection([warmLoad, coldLoad], baseline, load, options.quick),
      rollbackSection(warm, warmUnpolled, cold, {
        versionMs: coldStart.versionMs,
        plainBootMs: promotion.plainBootMs,
        keepWarmMs,
      }),
      coldStartSection(coldStart),
      stateStoreSection(stateStore, stateOptions),
      ...applyLintLayouts,
      realSizeSection(realSize),
      artifactStoreSection(artifactStore),
      ...(dataRefresh ? [dataRefreshSection(dataRefresh)] : []),
    ];
    const report: BenchReport = {
      bench: 'airlock',
      date,
      quick: options.quick,
      machine,
      durationS: (performance.now() - began) / 1000,
      sections,
      findings: [...findingsOf(sections), ...whereTimeGoes(promotion, warm, coldStart)],
    };
    await cleanup();
    project = null;
    report.durationS = (performance.now() - began) / 1000;
    process.stdout.write(
      options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report),
    );
  } finally {
    if (project) await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

await main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
