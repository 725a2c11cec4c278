/**
 * Runs generated workflows the way a GitHub runner would, on this machine: jobs in `needs`
 * order, `if:` conditions, job and step outputs, and every `run:` script exactly as written,
 * under `bash --noprofile --norc -eo pipefail` (the workflows' shell) with the job's and the
 * step's env. Nothing in a script is rewritten: `npm ci` installs the project's dependencies
 * from the registry the harness points npm at (a local one serving the packed airlock-deploy),
 * and `npx airlock` runs the copy it installed. Each script passes shellcheck first.
 *
 * Every job starts like a fresh runner: an empty workspace that actions/checkout clones the
 * repository into, its own RUNNER_TEMP, HOME and Airlock home. Only what a real runner shares
 * with others outlives a job: the shared Postgres state, the platform, the artifact store, and
 * npm's download cache (what setup-node's `cache: npm` restores).
 *
 * What GitHub itself provides is replaced explicitly, nothing else:
 * - `${{ … }}` expressions come from a small substitution table (event, inputs, secrets), plus
 *   the steps' and needed jobs' outputs; an expression not in the table fails the run;
 * - the actions: checkout clones the repository and checks out the event's commit,
 *   setup-node is the Node running the tests, setup-flyctl puts the FAKE flyctl the harness was
 *   given on PATH (where the action's tool cache would), upload-artifact and download-artifact
 *   copy folders to and from a local artifact store, and `gh api …/actions/artifacts?name=…`
 *   (the only GitHub API call the scripts make) is a fake `gh` that answers from that store;
 * - `$GITHUB_PATH` and `$GITHUB_OUTPUT` are read after each step, as the runner does.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  accessSync,
  appendFileSync,
  chmodSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';

export interface WorkflowEvent {
  name: 'push' | 'pull_request' | 'workflow_dispatch';
  /** The commit the event is for (checked out by actions/checkout). */
  sha: string;
  /** refs/heads/main, refs/tags/v2, refs/pull/1/merge. */
  ref: string;
  /** Who triggered it (`github.actor`, hence AIRLOCK_ACTOR). */
  actor: string;
  inputs?: Record<string, string>;
}

export type JobStatus = 'success' | 'failure' | 'skipped';

export interface JobResult {
  status: JobStatus;
  outputs: Record<string, string>;
  /** Each step's name, status and output, for failure messages. */
  log: string;
}

export interface WorkflowRun {
  runId: string;
  jobs: Record<string, JobResult>;
}

interface Step {
  name: string;
  id?: string;
  if?: string;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
  env?: Record<string, string>;
  'working-directory'?: string;
}

interface Job {
  needs?: string | string[];
  environment?: string | { name: string };
  if?: string;
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  defaults?: { run?: { 'working-directory'?: string } };
  steps: Step[];
}

/**
 * A file to append one JSON line per step to (`{ step, ms, cpuMs }`: wall time, and the CPU of a
 * `run:` script and its children), when AIRLOCK_HARNESS_PROFILE names one: where a run's time goes.
 */
const PROFILE = process.env.AIRLOCK_HARNESS_PROFILE;

/** shellcheck's verdict per script text, shared by every runner of the test process. */
const shellchecked = new Map<string, { ok: boolean; output: string }>();

const EXPRESSION = /\$\{\{\s*(.*?)\s*\}\}/g;
/** The repository the fake GitHub pretends to be. */
export const REPOSITORY = 'acme/notes';

export interface WorkflowRunnerOptions {
  /** The repository (a git folder) each job's checkout clones. */
  repository: string;
  /** The repository's secrets, by name (`${{ secrets.NAME }}`; a missing one is empty). */
  secrets: Record<string, string>;
  /** The npm registry jobs install from (`npm_config_registry`, as a runner's .npmrc would). */
  registry: string;
  /** npm's download cache, shared by the jobs (setup-node's `cache: npm`). */
  npmCache: string;
  /**
   * Secrets of GitHub environments (environment → name → value): a job that runs in that
   * environment (`environment:`) reads these before the repository's, as on GitHub.
   */
  environmentSecrets?: Record<string, Record<string, string>>;
  /** A folder holding the FAKE `flyctl`, put on PATH by setup-flyctl. */
  flyctlDir?: string;
  /**
   * What the network gives a runner, in every job's environment: where the FAKE platforms
   * answer (their API base URLs, the state folders of the FAKE CLIs), as DNS would route a real
   * runner to the real platform. Never a credential (those are secrets).
   */
  network?: Record<string, string>;
}

/** A place where several workflow runs upload and download artifacts (GitHub's store). */
export class WorkflowRunner {
  readonly dir: string;
  private runs = 0;
  private readonly options: WorkflowRunnerOptions;
  private readonly ghDir: string;
  /** How many `run:` scripts ran (each passed shellcheck first; a text seen before is not checked again). */
  scripts = 0;

  constructor(options: WorkflowRunnerOptions) {
    this.options = options;
    this.dir = mkdtempSync(path.join(runnerDisk(), 'airlock-gha-'));
    mkdirSync(path.join(this.dir, 'artifacts'));
    writeFileSync(path.join(this.dir, 'artifacts.json'), '{}');
    this.ghDir = path.join(this.dir, 'bin');
    mkdirSync(this.ghDir);
    // The fake `gh api repos/<repo>/actions/artifacts?name=<name> --jq …`: prints the id of the
    // run that uploaded <name>, or nothing (what the real query's `// empty` prints).
    const gh = path.join(this.ghDir, 'gh');
    writeFileSync(
      gh,
      `#!/usr/bin/env node
const [command, url] = process.argv.slice(2);
const expected = ${JSON.stringify(`repos/${REPOSITORY}/actions/artifacts?name=`)};
if (command !== 'api' || !url.startsWith(expected) || !process.env.GH_TOKEN) {
  console.error('fake gh: unexpected call ' + process.argv.slice(2).join(' '));
  process.exit(2);
}
const name = new URL(url, 'https://api.github.com/').searchParams.get('name');
const index = JSON.parse(require('node:fs').readFileSync(${JSON.stringify(path.join(this.dir, 'artifacts.json'))}, 'utf8'));
if (index[name]) console.log(index[name]);
`,
    );
    chmodSync(gh, 0o755);
  }

  /** The artifacts uploaded so far: name → id of the run that uploaded it. */
  artifacts(): Record<string, string> {
    return JSON.parse(readFileSync(path.join(this.dir, 'artifacts.json'), 'utf8'));
  }

  /**
   * Runs one workflow file for one event. `only` runs just these jobs (the others are
   * reported skipped); `of` continues an earlier run instead (GitHub's "re-run job": same run
   * id, and the earlier run's jobs satisfy `needs`).
   */
  async run(
    file: string,
    event: WorkflowEvent,
    options: { only?: string[]; of?: WorkflowRun } = {},
  ): Promise<WorkflowRun> {
    const source = execFileSync('git', ['show', `${event.sha}:${file}`], {
      cwd: this.options.repository,
      encoding: 'utf8',
    });
    const workflow = parse(source) as {
      jobs: Record<string, Job>;
    };
    const runId = options.of?.runId ?? String(++this.runs);
    const results: Record<string, JobResult> = {};
    const done = (id: string) => results[id];
    for (const [id, job] of Object.entries(workflow.jobs)) {
      const earlier = options.of?.jobs[id];
      if (earlier && options.only && !options.only.includes(id)) {
        results[id] = earlier;
        continue;
      }
      const needs = job.needs === undefined ? [] : [job.needs].flat();
      const upstream = needs.map(done);
      if (upstream.some((r) => r === undefined)) throw new Error(`${id}: needs a later job`);
      const values = this.values(event, {
        needs: Object.fromEntries(needs.map((n) => [n, done(n) as JobResult])),
      });
      if (
        (options.only && !options.only.includes(id)) ||
        upstream.some((r) => r?.status !== 'success') ||
        (job.if && !truthy(evaluate(job.if, values)))
      ) {
        results[id] = { status: 'skipped', outputs: {}, log: '' };
        continue;
      }
      // The job's GitHub environment (its own secrets first), as its `environment:` names it.
      const named = typeof job.environment === 'object' ? job.environment.name : job.environment;
      const environment = named ? substitute(named, values) : undefined;
      const scoped = environment
        ? this.values(
            event,
            { needs: Object.fromEntries(needs.map((n) => [n, done(n) as JobResult])) },
            environment,
          )
        : values;
      results[id] = await this.runJob(job, event, runId, scoped);
    }
    return { runId, jobs: results };
  }

  /** The substitution table: what GitHub would put in each expression. */
  private values(
    event: WorkflowEvent,
    extra: {
      needs: Record<string, JobResult>;
      temp?: string;
      steps?: Record<string, Record<string, string>>;
    },
    environment?: string,
  ): (expression: string) => string {
    const table: Record<string, string> = {
      'github.event_name': event.name,
      'github.actor': event.actor,
      'github.token': 'ghs_fake-token-for-tests',
      ...(extra.temp ? { 'runner.temp': extra.temp } : {}),
    };
    return (expression) => {
      if (expression in table) return table[expression] as string;
      const input = /^inputs\.([\w-]+)$/.exec(expression);
      if (input) return event.inputs?.[input[1] as string] ?? '';
      const secret = /^secrets\.(\w+)$/.exec(expression);
      if (secret) {
        const name = secret[1] as string;
        const scoped = environment ? this.options.environmentSecrets?.[environment] : undefined;
        return scoped?.[name] ?? this.options.secrets[name] ?? '';
      }
      const step = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
      if (step && extra.steps) return extra.steps[step[1] as string]?.[step[2] as string] ?? '';
      const need = /^needs\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
      if (need && extra.needs[need[1] as string])
        return extra.needs[need[1] as string]?.outputs[need[2] as string] ?? '';
      throw new Error(`no substitution for \${{ ${expression} }}`);
    };
  }

  private async runJob(
    job: Job,
    event: WorkflowEvent,
    runId: string,
    jobValues: (expression: string) => string,
  ): Promise<JobResult> {
    // A fresh runner: an empty workspace, its own temp folder, HOME and Airlock home.
    const runner = mkdtempSync(path.join(this.dir, 'runner-'));
    try {
      return await this.runJobIn(runner, job, event, runId, jobValues);
    } finally {
      // A runner is thrown away after its job (its node_modules would fill the memory disk).
      rmSync(runner, { recursive: true, force: true });
    }
  }

  private async runJobIn(
    runner: string,
    job: Job,
    event: WorkflowEvent,
    runId: string,
    jobValues: (expression: string) => string,
  ): Promise<JobResult> {
    const temp = path.join(runner, 'temp');
    const workspace = path.join(runner, 'work');
    const home = path.join(runner, 'home');
    for (const d of [temp, workspace, home]) mkdirSync(d);
    const githubPath = path.join(runner, 'github-path');
    writeFileSync(githubPath, '');
    const steps: Record<string, Record<string, string>> = {};
    const values = (expression: string): string => {
      if (expression === 'runner.temp') return temp;
      const step = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
      if (step) return steps[step[1] as string]?.[step[2] as string] ?? '';
      return jobValues(expression);
    };
    const log: string[] = [];
    const refType = event.ref.startsWith('refs/tags/') ? 'tag' : 'branch';
    const base: Record<string, string> = {
      ...cleanEnv(),
      ...this.options.network,
      CI: '1',
      NO_COLOR: '1',
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: event.name,
      GITHUB_SHA: event.sha,
      GITHUB_REF: event.ref,
      GITHUB_REF_TYPE: refType,
      GITHUB_REF_NAME: event.ref.replace(/^refs\/(heads|tags)\//, ''),
      GITHUB_REPOSITORY: REPOSITORY,
      GITHUB_RUN_ID: runId,
      GITHUB_WORKSPACE: workspace,
      GITHUB_PATH: githubPath,
      RUNNER_TEMP: temp,
      HOME: home,
      AIRLOCK_HOME: path.join(home, '.airlock'),
      npm_config_registry: this.options.registry,
      npm_config_cache: this.options.npmCache,
      npm_config_prefix: path.join(home, '.npm-global'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    };
    // What the runner puts on PATH: the tools steps added (GITHUB_PATH, newest first), gh, the
    // Node that setup-node chose, and the system's.
    const added: string[] = [path.join(home, '.npm-global', 'bin')];
    const pathOf = () =>
      [...added, this.ghDir, path.dirname(process.execPath), systemPath()].join(path.delimiter);
    const jobEnv = substituteAll(job.env ?? {}, values);
    for (const step of job.steps) {
      if (step.if && !truthy(evaluate(step.if, values))) {
        log.push(`- ${step.name}: skipped`);
        continue;
      }
      const started = performance.now();
      const outcome = step.uses
        ? await this.runAction(step, event, runId, values, { workspace, added })
        : await this.runScript(step, job, workspace, {
            ...base,
            PATH: pathOf(),
            ...jobEnv,
            ...substituteAll(step.env ?? {}, values),
          });
      // The runner prepends what a step appended to $GITHUB_PATH, then empties it.
      for (const line of readFileSync(githubPath, 'utf8').split('\n').reverse())
        if (line.trim()) added.unshift(line.trim());
      writeFileSync(githubPath, '');
      if (PROFILE)
        appendFileSync(
          PROFILE,
          `${JSON.stringify({ step: step.name, ms: Math.round(performance.now() - started), cpuMs: 'cpuMs' in outcome ? outcome.cpuMs : 0 })}\n`,
        );
      log.push(
        `- ${step.name}: ${outcome.ok ? 'ok' : 'FAILED'} (${Math.round(performance.now() - started)} ms)${outcome.output ? `\n${outcome.output.trimEnd()}` : ''}`,
      );
      if (step.id) steps[step.id] = outcome.outputs;
      if (!outcome.ok) return { status: 'failure', outputs: {}, log: log.join('\n') };
    }
    return {
      status: 'success',
      outputs: substituteAll(job.outputs ?? {}, values),
      log: log.join('\n'),
    };
  }

  private async runScript(
    step: Step,
    job: Job,
    workspace: string,
    env: Record<string, string>,
  ): Promise<{ ok: boolean; output: string; outputs: Record<string, string>; cpuMs?: number }> {
    const file = path.join(
      env.RUNNER_TEMP as string,
      `step-${Math.random().toString(36).slice(2)}.sh`,
    );
    writeFileSync(file, step.run ?? '');
    this.scripts += 1;
    // shellcheck judges the text alone: a script seen before (the same step in another job or
    // run) has its verdict already.
    const text = step.run ?? '';
    let lint = shellchecked.get(text);
    if (!lint) {
      lint = await exec('/usr/bin/shellcheck', ['--shell=bash', '--format=gcc', file], {
        cwd: workspace,
        env: process.env as Record<string, string>,
        timeout: 30_000,
      });
      shellchecked.set(text, lint);
    }
    if (!lint.ok) return { ok: false, output: `shellcheck:\n${lint.output}`, outputs: {} };
    const outputFile = `${file}.output`;
    writeFileSync(outputFile, '');
    const cwd = path.join(
      workspace,
      step['working-directory'] ?? job.defaults?.run?.['working-directory'] ?? '.',
    );
    const shell = ['bash', '--noprofile', '--norc', '-eo', 'pipefail', file];
    // Profiling: GNU time reports the CPU of the script and everything it waited for.
    const timed = PROFILE ? ['/usr/bin/time', '-f', '%U %S', '-o', `${file}.cpu`, ...shell] : shell;
    const result = await exec(timed[0] as string, timed.slice(1), {
      cwd,
      env: { ...env, GITHUB_OUTPUT: outputFile },
      timeout: 240_000,
    });
    const outputs: Record<string, string> = {};
    for (const line of readFileSync(outputFile, 'utf8').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
    }
    const cpu = PROFILE
      ? (readFileSync(`${file}.cpu`, 'utf8').trim().split('\n').at(-1) ?? '')
          .split(' ')
          .reduce((sum, seconds) => sum + Number(seconds) * 1000, 0)
      : undefined;
    return { ...result, outputs, ...(cpu !== undefined ? { cpuMs: Math.round(cpu) } : {}) };
  }

  private async runAction(
    step: Step,
    event: WorkflowEvent,
    runId: string,
    values: (expression: string) => string,
    runner: { workspace: string; added: string[] },
  ): Promise<{ ok: boolean; output: string; outputs: Record<string, string> }> {
    const [action] = (step.uses ?? '').split('@');
    const input = (key: string) => substitute(String(step.with?.[key] ?? ''), values);
    const index = path.join(this.dir, 'artifacts.json');
    switch (action) {
      case 'actions/checkout':
        execFileSync('git', ['clone', '-q', this.options.repository, runner.workspace]);
        execFileSync('git', ['checkout', '-q', '--detach', event.sha], { cwd: runner.workspace });
        return { ok: true, output: `checked out ${event.sha.slice(0, 7)}`, outputs: {} };
      case 'actions/setup-node':
        return { ok: true, output: `node ${process.version}`, outputs: {} };
      case 'superfly/flyctl-actions/setup-flyctl': {
        const dir = this.options.flyctlDir;
        if (!dir) return { ok: false, output: 'no FAKE flyctl given to the harness', outputs: {} };
        runner.added.unshift(dir);
        return { ok: true, output: `FAKE flyctl on PATH from ${dir}`, outputs: {} };
      }
      case 'actions/upload-artifact': {
        const name = input('name');
        const source = input('path');
        const target = path.join(this.dir, 'artifacts', runId, name);
        if (existsSync(target))
          return { ok: false, output: `artifact ${name} exists in run ${runId}`, outputs: {} };
        if (!existsSync(source) || readdirSync(source).length === 0)
          return { ok: false, output: `no files at ${source}`, outputs: {} };
        cpSync(source, target, { recursive: true });
        writeFileSync(index, JSON.stringify({ ...this.artifacts(), [name]: runId }));
        return {
          ok: true,
          output: `uploaded ${name}: ${readdirSync(source).join(', ')}`,
          outputs: {},
        };
      }
      case 'actions/download-artifact': {
        const name = input('name');
        const from = input('run-id') || runId;
        const source = path.join(this.dir, 'artifacts', from, name);
        if (!existsSync(source))
          return { ok: false, output: `no artifact ${name} in run ${from}`, outputs: {} };
        cpSync(source, input('path'), { recursive: true });
        return { ok: true, output: `downloaded ${name} from run ${from}`, outputs: {} };
      }
      default:
        return { ok: false, output: `no simulation for ${step.uses}`, outputs: {} };
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Where runners keep their files: memory (/dev/shm) when the machine has it. A job's `npm ci`
 * writes some 10,000 files, which on this machine's disk cost twice the CPU (file creation in
 * the kernel), and every runner is thrown away after its job anyway.
 */
function runnerDisk(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** The test process's environment without what a runner would not have. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(AIRLOCK_|GITHUB_|RUNNER_|DEMO_|npm_|NODE_|VITEST|FAKE_)/i.test(key)) continue;
    env[key] = value;
  }
  return env;
}

/** PATH without any node_modules/.bin (npx puts this checkout's there: a runner has none). */
function systemPath(): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => p && !p.includes(`node_modules${path.sep}.bin`))
    .join(path.delimiter);
}

function exec(
  file: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; timeout: number },
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ ok: !error, output: `${stdout}${stderr}` }),
    );
  });
}

function substitute(text: string, values: (expression: string) => string): string {
  return text.replace(EXPRESSION, (_, expression: string) => values(expression));
}

function substituteAll(
  record: Record<string, unknown>,
  values: (expression: string) => string,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, substitute(String(v), values)]),
  );
}

/** `a == 'b'`, `a != 'b'` or a value, as the generated `if:` conditions use them. */
function evaluate(condition: string, values: (expression: string) => string): string | boolean {
  const inner = condition.trim().replace(/^\$\{\{\s*([\s\S]*?)\s*\}\}$/, '$1');
  const comparison = /^([\w.-]+)\s*(==|!=)\s*'([^']*)'$/.exec(inner);
  if (comparison) {
    const equal = values(comparison[1] as string) === comparison[3];
    return comparison[2] === '==' ? equal : !equal;
  }
  return values(inner);
}

function truthy(value: string | boolean): boolean {
  return value !== false && value !== '';
}
