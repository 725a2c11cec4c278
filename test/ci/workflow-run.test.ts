/**
 * The generated workflows, run as generated (test/ci/workflow-runner.ts): a small project that
 * did what docs/github-actions.md says (`npm install -D airlock-deploy`, the lockfile
 * committed, `airlock ci init github`), deployed by the command provider to a "platform" this
 * test serves on 127.0.0.1 (a folder per environment behind an HTTP server: what outlives the
 * runners, as a real platform does). Airlock is the packed airlock-deploy, published once per
 * file to a local registry that every job's own `npm ci` installs from; its state is a real
 * Postgres database (team mode). Every `run:` script runs exactly as written and passes
 * shellcheck. The command provider is the cheapest CI-capable target, so all three flows run
 * here; the platform providers' workflows are checked by the parsers (workflows.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type CiFlow, generateWorkflows } from '../../src/ci/github-workflows.ts';
import { loadConfig } from '../../src/config/load.ts';
import {
  freePort,
  type LocalRegistry,
  ok,
  run,
  startLocalRegistry,
  VERSION,
} from '../helpers/local-registry.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { BIN } from '../helpers/project.ts';
import { type WorkflowEvent, type WorkflowRun, WorkflowRunner } from './workflow-runner.ts';

/** GitHub logins: the one who merges and dispatches, and a second person who reviews. */
const DEV = 'octo-dev';
const REVIEWER = 'octo-reviewer';
const STAGING = '.github/workflows/airlock-staging.yml';
const PRODUCTION = '.github/workflows/airlock-production.yml';
const DEPLOY = '.github/workflows/airlock-deploy.yml';
const ROLLBACK = '.github/workflows/airlock-rollback.yml';
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
};

let registry: LocalRegistry | null = null;
/** package.json and package-lock.json after `npm install -D airlock-deploy` (from the registry). */
let installed: Record<string, string> = {};
let platform: { dir: string; url: string; server: Server } | null = null;

/**
 * The platform: `GET <url>/<env>/version` answers what the deploy command wrote for that
 * environment, `/health` whether anything is deployed there.
 */
async function startPlatform(dir: string): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createServer((req, res) => {
    const [, env, what] = (req.url ?? '').split('/');
    const version = path.join(dir, env ?? '', 'version.json');
    if (!env || !existsSync(version)) return res.writeHead(503).end('nothing deployed');
    res.setHeader('content-type', 'application/json');
    if (what === 'health') return res.end('{"ok":true}');
    if (what === 'version') return res.end(readFileSync(version));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

beforeAll(async () => {
  registry = await startLocalRegistry();
  // What a new user does first (docs/github-actions.md): Airlock as a devDependency, locked.
  const template = path.join(registry.dir, 'template');
  execFileSync('mkdir', ['-p', template]);
  writeFileSync(
    path.join(template, 'package.json'),
    `${JSON.stringify({ name: 'shop', version: '1.0.0', private: true }, null, 2)}\n`,
  );
  await ok(
    run(
      'npm',
      [
        'install',
        '-D',
        `airlock-deploy@${VERSION}`,
        '--userconfig',
        registry.npmrc,
        '--cache',
        path.join(registry.dir, 'npm-cache'),
        '--no-audit',
        '--no-fund',
      ],
      { cwd: template },
    ),
  );
  installed = {
    'package.json': readFileSync(path.join(template, 'package.json'), 'utf8'),
    'package-lock.json': readFileSync(path.join(template, 'package-lock.json'), 'utf8'),
  };
  const dir = path.join(registry.dir, 'platform');
  execFileSync('mkdir', ['-p', dir]);
  platform = { dir, ...(await startPlatform(dir)) };
}, 300_000);

afterAll(async () => {
  await new Promise((resolve) => (platform ? platform.server.close(resolve) : resolve(null)));
  registry?.stop();
});

interface Setup {
  repo: string;
  runner: WorkflowRunner;
  db: TestDatabase;
}
const setups: Setup[] = [];

afterEach(async () => {
  for (const { repo, runner, db } of setups.splice(0)) {
    rmSync(repo, { recursive: true, force: true });
    runner.cleanup();
    await db.drop();
  }
  if (platform) rmSync(path.join(platform.dir), { recursive: true, force: true });
});

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...GIT_ENV },
  }).trim();
}

function commitFiles(repo: string, files: Record<string, string>, message: string): void {
  for (const [file, content] of Object.entries(files)) {
    execFileSync('mkdir', ['-p', path.dirname(path.join(repo, file))]);
    writeFileSync(path.join(repo, file), content);
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
}

/** The project: a static site built into out/, deployed by two shell commands. */
function projectFiles(automatic: boolean): Record<string, string> {
  const vars = '{ PLATFORM_DIR: "${PLATFORM_DIR}", PLATFORM_URL: "${PLATFORM_URL}" }';
  return {
    ...installed,
    '.gitignore': 'node_modules/\nout/\n',
    'site/index.html': '<h1>shop</h1>\n',
    'build.mjs': "import { cpSync } from 'node:fs';\ncpSync('site', 'out', { recursive: true });\n",
    'deploy.sh': `#!/bin/sh
# Puts the release's bytes on the platform and says where it answers.
set -eu
dest="$PLATFORM_DIR/$AIRLOCK_ENV"
mkdir -p "$dest"
rm -rf "$dest/site"
cp -R "$AIRLOCK_ARTIFACT_DIR" "$dest/site"
printf '{"release":"%s","commit":"%s","digest":"%s"}\\n' "$AIRLOCK_RELEASE" "$AIRLOCK_COMMIT" "$AIRLOCK_DIGEST" > "$dest/version.json"
echo "$PLATFORM_URL/$AIRLOCK_ENV"
`,
    'describe.sh': `#!/bin/sh
# Asks the platform what serves.
set -eu
version="$PLATFORM_DIR/$AIRLOCK_ENV/version.json"
if [ -f "$version" ]; then
  node -e 'const v = require(process.argv[1]); console.log(JSON.stringify({ release: v.release, url: process.argv[2] }))' "$version" "$PLATFORM_URL/$AIRLOCK_ENV"
else
  echo '{"release": null}'
fi
`,
    'airlock.yaml': `project: shop
pipeline: [staging, production]
services:
  web:
    build: { command: node build.mjs, output: out }
    command: { deploy: sh deploy.sh, describe: sh describe.sh }
    health: { path: /health }
    checks:
      - name: smoke
        type: http
        path: /version
        expect: { status: 200, json: { release: "\${release.id}" } }
environments:
  staging:
    provider: command
    services: { web: { vars: ${vars} } }
  production:
    provider: command
    promotion: ${automatic ? 'automatic' : '{ approval: { required: 1 } }'}
    services: { web: { vars: ${vars} } }
`,
  };
}

/** A repository with the project and the flow's workflows committed, on Postgres state. */
async function setup(flow: CiFlow): Promise<Setup> {
  if (!registry || !platform) throw new Error('beforeAll did not run');
  const db = await createTestDatabase('airlock_gha');
  const repo = mkdtempSync(path.join(os.tmpdir(), 'airlock-gha-repo-'));
  git(repo, 'init', '-q', '-b', 'main');
  commitFiles(repo, projectFiles(flow === 'automatic'), 'shop');
  const secrets = {
    AIRLOCK_STATE_URL: db.url,
    PLATFORM_DIR: platform.dir,
    PLATFORM_URL: platform.url,
  };
  const config = loadConfig({ cwd: repo, env: { ...process.env, ...secrets } });
  const files = generateWorkflows(config, { flow });
  commitFiles(
    repo,
    Object.fromEntries(files.map((f) => [f.path, f.content])),
    `Add the Airlock workflows (${flow})`,
  );
  const runner = new WorkflowRunner({
    repository: repo,
    secrets,
    registry: registry.url,
    npmCache: path.join(registry.dir, 'npm-cache'),
  });
  const made = { repo, runner, db };
  setups.push(made);
  return made;
}

function push(repo: string, branch: string): WorkflowEvent {
  return {
    name: 'push',
    sha: git(repo, 'rev-parse', branch),
    ref: `refs/heads/${branch}`,
    actor: DEV,
  };
}

function dispatch(repo: string, inputs: Record<string, string>): WorkflowEvent {
  return {
    name: 'workflow_dispatch',
    sha: git(repo, 'rev-parse', 'main'),
    ref: 'refs/heads/main',
    actor: DEV,
    inputs,
  };
}

/** Asserts each job's status, showing the jobs' logs when one differs. */
function expectJobs(result: WorkflowRun, expected: Record<string, string>): void {
  const actual = Object.fromEntries(
    Object.entries(result.jobs).map(([id, job]) => [id, job.status]),
  );
  const logs = Object.entries(result.jobs)
    .map(([id, job]) => `== ${id}: ${job.status}\n${job.log}`)
    .join('\n');
  expect(actual, logs).toEqual(expected);
}

/** A reviewer's laptop: this checkout's CLI against the same state. */
async function airlock(setupOf: Setup, args: string[]) {
  const r = await run(process.execPath, [BIN, ...args], {
    cwd: setupOf.repo,
    env: {
      AIRLOCK_STATE_URL: setupOf.db.url,
      PLATFORM_DIR: platform?.dir ?? '',
      PLATFORM_URL: platform?.url ?? '',
      AIRLOCK_HOME: path.join(setupOf.runner.dir, 'laptop-home'),
    },
  });
  return r;
}

async function approve(s: Setup, release: string): Promise<void> {
  const r = await airlock(s, ['approve', 'production', '--release', release, '--as', REVIEWER]);
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
}

/** What the platform serves in `env`, or null. */
async function serving(env: string): Promise<{ release: string; digest: string } | null> {
  const response = await fetch(`${platform?.url}/${env}/version`);
  return response.ok ? ((await response.json()) as { release: string; digest: string }) : null;
}

describeIfPostgres('generated workflows, run as generated (installed from a registry)', () => {
  it('manual: a merge deploys staging; approved, dispatch and a tag promote; the rollback workflow restores the previous release', {
    timeout: 600_000,
  }, async () => {
    const s = await setup('manual');
    const { repo, runner } = s;

    // The merge: build r1 once, upload it, deploy it to staging with checks.
    let result = await runner.run(STAGING, push(repo, 'main'));
    expectJobs(result, { verify: 'success', 'deploy-staging': 'success' });
    // The install step ran as written and installed the packed Airlock from the registry.
    expect(result.jobs.verify?.log).toMatch(
      /- Install dependencies[^\n]*: ok \(\d+ ms\)\n\s*added \d+ packages/,
    );
    const r1 = result.jobs['deploy-staging']?.outputs ?? {};
    expect(r1.release).toBe('r1');
    expect((await serving('staging'))?.release).toBe('r1');

    await approve(s, 'r1');
    result = await runner.run(PRODUCTION, dispatch(repo, { release: '' }));
    expectJobs(result, { 'promote-production': 'success' });
    expect(result.jobs['promote-production']?.log).toContain(
      `downloaded ${r1.artifact} from run 1`,
    );
    expect((await serving('production'))?.digest).toBe((await serving('staging'))?.digest);

    // Commit 2 is merged (r2 on staging), approved, and a v2 tag promotes it.
    commitFiles(repo, { 'site/index.html': '<h1>shop, second edition</h1>\n' }, 'Second edition');
    result = await runner.run(STAGING, push(repo, 'main'));
    expectJobs(result, { verify: 'success', 'deploy-staging': 'success' });
    expect(result.jobs['deploy-staging']?.outputs.release).toBe('r2');
    await approve(s, 'r2');
    git(repo, 'tag', 'v2', 'main');
    result = await runner.run(PRODUCTION, {
      name: 'push',
      sha: git(repo, 'rev-parse', 'v2^{commit}'),
      ref: 'refs/tags/v2',
      actor: DEV,
    });
    expectJobs(result, { 'promote-production': 'success' });
    expect((await serving('production'))?.release).toBe('r2');

    // The rollback workflow, dispatched for production and r1: production serves r1 again.
    result = await runner.run(
      ROLLBACK,
      dispatch(repo, { environment: 'production', release: 'r1' }),
    );
    expectJobs(result, { rollback: 'success' });
    expect((await serving('production'))?.release).toBe('r1');
    expect((await serving('staging'))?.release).toBe('r2');
    expect(runner.scripts).toBeGreaterThan(30);
  });

  it('staging-branch: a push to staging deploys it; a push to main promotes that commit’s release', {
    timeout: 300_000,
  }, async () => {
    const s = await setup('staging-branch');
    const { repo, runner } = s;
    git(repo, 'branch', 'staging', 'main');
    let result = await runner.run(STAGING, push(repo, 'staging'));
    expectJobs(result, { verify: 'success', 'deploy-staging': 'success' });
    expect((await serving('staging'))?.release).toBe('r1');
    await approve(s, 'r1');
    result = await runner.run(PRODUCTION, push(repo, 'main'));
    expectJobs(result, { 'promote-production': 'success' });
    expect((await serving('production'))?.release).toBe('r1');
  });

  it('automatic: a merge deploys staging, then production follows in the same run', {
    timeout: 300_000,
  }, async () => {
    const { repo, runner } = await setup('automatic');
    const result = await runner.run(DEPLOY, push(repo, 'main'));
    expectJobs(result, {
      verify: 'success',
      'deploy-staging': 'success',
      'promote-production': 'success',
    });
    expect((await serving('production'))?.release).toBe('r1');
    expect((await serving('production'))?.digest).toBe((await serving('staging'))?.digest);
  });
});
