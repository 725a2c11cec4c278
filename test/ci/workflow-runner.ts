/**
 * Runs generated workflows the way a GitHub runner would, on this machine: jobs in `needs`
 * order, `if:` conditions, job and step outputs, each `run:` script under `bash -eo pipefail`
 * in the real project with the real CLI. Every job starts like a fresh runner: its own
 * RUNNER_TEMP and no `.airlock/artifacts` (only Airlock's shared Postgres state and the local
 * environments outlive a job), so a release can only reach a later job through the artifact.
 *
 * What GitHub itself provides is replaced explicitly, nothing else:
 * - `${{ … }}` expressions come from a small substitution table (`values`), plus the steps' and
 *   needed jobs' outputs; an expression not in the table fails the run;
 * - `npx airlock` is this repository's CLI (`bin/airlock.js` run by the Node running the tests); the install step is skipped
 *   (the notes example needs no dependencies on SQLite, and Airlock comes from this checkout);
 * - the actions: checkout checks out the event's commit in the project, setup-node is the Node
 *   running the tests, upload-artifact and download-artifact copy folders to and from a local
 *   artifact store (one per test), and `gh api …/actions/artifacts?name=…` (the only GitHub API
 *   call the scripts make) is a fake `gh` that answers from that store.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  chmodSync,
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
import { BIN, projectHome } from '../helpers/project.ts';

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
  if?: string;
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  defaults?: { run?: { 'working-directory'?: string } };
  steps: Step[];
}

const EXPRESSION = /\$\{\{\s*(.*?)\s*\}\}/g;
/** The repository the fake GitHub pretends to be. */
export const REPOSITORY = 'acme/notes';

/** A place where several workflow runs upload and download artifacts (GitHub's store). */
export class WorkflowRunner {
  readonly dir: string;
  private runs = 0;
  private readonly project: string;
  private readonly stateUrl: string;
  private readonly ghDir: string;

  /**
   * @param project the checkout every job runs in
   * @param stateUrl the `AIRLOCK_STATE_URL` secret: the shared Postgres state
   */
  constructor(project: string, stateUrl: string) {
    this.project = project;
    this.stateUrl = stateUrl;
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-gha-'));
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
    const workflow = parse(readFileSync(path.join(this.project, file), 'utf8')) as {
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
      results[id] = await this.runJob(job, event, runId, values);
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
  ): (expression: string) => string {
    const table: Record<string, string> = {
      'github.event_name': event.name,
      'github.actor': event.actor,
      'github.token': 'ghs_fake-token-for-tests',
      'inputs.release': event.inputs?.release ?? '',
      'secrets.AIRLOCK_STATE_URL': this.stateUrl,
      ...(extra.temp ? { 'runner.temp': extra.temp } : {}),
    };
    return (expression) => {
      if (expression in table) return table[expression] as string;
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
    // A fresh runner: its own temp folder, no artifacts from other jobs.
    const temp = mkdtempSync(path.join(this.dir, 'runner-temp-'));
    rmSync(path.join(projectHome(this.project), 'artifacts'), { recursive: true, force: true });
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
      RUNNER_TEMP: temp,
      PATH: `${this.ghDir}${path.delimiter}${process.env.PATH ?? ''}`,
    };
    const jobEnv = substituteAll(job.env ?? {}, values);
    for (const step of job.steps) {
      if (step.if && !truthy(evaluate(step.if, values))) {
        log.push(`- ${step.name}: skipped`);
        continue;
      }
      const outcome = step.uses
        ? await this.runAction(step, event, runId, values)
        : await this.runScript(step, job, {
            ...base,
            ...jobEnv,
            ...substituteAll(step.env ?? {}, values),
          });
      log.push(
        `- ${step.name}: ${outcome.ok ? 'ok' : 'FAILED'}${outcome.output ? `\n${outcome.output.trimEnd()}` : ''}`,
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
    env: Record<string, string>,
  ): Promise<{ ok: boolean; output: string; outputs: Record<string, string> }> {
    const script = step.run ?? '';
    if (script.trim() === 'npm ci')
      return { ok: true, output: '(install skipped: see workflow-runner.ts)', outputs: {} };
    const file = path.join(
      env.RUNNER_TEMP as string,
      `step-${Math.random().toString(36).slice(2)}.sh`,
    );
    writeFileSync(file, script.replaceAll('npx airlock', `${process.execPath} ${BIN}`));
    const outputFile = `${file}.output`;
    writeFileSync(outputFile, '');
    const cwd = path.join(
      this.project,
      step['working-directory'] ?? job.defaults?.run?.['working-directory'] ?? '.',
    );
    const result = await new Promise<{ ok: boolean; output: string }>((resolve) => {
      execFile(
        'bash',
        ['--noprofile', '--norc', '-eo', 'pipefail', file],
        {
          cwd,
          env: { ...env, GITHUB_OUTPUT: outputFile },
          timeout: 120_000,
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) => resolve({ ok: !error, output: `${stdout}${stderr}` }),
      );
    });
    const outputs: Record<string, string> = {};
    for (const line of readFileSync(outputFile, 'utf8').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
    }
    return { ...result, outputs };
  }

  private async runAction(
    step: Step,
    event: WorkflowEvent,
    runId: string,
    values: (expression: string) => string,
  ): Promise<{ ok: boolean; output: string; outputs: Record<string, string> }> {
    const [action] = (step.uses ?? '').split('@');
    const input = (key: string) => substitute(String(step.with?.[key] ?? ''), values);
    const index = path.join(this.dir, 'artifacts.json');
    switch (action) {
      case 'actions/checkout':
        execFileSync('git', ['checkout', '-q', '--detach', event.sha], { cwd: this.project });
        return { ok: true, output: `checked out ${event.sha.slice(0, 7)}`, outputs: {} };
      case 'actions/setup-node':
        return { ok: true, output: `node ${process.version}`, outputs: {} };
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

/** The test process's environment without what a runner would not have. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // AIRLOCK_HOME stays: where this machine keeps Airlock's homes (the test file's temporary
    // one), so the scripts and the fresh-runner cleanup above see the same home.
    if (value === undefined) continue;
    if (key !== 'AIRLOCK_HOME' && /^(AIRLOCK_|GITHUB_|RUNNER_|DEMO_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
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
