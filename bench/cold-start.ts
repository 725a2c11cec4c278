/**
 * (d) Cold start: `airlock status` (in the bench project, which by then has a dozen releases and
 * both environments serving) against `node -e 0`, with `airlock --version` as the CLI's bare
 * process start, and — to show where start-up time goes — a process that only imports the
 * modules `airlock promote` loads, and processes that import one heavy dependency each. Every
 * command runs once per round, the order rotating, so machine noise hits them alike; dependency
 * costs are paired with the same round's `node -e 0`.
 */
import { type BenchProject, BIN, log, startProcess } from './project.ts';
import { type Row, row, type Section } from './report.ts';
import { median, p95, round1 } from './stats.ts';

/** Dependencies every Airlock command imports (measured one per process). */
export const HEAVY_DEPENDENCIES = ['kysely', 'zod', 'yaml', 'log-update', 'http-proxy-3'] as const;

export interface ColdStartResult {
  nodeMs: number[];
  versionMs: number[];
  statusMs: number[];
  /** `airlock status` run from the TypeScript sources (the bundle's baseline). */
  statusSourceMs: number[];
  /** Only importing the modules `airlock promote` loads (compile cache on, as in bin/). */
  importMs: number[];
  /** Per dependency: process importing it minus the same round's `node -e 0`. */
  dependencyMs: Record<string, number[]>;
  releases: number;
}

/** `node -e` source that imports `urls` with the compile cache on (as bin/airlock.js does). */
function importScript(urls: string[]): string {
  return [
    "import m from 'node:module';",
    'm.enableCompileCache?.();',
    ...urls.map((url) => `await import(${JSON.stringify(url)});`),
  ].join(' ');
}

interface Command {
  key: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Only in the first rounds. */
  rounds: number;
}

export async function measureColdStart(
  project: BenchProject,
  options: { runs: number; dependencyRuns: number; releases: number },
): Promise<ColdStartResult> {
  const env = { ...process.env, CI: '1', NO_COLOR: '1' };
  const src = (file: string) => new URL(file, import.meta.url).href;
  const commands: Command[] = [
    { key: 'node', args: ['-e', '0'], rounds: options.runs },
    { key: 'version', args: [BIN, '--version'], rounds: options.runs },
    { key: 'status', args: [BIN, 'status'], rounds: options.runs },
    {
      key: 'status-src',
      args: [BIN, 'status'],
      env: { AIRLOCK_FROM_SOURCE: '1' },
      rounds: options.runs,
    },
    {
      key: 'import',
      args: [
        '--input-type=module',
        '-e',
        importScript([src('../src/cli/main.ts'), src('../src/cli/deploy.ts')]),
      ],
      rounds: options.runs,
    },
    ...HEAVY_DEPENDENCIES.map((dep) => ({
      key: `dep:${dep}`,
      args: ['--input-type=module', '-e', importScript([import.meta.resolve(dep)])],
      rounds: options.dependencyRuns,
    })),
  ];
  const times = new Map<string, number[]>(commands.map((c) => [c.key, []]));
  for (let round = 0; round < options.runs; round++) {
    const active = commands.filter((c) => round < c.rounds);
    for (let k = 0; k < active.length; k++) {
      const command = active[(round + k) % active.length] as Command;
      const run = await startProcess(process.execPath, command.args, {
        cwd: project.dir,
        env: { ...env, ...command.env },
      }).done;
      if (run.code !== 0) {
        throw new Error(`node ${command.args.join(' ')} exited ${run.code}: ${run.stderr}`);
      }
      times.get(command.key)?.push(run.wallMs);
    }
  }
  const nodeMs = times.get('node') ?? [];
  const dependencyMs: Record<string, number[]> = {};
  for (const dep of HEAVY_DEPENDENCIES) {
    dependencyMs[dep] = (times.get(`dep:${dep}`) ?? []).map((t, i) => t - (nodeMs[i] ?? 0));
  }
  const result: ColdStartResult = {
    nodeMs,
    versionMs: times.get('version') ?? [],
    statusMs: times.get('status') ?? [],
    statusSourceMs: times.get('status-src') ?? [],
    importMs: times.get('import') ?? [],
    dependencyMs,
    releases: options.releases,
  };
  log(
    `cold start: status ${Math.round(median(result.statusMs))} ms, promote's imports ${Math.round(median(result.importMs))} ms, --version ${Math.round(median(result.versionMs))} ms, node -e 0 ${Math.round(median(result.nodeMs))} ms`,
  );
  return result;
}

export function coldStartSection(r: ColdStartResult): Section {
  const nodeMedian = median(r.nodeMs);
  const stat = (values: number[]) => ({
    value: median(values),
    p95: p95(values),
    n: values.length,
  });
  const dependencyRows: Row[] = HEAVY_DEPENDENCIES.map((dep) =>
    row(`  · \`${dep}\` alone: import time over node -e 0`, stat(r.dependencyMs[dep] ?? [])),
  );
  return {
    id: 'coldStart',
    title: `(d) Cold start: \`airlock status\` in a project with ${r.releases} releases vs \`node -e 0\` (interleaved)`,
    valueLabel: 'median',
    rows: [
      row('`airlock status`', {
        ...stat(r.statusMs),
        baseline: nodeMedian,
        baselineLabel: '`node -e 0`',
      }),
      row('`airlock status` from the sources, unbundled (AIRLOCK_FROM_SOURCE=1)', {
        ...stat(r.statusSourceMs),
        baseline: median(r.statusMs),
        baselineLabel: 'bundled `airlock status`',
      }),
      row('`airlock --version` (CLI process start)', {
        ...stat(r.versionMs),
        baseline: nodeMedian,
        baselineLabel: '`node -e 0`',
      }),
      row('import the sources of `airlock promote`, unbundled (no work)', {
        ...stat(r.importMs),
        baseline: nodeMedian,
        baselineLabel: '`node -e 0`',
      }),
      ...dependencyRows,
      row('`node -e 0`', stat(r.nodeMs)),
    ],
    notes: [
      '`airlock status` loads the config, opens the state DB and asks the local runtime daemon what serves (one /health probe per service).',
      `\`npm ci\` bundles the CLI into dist/ (scripts/bundle.ts), and bin/airlock.js runs that bundle while it is newer than every source file: a command loads a few modules instead of the ~575 the sources pull in (${HEAVY_DEPENDENCIES.filter((d) => d !== 'log-update' && d !== 'http-proxy-3').join(', ')} for the state store and the config; log-update only when drawing live progress; http-proxy-3 only in the runtime daemon).`,
    ],
    details: {
      nodeMs: r.nodeMs.map(round1),
      versionMs: r.versionMs.map(round1),
      statusMs: r.statusMs.map(round1),
      statusSourceMs: r.statusSourceMs.map(round1),
      importMs: r.importMs.map(round1),
      dependencyMs: Object.fromEntries(
        Object.entries(r.dependencyMs).map(([k, v]) => [k, v.map(round1)]),
      ),
    },
  };
}
