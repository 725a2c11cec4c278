/**
 * A real Airlock project for tests: the notes example copied into a temporary git repository
 * with free ports, driven through the real CLI (child processes) or in process, and cleaned up
 * (the local runtime daemon and every app process stopped).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { commitStep, createExampleProject } from '../../src/cli/demo.ts';
import { Reporter } from '../../src/cli/reporter.ts';
import { openSession, type Session } from '../../src/cli/session.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SUM_FILENAME, sumTextSync } from '../../src/migrations/integrity.ts';
import { MIGRATION_FILENAME } from '../../src/migrations/migration-name.ts';
import { LocalRuntimeClient } from '../../src/providers/local/runtime-client.ts';

export const BIN = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

/**
 * The Airlock home of the project in `dir` as the CLI resolves it (under this test file's
 * AIRLOCK_HOME, set by test/setup-home.ts), from its airlock.yaml.
 */
export function projectHome(dir: string, env: Record<string, string | undefined> = {}): string {
  return loadConfig({ cwd: dir, env: { ...process.env, ...env } }).home.dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestProject {
  dir: string;
  ports: { staging: number; production: number };
  url(environment: 'staging' | 'production'): string;
  /** Runs `airlock <args>` in the project as a real child process (`input`: its whole stdin). */
  cli(
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
  ): Promise<CliResult>;
  /** Opens an in-process session (silent reporter) acting as `actor`. */
  session(actor?: string): Promise<Session>;
  /** Edits airlock.yaml: `edit(doc)` receives the YAML document. */
  editConfig(edit: (doc: ReturnType<typeof parseDocument>) => void): void;
  commit(step: '2-pinned-notes' | '3-broken-create'): string;
  /**
   * Writes files (path relative to the project → content) and commits them. A migration file
   * (`<dir>/NNNN_name.sql`) also re-hashes its folder's airlock.sum, as `airlock migrate hash`
   * does, unless `{ hash: false }`.
   */
  commitFiles(files: Record<string, string>, message: string, options?: { hash?: boolean }): void;
  cleanup(): Promise<void>;
}

export const DEVELOPER = 'dev@airlock.demo';
export const REVIEWER = 'reviewer@airlock.demo';

export interface ExampleProjectOptions {
  /** Environment for every command and session (e.g. AIRLOCK_STATE_URL for team mode). */
  env?: Record<string, string>;
  /** A first edit of airlock.yaml, made before the project is handed out. */
  config?: (doc: ReturnType<typeof parseDocument>) => void;
  /** Commits the edit with this message (otherwise it stays an uncommitted change). */
  commitMessage?: string;
}

export async function exampleProject(options: ExampleProjectOptions = {}): Promise<TestProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-test-'));
  const extraEnv = options.env ?? {};
  const ports = await createExampleProject(dir);
  const file = path.join(dir, 'airlock.yaml');
  const sessions: Session[] = [];
  const project: TestProject = {
    dir,
    ports,
    url: (environment) => `http://127.0.0.1:${ports[environment]}`,
    cli(args, options = {}) {
      return new Promise((resolve) => {
        const child = execFile(
          process.execPath,
          [BIN, ...args],
          {
            cwd: dir,
            env: {
              ...process.env,
              AIRLOCK_ACTOR: '',
              CI: '1',
              NO_COLOR: '1',
              ...extraEnv,
              ...options.env,
            },
            timeout: options.timeoutMs ?? 60_000,
          },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
        if (options.input !== undefined) child.stdin?.end(options.input);
      });
    },
    async session(actor = DEVELOPER) {
      const s = await openSession({ as: actor }, new Reporter({ json: true, verbose: false }), {
        config: loadConfig({ cwd: dir, env: { ...process.env, ...extraEnv } }),
      });
      sessions.push(s);
      return s;
    },
    editConfig(edit) {
      const doc = parseDocument(readFileSync(file, 'utf8'));
      edit(doc);
      writeFileSync(file, doc.toString());
    },
    commit: (step) => commitStep(dir, step),
    commitFiles(files, message, options = {}) {
      const migrationDirs = new Set<string>();
      for (const [rel, content] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), content);
        if (MIGRATION_FILENAME.test(path.basename(rel)))
          migrationDirs.add(path.dirname(path.join(dir, rel)));
      }
      if (options.hash !== false)
        for (const d of migrationDirs) writeFileSync(path.join(d, SUM_FILENAME), sumTextSync(d));
      const env = {
        ...process.env,
        GIT_AUTHOR_NAME: 'Dev',
        GIT_AUTHOR_EMAIL: DEVELOPER,
        GIT_COMMITTER_NAME: 'Dev',
        GIT_COMMITTER_EMAIL: DEVELOPER,
      };
      execFileSync('git', ['add', '-A'], { cwd: dir, env });
      execFileSync('git', ['commit', '-q', '-m', message], { cwd: dir, env });
    },
    async cleanup() {
      for (const s of sessions) await s.close().catch(() => {});
      let home: string | null = null;
      try {
        home = projectHome(dir, extraEnv);
      } catch {
        // airlock.yaml was made invalid by the test: nothing was deployed with it.
      }
      if (home) await new LocalRuntimeClient({ home }).shutdown().catch(() => {});
      // Release the Postgres pool's connections before a test drops its database.
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.config) project.editConfig(options.config);
  if (options.commitMessage) project.commitFiles({}, options.commitMessage);
  return project;
}

/** Stops the local runtime of the project in `dir`, if it has a valid airlock.yaml and one runs. */
export async function stopRuntimeOf(dir: string): Promise<void> {
  let home: string;
  try {
    home = projectHome(dir);
  } catch {
    return;
  }
  await new LocalRuntimeClient({ home }).shutdown().catch(() => {});
}

type YamlDocument = ReturnType<typeof parseDocument>;

/**
 * An airlock.yaml edit: production runs `checks` of its own instead of the service's. A check
 * set production alone has is a parity difference: allowed here on purpose.
 */
export function productionChecks(doc: YamlDocument, checks: Array<Record<string, unknown>>): void {
  doc.setIn(['environments', 'production', 'services', 'notes', 'checks'], checks);
  doc.setIn(['parity'], doc.createNode({ allow: ['airlock.checks.*'] }));
}

/**
 * An airlock.yaml edit (for `editConfig` or `ExampleProjectOptions.config`): production gets a
 * check of its own that only r1 passes (its `/version` must report r1), so any later release
 * fails its checks there and is rolled back automatically.
 */
export function productionChecksOnlyR1(doc: YamlDocument): void {
  productionChecks(doc, [
    {
      name: 'only-r1',
      type: 'http',
      path: '/version',
      expect: { status: 200, json: { release: 'r1' } },
      timeoutMs: 1000,
      intervalMs: 100,
    },
  ]);
}

/** The path of the notes example's SQLite database in `environment`. */
export function notesDatabase(project: TestProject, environment: string): string {
  return path.join(projectHome(project.dir), 'envs', environment, 'data', 'notes.db');
}

/** The versions in the ledger of `environment`'s notes database, ascending. */
export function ledgerVersions(project: TestProject, environment: string): number[] {
  const db = new DatabaseSync(notesDatabase(project, environment), { readOnly: true });
  try {
    const rows = db.prepare('SELECT version FROM airlock_migrations ORDER BY version').all();
    return (rows as Array<{ version: number }>).map((r) => Number(r.version));
  } finally {
    db.close();
  }
}

/** Fetches `/version` of a live environment. */
export async function liveVersion(
  url: string,
): Promise<{ release: string; digest: string; commit: string }> {
  const response = await fetch(`${url}/version`, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as { release: string; digest: string; commit: string };
}

/** The runs `airlock demo --json` must report, in order: the whole story. */
export const DEMO_STORY = [
  'deploy r1 staging succeeded',
  'promote r1 production succeeded',
  'deploy r2 staging succeeded',
  'promote r2 production succeeded',
  'deploy r3 staging failed',
  'rollback r1 production succeeded',
];

/** The `runs` of `airlock demo --json` as `action release environment status` lines. */
export function demoStory(json: {
  runs: Array<{ action: string; release: string; environment: string; status: string }>;
}): string[] {
  return json.runs.map((r) => `${r.action} ${r.release} ${r.environment} ${r.status}`);
}

/** A command of the real CLI running as a child process in `dir`: its output (stdout and stderr, interleaved) so far, and its exit. */
export interface RunningCli {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Starts `airlock <args>` in `dir` (CI=1, NO_COLOR=1, plus `env`) without waiting for it. */
export function spawnCli(
  dir: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, CI: '1', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => output };
}
