/**
 * A real Airlock project for the bench: the notes example in a fresh git repository on two free
 * ports (the demo's `createExampleProject`), driven through the real CLI as child processes.
 * Reads what Airlock recorded (the state DB's `runs` / `run_steps`, the local runtime's
 * `events.jsonl`) and cleans up: the project's runtime daemon and every app process, then the
 * folder.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { createExampleProject } from '../src/cli/demo.ts';
import { loadConfig } from '../src/config/load.ts';
import { SUM_FILENAME, sumTextSync } from '../src/migrations/integrity.ts';
import { LocalRuntimeClient } from '../src/providers/local/runtime-client.ts';

export const BIN = fileURLToPath(new URL('../bin/airlock.js', import.meta.url));
export const DEVELOPER = 'dev@airlock.demo';
export const REVIEWER = 'reviewer@airlock.demo';

/** Wall-clock time in ms with sub-ms precision (comparable with the ISO times Airlock records). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Progress for the operator, on stderr (stdout carries only the table or the JSON). */
export function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export interface ProcessRun {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
  /** Spawn → exit, ms. */
  wallMs: number;
  /** Epoch ms just before spawn. */
  startedAt: number;
  /** Epoch ms at exit. */
  exitedAt: number;
}

export interface StartedProcess {
  child: ChildProcess;
  /** Epoch ms just before spawn. */
  startedAt: number;
  /** `performance.now()` just before spawn. */
  startedPerf: number;
  done: Promise<ProcessRun>;
}

const children = new Set<ChildProcess>();

/** Spawns a process and times it from just before `spawn()` to its `exit` event. */
export function startProcess(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): StartedProcess {
  const startedAt = epochNow();
  const startedPerf = performance.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const done = new Promise<ProcessRun>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let exited: { code: number | null; at: number; perf: number } | null = null;
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(error);
    });
    child.on('exit', (code) => {
      exited = { code, at: epochNow(), perf: performance.now() };
    });
    child.on('close', () => {
      clearTimeout(timer);
      children.delete(child);
      const end = exited ?? { code: child.exitCode, at: epochNow(), perf: performance.now() };
      resolve({
        args,
        code: end.code,
        stdout,
        stderr,
        wallMs: end.perf - startedPerf,
        startedAt,
        exitedAt: end.at,
      });
    });
  });
  return { child, startedAt, startedPerf, done };
}

/** Kills processes the bench spawned that are still running (on an interrupted bench). */
export function killStrayChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** One `runs` row with its `run_steps`, as Airlock recorded them. */
export interface RecordedRun {
  id: number;
  kind: string;
  status: string;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms. */
  finishedAt: number;
  steps: RecordedStep[];
}

export interface RecordedStep {
  name: string;
  status: string;
  /** Epoch ms, or NaN when the step did not run. */
  startedAt: number;
  durationMs: number | null;
  output: Record<string, unknown> | null;
}

/** A line of the local runtime's `envs/<env>/events.jsonl`. */
export interface RuntimeEventLine {
  /** Epoch ms. */
  at: number;
  type: string;
  release: string;
  pid?: number;
  details?: Record<string, unknown>;
}

export interface BenchProject {
  dir: string;
  home: string;
  ports: { staging: number; production: number };
  url(environment: 'staging' | 'production'): string;
  /** Starts `airlock <args>` in the project as a child process. */
  startCli(args: string[]): StartedProcess;
  /** Runs `airlock <args>`; throws with its output when it exits non-zero. */
  cli(args: string[]): Promise<ProcessRun>;
  /** Commits a change to the app's bytes (and, with `migration`, a new migration file). */
  commitChange(label: string, options?: { migration?: boolean }): void;
  /** Sets a service setting of one environment in airlock.yaml and commits it. */
  setEnvironmentSetting(environment: string, key: string, value: unknown): void;
  run(runId: number): RecordedRun;
  /** Releases built so far (the state DB's `releases`). */
  releaseCount(): number;
  events(environment: string): RuntimeEventLine[];
  cleanup(): Promise<void>;
}

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
}

function parseJsonObject(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Parses the one JSON object `airlock … --json` prints. */
export function cliJson(run: ProcessRun): Record<string, unknown> {
  try {
    return JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(
      `airlock ${run.args.join(' ')} printed no JSON (exit ${run.code}): ${run.stderr.slice(0, 500)}`,
    );
  }
}

export async function createBenchProject(): Promise<BenchProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-'));
  const ports = await createExampleProject(dir);
  // Its Airlock home, under the AIRLOCK_HOME bench/run.ts sets.
  const home = loadConfig({ cwd: dir, env: process.env }).home.dir;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AIRLOCK_ACTOR: DEVELOPER,
    CI: '1',
    NO_COLOR: '1',
    // `npm run bench` has just built the bundle: run it as an installed copy does, without the
    // checkout's check that the bundle is newer than every source file (one stat per file).
    AIRLOCK_FROM_SOURCE: process.env.AIRLOCK_FROM_SOURCE ?? '0',
  };
  let migrations = 2;
  const project: BenchProject = {
    dir,
    home,
    ports,
    url: (environment) => `http://127.0.0.1:${ports[environment]}`,
    startCli: (args) => startProcess(process.execPath, [BIN, ...args], { cwd: dir, env }),
    async cli(args) {
      const run = await project.startCli(args).done;
      if (run.code !== 0) {
        throw new Error(
          `airlock ${args.join(' ')} exited ${run.code}:\n${run.stdout.slice(-1500)}\n${run.stderr.slice(-1500)}`,
        );
      }
      return run;
    },
    commitChange(label, options = {}) {
      appendFileSync(path.join(dir, 'src', 'server.js'), `// bench: ${label}\n`);
      if (options.migration) {
        migrations += 1;
        const name = `${String(migrations).padStart(4, '0')}_bench_${migrations}.sql`;
        writeFileSync(
          path.join(dir, 'migrations', name),
          `-- Migration ${name}: a small table added by the bench.\n\nCREATE TABLE bench_${migrations} (\n  id INTEGER PRIMARY KEY,\n  at TEXT NOT NULL\n);\n`,
        );
        // What `airlock migrate hash` writes: builds verify it.
        const folder = path.join(dir, 'migrations');
        writeFileSync(path.join(folder, SUM_FILENAME), sumTextSync(folder));
      }
      git(dir, ['add', '-A']);
      git(dir, ['commit', '-q', '-m', `bench: ${label}`]);
    },
    setEnvironmentSetting(environment, key, value) {
      const file = path.join(dir, 'airlock.yaml');
      const doc = parseDocument(readFileSync(file, 'utf8'));
      doc.setIn(['environments', environment, 'services', 'notes', key], value);
      writeFileSync(file, doc.toString());
      git(dir, ['commit', '-q', '-am', `bench: ${environment} ${key} = ${String(value)}`]);
    },
    run(runId) {
      const db = new DatabaseSync(path.join(home, 'state.db'), { readOnly: true });
      try {
        const run = db
          .prepare('SELECT id, kind, status, started_at, finished_at FROM runs WHERE id = ?')
          .get(runId) as
          | { id: number; kind: string; status: string; started_at: string; finished_at: string }
          | undefined;
        if (!run) throw new Error(`run ${runId} is not in the state DB`);
        const steps = db
          .prepare(
            'SELECT name, status, started_at, duration_ms, output FROM run_steps WHERE run_id = ? ORDER BY idx',
          )
          .all(runId) as Array<{
          name: string;
          status: string;
          started_at: string | null;
          duration_ms: number | null;
          output: string | null;
        }>;
        return {
          id: run.id,
          kind: run.kind,
          status: run.status,
          startedAt: Date.parse(run.started_at),
          finishedAt: Date.parse(run.finished_at),
          steps: steps.map((s) => ({
            name: s.name,
            status: s.status,
            startedAt: s.started_at ? Date.parse(s.started_at) : Number.NaN,
            durationMs: s.duration_ms,
            output: parseJsonObject(s.output),
          })),
        };
      } finally {
        db.close();
      }
    },
    releaseCount() {
      const db = new DatabaseSync(path.join(home, 'state.db'), { readOnly: true });
      try {
        return Number((db.prepare('SELECT count(*) AS n FROM releases').get() as { n: number }).n);
      } finally {
        db.close();
      }
    },
    events(environment) {
      const file = path.join(home, 'envs', environment, 'events.jsonl');
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const e = JSON.parse(line) as Omit<RuntimeEventLine, 'at'> & { at: string };
          return { ...e, at: Date.parse(e.at) };
        });
    },
    async cleanup() {
      await new LocalRuntimeClient({ home }).shutdown().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return project;
}

/** The step named `name` of a recorded run. */
export function stepOf(run: RecordedRun, name: string): RecordedStep {
  const step = run.steps.find((s) => s.name === name);
  if (!step) throw new Error(`run ${run.id} has no step ${name}`);
  return step;
}

/** GET `url` as JSON over `agent`; resolves with the status and parsed body. */
export function getJson(
  url: string,
  agent: http.Agent | false,
  timeoutMs = 2_000,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseJsonObject(text) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** The release production (or staging) serves now, from its `/version`. */
export async function servedRelease(url: string): Promise<string> {
  const { body } = await getJson(`${url}/version`, false);
  return String(body?.release);
}
