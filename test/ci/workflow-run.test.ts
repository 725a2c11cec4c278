/**
 * The generated workflows, run as generated (test/ci/workflow-runner.ts), for each CI-capable
 * provider: a small project that did what docs/github-actions.md says (`npm install -D
 * airlock-deploy`, the lockfile committed, `airlock ci init github`). Airlock is the packed
 * airlock-deploy, published once per file to a local registry that every job's own `npm ci`
 * installs from; the platform CLIs that come from npm (the project's wrangler, the Railway CLI)
 * are FAKES published there under their real names, flyctl is the FAKE put where setup-flyctl
 * puts it. Every `run:` script runs exactly as written and passes shellcheck.
 *
 * What is covered. A flow is pipeline logic that does not depend on the provider: the flows
 * differ in their triggers and in the production job's first steps (which release, from a
 * dispatch, a tag, the staging branch or the same run), while the verify, deploy-staging and
 * rollback jobs and every provider-specific step (platform CLI setup, secrets per GitHub
 * environment, the deploy, migrate and state of `airlock deploy`/`promote`/`rollback`) are the
 * same text in every flow (src/ci/workflow-jobs.ts; workflows.test.ts parses and lints every
 * provider × flow statically). So:
 * - the command provider goes through the three flows in turn, as a team that changes its flow
 *   would (airlock.yaml's promotion and `airlock ci init github --flow …` committed): r1 through
 *   manual (promoted by a v1 tag), r2 through staging-branch, r3 through automatic, each flow's
 *   rollback workflow restoring the release served before (production twice, staging once):
 *   12 jobs. Its "platform" is served by this test on 127.0.0.1 (a folder per environment
 *   behind an HTTP server: what outlives the runners), state in Postgres.
 * - each other provider goes through two flows, rotated so that every flow runs on two of them
 *   and every provider's production job runs two of the three flows' first steps: r1 through
 *   the first flow, r2 through the second, then the second flow's rollback workflow puts r1
 *   back in production while staging keeps r2 (7 jobs each):
 *   - cloudflare (remote mode, FAKE wrangler and FAKE D1 API, state on D1): manual (by a
 *     dispatch), then staging-branch;
 *   - fly (FAKE flyctl, state in Postgres): staging-branch, then automatic;
 *   - railway (FAKE Railway CLI, a project token per GitHub environment, state in Postgres):
 *     automatic, then manual (by a v2 tag).
 * Every release checks that its jobs installed the packed Airlock with `npm ci` and that
 * production promoted the very artifact the staging run uploaded (never rebuilt).
 *
 * One registry and one install per project template serve every test (jobs share npm's
 * cache, as setup-node's `cache: npm` does): each job still runs its own `npm ci`, which is
 * most of what a job costs (runners live in memory: see workflow-runner.ts). The providers run
 * side by side. Where the time goes: AIRLOCK_HARNESS_PROFILE=<file> (one JSON line per step).
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CiFlow } from '../../src/ci/github-workflows.ts';
import { RAILWAY_CLI } from '../../src/ci/pinned-actions.ts';
import { sumTextSync } from '../../src/migrations/integrity.ts';
import { fakeCliEnv } from '../fakes/cli/fake-cli-env.ts';
import { startFakeD1Api } from '../fakes/cloudflare/fake-d1-api.ts';
import {
  freePort,
  type LocalRegistry,
  ok,
  publishFakeCli,
  ROOT,
  run,
  startLocalRegistry,
  VERSION,
} from '../helpers/local-registry.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';
import { BIN } from '../helpers/project.ts';
import {
  SEED_000_WRANGLER,
  workerSource,
} from '../providers/cloudflare/cloudflare-test-helpers.ts';
import { FLY_TOKEN, flyToml } from '../providers/fly/fly-test-project.ts';
import {
  PRODUCTION_TOKEN,
  RAILWAY_JSON,
  STAGING_TOKEN,
} from '../providers/railway/railway-test-project.ts';
import { type WorkflowEvent, type WorkflowRun, WorkflowRunner } from './workflow-runner.ts';

/** GitHub logins: the one who merges and dispatches, and a second person who reviews. */
const DEV = 'octo-dev';
const REVIEWER = 'octo-reviewer';
const STAGING = '.github/workflows/airlock-staging.yml';
const PRODUCTION = '.github/workflows/airlock-production.yml';
const DEPLOY = '.github/workflows/airlock-deploy.yml';
const ROLLBACK = '.github/workflows/airlock-rollback.yml';
const FAKES = path.join(ROOT, 'test', 'fakes');
/** The wrangler a Worker project pins (the FAKE is published under this name and version). */
const WRANGLER = 'wrangler';
const WRANGLER_VERSION = '4.156.0';
const STAGING_DB = '00000000-0000-4000-8000-00000000aaaa';
const PRODUCTION_DB = '00000000-0000-4000-8000-00000000bbbb';
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
};

let registry: LocalRegistry | null = null;
/** package.json and package-lock.json after `npm install -D …` (from the registry), per template. */
const installed: Record<'base' | 'worker', Record<string, string>> = { base: {}, worker: {} };
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

/**
 * What a new user does first (docs/github-actions.md): the devDependencies installed, locked.
 * `extra`: more npm flags (the lockfile npm writes is the same with them).
 */
async function installTemplate(
  name: string,
  packages: string[],
  extra: string[] = [],
): Promise<Record<string, string>> {
  if (!registry) throw new Error('no registry');
  const template = path.join(registry.dir, `template-${name}`);
  mkdirSync(template, { recursive: true });
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
        ...packages,
        '--userconfig',
        registry.npmrc,
        '--cache',
        path.join(registry.dir, 'npm-cache'),
        '--no-audit',
        '--no-fund',
        ...extra,
      ],
      { cwd: template },
    ),
  );
  return {
    'package.json': readFileSync(path.join(template, 'package.json'), 'utf8'),
    'package-lock.json': readFileSync(path.join(template, 'package-lock.json'), 'utf8'),
  };
}

beforeAll(async () => {
  // The platform CLIs that come from npm are FAKES published under their real names (never
  // proxied from the real registry): the project's wrangler, the Railway CLI the jobs install.
  registry = await startLocalRegistry([WRANGLER, RAILWAY_CLI.package]);
  await publishFakeCli(registry, {
    name: WRANGLER,
    version: WRANGLER_VERSION,
    bins: { wrangler: path.join(FAKES, 'cloudflare', 'fake-wrangler.ts') },
  });
  await publishFakeCli(registry, {
    name: RAILWAY_CLI.package,
    version: RAILWAY_CLI.version,
    bins: { railway: path.join(FAKES, 'cli', 'fake-railway.ts') },
  });
  installed.base = await installTemplate('base', [`airlock-deploy@${VERSION}`]);
  // The second install finds airlock-deploy's dependencies in the npm cache: it takes their
  // metadata from there as they are (no revalidation a minute later) and only writes the
  // lockfile (its node_modules would never be read; the first job's `npm ci` fetches wrangler).
  installed.worker = await installTemplate(
    'worker',
    [`airlock-deploy@${VERSION}`, `${WRANGLER}@${WRANGLER_VERSION}`],
    ['--prefer-offline', '--package-lock-only'],
  );
  const dir = path.join(registry.dir, 'platform');
  mkdirSync(dir, { recursive: true });
  platform = { dir, ...(await startPlatform(dir)) };
}, 300_000);

afterAll(async () => {
  await new Promise((resolve) => (platform ? platform.server.close(resolve) : resolve(null)));
  registry?.stop();
});

type Provider = 'command' | 'cloudflare' | 'fly' | 'railway';

/** A provider's project and platform, as one test uses them. */
interface ProviderProject {
  files: Record<string, string>;
  /** The file whose edit makes the next release, and its content for release `n`. */
  source: { file: string; content(n: number): string };
  secrets: Record<string, string>;
  environmentSecrets?: Record<string, Record<string, string>>;
  network?: Record<string, string>;
  flyctlDir?: string;
  /** More keys of the production promotion (airlock.yaml), whatever the flow. */
  promotionExtra?: string;
  /** The environment of a reviewer's laptop: the shared state, nothing else. */
  laptop: Record<string, string>;
  /** The release the platform serves in `env` (asked of the platform or its FAKE), or null. */
  serving(env: string): Promise<string | null>;
  cleanup(): Promise<void>;
}

interface Setup {
  provider: Provider;
  flow: CiFlow;
  repo: string;
  runner: WorkflowRunner;
  project: ProviderProject;
}

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...GIT_ENV },
  }).trim();
}

function commitFiles(repo: string, files: Record<string, string>, message: string): void {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    writeFileSync(path.join(repo, file), content);
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
}

/** The production promotion a flow needs: automatic, or one reviewer's approval. */
function promotionOf(flow: CiFlow, extra = ''): string {
  if (flow === 'automatic') return extra ? `{ policy: automatic, ${extra} }` : 'automatic';
  return `{ approval: { required: 1 }${extra ? `, ${extra}` : ''} }`;
}

/** Where airlock.yaml's production promotion goes (replaced per flow by {@link configOf}). */
const PROMOTION = '@PROMOTION@';

/** A small app: its source copied into the build output by `node build.mjs`. */
const copyBuild = (files: string[], out: string) =>
  `import { cpSync, mkdirSync } from 'node:fs';\nmkdirSync('${out}', { recursive: true });\n${files.map((f) => `cpSync('${f}', '${out}/${f.split('/').at(-1)}');`).join('\n')}\n`;

/** The command provider: a static site deployed by two shell commands to a local "platform". */
async function commandProject(db: TestDatabase): Promise<ProviderProject> {
  if (!platform) throw new Error('beforeAll did not run');
  const vars = '{ PLATFORM_DIR: "${PLATFORM_DIR}", PLATFORM_URL: "${PLATFORM_URL}" }';
  const secrets = {
    AIRLOCK_STATE_URL: db.url,
    PLATFORM_DIR: platform.dir,
    PLATFORM_URL: platform.url,
  };
  return {
    files: {
      ...installed.base,
      '.gitignore': 'node_modules/\nout/\n',
      'site/index.html': '<h1>shop</h1>\n',
      'build.mjs':
        "import { cpSync } from 'node:fs';\ncpSync('site', 'out', { recursive: true });\n",
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
    promotion: ${PROMOTION}
    services: { web: { vars: ${vars} } }
`,
    },
    source: { file: 'site/index.html', content: (n) => `<h1>shop, edition ${n}</h1>\n` },
    secrets,
    laptop: { ...secrets },
    async serving(env) {
      return (await servingOn(env))?.release ?? null;
    },
    cleanup: () => db.drop(),
  };
}

/**
 * Cloudflare in remote mode: a Worker with a D1 database, deployed by the project's wrangler
 * (the FAKE, installed by `npm ci` from the lockfile), migrated and holding Airlock's own state
 * through the FAKE D1 HTTP API (`state: d1://…`: a Cloudflare-only team, no Postgres).
 */
async function cloudflareProject(): Promise<ProviderProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-gha-cf-'));
  const api = await startFakeD1Api(dir);
  api.createDatabase(STAGING_DB);
  api.createDatabase(PRODUCTION_DB);
  const stateDb = api.createDatabase();
  const state = path.join(dir, 'fake-cloudflare');
  mkdirSync(state);
  const migrations = mkdtempSync(path.join(dir, 'migrations-'));
  const first = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
  writeFileSync(path.join(migrations, '0001_create_notes.sql'), first);
  const secrets = {
    AIRLOCK_STATE_URL: `d1://${api.accountId}/${stateDb}`,
    CLOUDFLARE_API_TOKEN: api.token,
    CLOUDFLARE_API_TOKEN_STAGING: api.token,
    CLOUDFLARE_ACCOUNT_ID: api.accountId,
    CLOUDFLARE_ACCOUNT_ID_STAGING: api.accountId,
  };
  const workerOf = (env: string) =>
    env === 'staging' ? 'notes-worker' : 'notes-worker-production';
  return {
    files: {
      ...installed.worker,
      '.gitignore': 'node_modules/\ndist/\n',
      'wrangler.toml': SEED_000_WRANGLER,
      'src/index.js': workerSource('edition 1'),
      'build.mjs': copyBuild(['src/index.js'], 'dist'),
      'migrations/0001_create_notes.sql': first,
      'migrations/airlock.sum': sumTextSync(migrations),
      'airlock.yaml': `project: notes-worker
pipeline: [staging, production]
services:
  notes:
    build: { command: node build.mjs, output: dist }
    database: { engine: d1, binding: DB, migrations: migrations }
    cloudflare: { mode: remote }
environments:
  staging:
    provider: cloudflare
  production:
    provider: cloudflare
    promotion: ${PROMOTION}
`,
    },
    source: { file: 'src/index.js', content: (n) => workerSource(`edition ${n}`) },
    secrets,
    network: { FAKE_WRANGLER_STATE: state, CLOUDFLARE_API_BASE_URL: api.baseUrl },
    // The FAKE workers.dev URLs are not served on this machine: judge staging by the records.
    promotionExtra: 'livePrevious: false',
    // An approval reads production's migration ledger too (the reviewer's own token).
    laptop: {
      AIRLOCK_STATE_URL: secrets.AIRLOCK_STATE_URL,
      CLOUDFLARE_API_TOKEN: api.token,
      CLOUDFLARE_ACCOUNT_ID: api.accountId,
      CLOUDFLARE_API_BASE_URL: api.baseUrl,
    },
    async serving(env) {
      const file = path.join(state, 'workers', `${workerOf(env)}.json`);
      if (!existsSync(file)) return null;
      const worker = JSON.parse(readFileSync(file, 'utf8')) as {
        versions: { id: string; tag: string | null }[];
        deployments: { versions: { version_id: string }[] }[];
      };
      const id = worker.deployments.at(-1)?.versions[0]?.version_id;
      return worker.versions.find((v) => v.id === id)?.tag ?? null;
    },
    async cleanup() {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fly.io: one image built and pushed once, run by the staging app then the production app. */
async function flyProject(db: TestDatabase): Promise<ProviderProject> {
  const fake = fakeCliEnv({ flyApps: ['shop-staging', 'shop'] });
  // Where setup-flyctl puts flyctl: a folder with only the FAKE flyctl.
  const flyctlDir = path.join(fake.dir, 'flyctl-tool-cache');
  mkdirSync(flyctlDir);
  cpSync(path.join(fake.dir, 'bin', 'flyctl'), path.join(flyctlDir, 'flyctl'));
  const secrets = { AIRLOCK_STATE_URL: db.url, FLY_API_TOKEN_STAGING: FLY_TOKEN };
  return {
    files: {
      ...installed.base,
      '.gitignore': 'node_modules/\nout/\n',
      'server.js': "console.log('shop, edition 1');\n",
      Dockerfile: 'FROM node:24-slim\nWORKDIR /app\nCOPY out/ .\nCMD ["node", "server.js"]\n',
      'fly.staging.toml': flyToml('shop-staging', 'staging', 'debug'),
      'fly.toml': flyToml('shop', 'production', 'info'),
      'build.mjs': copyBuild(['server.js'], 'out'),
      'airlock.yaml': `project: shop
pipeline: [staging, production]
services:
  web:
    build: { command: node build.mjs, output: out }
    health: { path: /health }
environments:
  staging:
    provider: fly
  production:
    provider: fly
    promotion: ${PROMOTION}
`,
    },
    source: { file: 'server.js', content: (n) => `console.log('shop, edition ${n}');\n` },
    secrets,
    environmentSecrets: {
      staging: { FLY_API_TOKEN: FLY_TOKEN },
      production: { FLY_API_TOKEN: FLY_TOKEN },
    },
    network: {
      FAKE_FLY_STATE: fake.env.FAKE_FLY_STATE as string,
      FAKE_CLI_TRANSCRIPT: fake.env.FAKE_CLI_TRANSCRIPT as string,
    },
    flyctlDir,
    laptop: { AIRLOCK_STATE_URL: db.url },
    async serving(env) {
      const app = fake.flyState().apps[env === 'staging' ? 'shop-staging' : 'shop'];
      return app?.machines.find((m) => m.state === 'started')?.env.AIRLOCK_RELEASE ?? null;
    },
    async cleanup() {
      fake.cleanup();
      await db.drop();
    },
  };
}

/** Railway: the same build output uploaded to each environment, one project token each. */
async function railwayProject(db: TestDatabase): Promise<ProviderProject> {
  const fake = fakeCliEnv({
    railway: {
      project: 'shop',
      environments: ['staging', 'production'],
      services: ['web'],
      tokens: { [STAGING_TOKEN]: 'staging', [PRODUCTION_TOKEN]: 'production' },
    },
  });
  return {
    files: {
      ...installed.base,
      '.gitignore': 'node_modules/\nout/\n',
      'server.js': "console.log('shop, edition 1');\n",
      // One replica in each environment: production mirrors staging (the parity gate).
      'railway.json': `${JSON.stringify({ ...RAILWAY_JSON, environments: undefined }, null, 2)}\n`,
      'build.mjs': copyBuild(['server.js', 'railway.json'], 'out'),
      'airlock.yaml': `project: shop
pipeline: [staging, production]
services:
  web:
    build: { command: node build.mjs, output: out }
    health: { path: /health }
environments:
  staging:
    provider: railway
  production:
    provider: railway
    promotion: ${PROMOTION}
`,
    },
    source: { file: 'server.js', content: (n) => `console.log('shop, edition ${n}');\n` },
    // Each GitHub environment holds its own project token; production's job reads staging's
    // (for the gate) under its suffixed name.
    secrets: { AIRLOCK_STATE_URL: db.url, RAILWAY_TOKEN_STAGING: STAGING_TOKEN },
    environmentSecrets: {
      staging: { RAILWAY_TOKEN: STAGING_TOKEN },
      production: { RAILWAY_TOKEN: PRODUCTION_TOKEN },
    },
    network: {
      FAKE_RAILWAY_STATE: fake.env.FAKE_RAILWAY_STATE as string,
      FAKE_CLI_TRANSCRIPT: fake.env.FAKE_CLI_TRANSCRIPT as string,
    },
    laptop: { AIRLOCK_STATE_URL: db.url },
    async serving(env) {
      const state = fake.railwayState();
      const live = state.deployments.filter((d) => d.environment === env && d.status === 'SUCCESS');
      const message = String(live.at(-1)?.meta.commitMessage ?? '');
      return /\b(r\d+)\b/.exec(message)?.[1] ?? null;
    },
    async cleanup() {
      fake.cleanup();
      await db.drop();
    },
  };
}

/** airlock.yaml as a flow needs it: production promoted automatically, or on one approval. */
function configOf(project: ProviderProject, flow: CiFlow): string {
  return (project.files['airlock.yaml'] as string).replace(
    PROMOTION,
    promotionOf(flow, project.promotionExtra),
  );
}

/** The provider's project, committed with the first flow's airlock.yaml and workflows. */
async function setup(provider: Provider, flow: CiFlow): Promise<Setup> {
  if (!registry || !platform) throw new Error('beforeAll did not run');
  const db = provider === 'cloudflare' ? null : await createTestDatabase('airlock_gha');
  const project =
    provider === 'cloudflare'
      ? await cloudflareProject()
      : provider === 'fly'
        ? await flyProject(db as TestDatabase)
        : provider === 'railway'
          ? await railwayProject(db as TestDatabase)
          : await commandProject(db as TestDatabase);
  const repo = mkdtempSync(path.join(os.tmpdir(), 'airlock-gha-repo-'));
  git(repo, 'init', '-q', '-b', 'main');
  commitFiles(repo, { ...project.files, 'airlock.yaml': configOf(project, flow) }, 'shop');
  const runner = new WorkflowRunner({
    repository: repo,
    secrets: project.secrets,
    registry: registry.url,
    npmCache: path.join(registry.dir, 'npm-cache'),
    ...(project.environmentSecrets ? { environmentSecrets: project.environmentSecrets } : {}),
    ...(project.network ? { network: project.network } : {}),
    ...(project.flyctlDir ? { flyctlDir: project.flyctlDir } : {}),
  });
  const s = { provider, flow, repo, runner, project };
  await switchFlow(s, flow);
  return s;
}

async function teardown(s: Setup): Promise<void> {
  rmSync(s.repo, { recursive: true, force: true });
  s.runner.cleanup();
  await s.project.cleanup();
}

/**
 * What a team does to change its promotion flow: airlock.yaml's production promotion as the
 * flow needs it, `airlock ci init github --flow <flow> --force`, both committed.
 */
async function switchFlow(s: Setup, flow: CiFlow): Promise<void> {
  writeFileSync(path.join(s.repo, 'airlock.yaml'), configOf(s.project, flow));
  const r = await airlock(s, ['ci', 'init', 'github', '--flow', flow, '--force']);
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  // The other flow's workflows are gone (they would still run on their triggers).
  expect(existsSync(path.join(s.repo, flow === 'automatic' ? STAGING : DEPLOY))).toBe(false);
  git(s.repo, 'add', '-A');
  git(s.repo, 'commit', '-q', '-m', `Promote through the ${flow} flow`);
  s.flow = flow;
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
      ...setupOf.project.laptop,
      AIRLOCK_HOME: path.join(setupOf.runner.dir, 'laptop-home'),
    },
  });
  return r;
}

async function approve(s: Setup, release: string): Promise<void> {
  const r = await airlock(s, ['approve', 'production', '--release', release, '--as', REVIEWER]);
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
}

/** What the command provider's platform serves in `env`, or null. */
async function servingOn(env: string): Promise<{ release: string; digest: string } | null> {
  const response = await fetch(`${platform?.url}/${env}/version`);
  return response.ok ? ((await response.json()) as { release: string; digest: string }) : null;
}

/**
 * Release `n` (the repository's main as it is) goes from a merge to production through the
 * setup's flow: manual (a merge deploys staging; approved, a dispatch promotes), staging-branch
 * (a push to staging deploys it; approved, a push to main promotes) or automatic (one run);
 * `byTag`: the manual flow promotes on a `v<n>` tag instead of a dispatch. Checks that the jobs
 * installed Airlock with `npm ci` and that production got the artifact staging's run uploaded.
 * Returns the runs, for a closer look.
 */
async function release(s: Setup, n: number, byTag = false): Promise<WorkflowRun[]> {
  const { repo, runner } = s;
  const id = `r${n}`;
  const staged = { verify: 'success', 'deploy-staging': 'success' };
  const runs: WorkflowRun[] = [];
  if (s.flow === 'automatic') {
    const result = await runner.run(DEPLOY, push(repo, 'main'));
    runs.push(result);
    expectJobs(result, { ...staged, 'promote-production': 'success' });
    expect(result.jobs['deploy-staging']?.outputs.release).toBe(id);
  } else {
    if (s.flow === 'staging-branch') git(repo, 'branch', '-f', 'staging', 'main');
    let result = await runner.run(STAGING, push(repo, s.flow === 'manual' ? 'main' : 'staging'));
    runs.push(result);
    expectJobs(result, staged);
    expect(result.jobs['deploy-staging']?.outputs.release).toBe(id);
    expect(await s.project.serving('staging')).toBe(id);
    await approve(s, id);
    if (byTag) git(repo, 'tag', `v${n}`, 'main');
    result = await runner.run(
      PRODUCTION,
      s.flow !== 'manual'
        ? push(repo, 'main')
        : byTag
          ? {
              name: 'push',
              sha: git(repo, 'rev-parse', 'main'),
              ref: `refs/tags/v${n}`,
              actor: DEV,
            }
          : dispatch(repo, { release: '' }),
    );
    runs.push(result);
    expectJobs(result, { 'promote-production': 'success' });
  }
  expect(await s.project.serving('production')).toBe(id);
  expect(await s.project.serving('staging')).toBe(id);
  // The install step ran as written and installed the packed Airlock from the registry.
  const [built, promoted] = [runs[0], runs.at(-1)];
  expect(built?.jobs.verify?.log).toMatch(
    /- Install dependencies[^\n]*: ok \(\d+ ms\)\n\s*added \d+ packages/,
  );
  // Production got the artifact the staging run uploaded, not a rebuild.
  const artifact = built?.jobs['deploy-staging']?.outputs.artifact;
  expect(artifact).toMatch(/^airlock-[\w-]+-[0-9a-f]{64}$/);
  expect(promoted?.jobs['promote-production']?.log).toContain(
    `downloaded ${artifact} from run ${built?.runId}`,
  );
  return runs;
}

/** The rollback workflow, dispatched for `environment` and `to`: that release serves there again. */
async function rollback(s: Setup, environment: string, to: string): Promise<void> {
  const result = await s.runner.run(ROLLBACK, dispatch(s.repo, { environment, release: to }));
  expectJobs(result, { rollback: 'success' });
  expect(await s.project.serving(environment)).toBe(to);
}

/** The next release's source change, committed. */
function edit(s: Setup, n: number): void {
  commitFiles(s.repo, { [s.project.source.file]: s.project.source.content(n) }, `Edition ${n}`);
}

/**
 * The flows each provider goes through, in this order (see the header): all three on the
 * command provider, two on each other provider, rotated so that each flow runs on two of them.
 */
const FLOWS = {
  command: ['manual', 'staging-branch', 'automatic'],
  cloudflare: ['manual', 'staging-branch'],
  fly: ['staging-branch', 'automatic'],
  railway: ['automatic', 'manual'],
} as const satisfies Record<Provider, readonly CiFlow[]>;

describeIfPostgres('generated workflows, run as generated (installed from a registry)', () => {
  // The providers run side by side (their platforms, state and repositories are apart).
  it.concurrent("command: manual, staging-branch and automatic flows each release from install to production; each flow's rollback workflow restores the previous release", {
    timeout: 900_000,
  }, async () => {
    const s = await setup('command', 'manual');
    try {
      // manual: a merge deploys r1 to staging (built once, uploaded); approved, a v1 tag
      // promotes the same bytes.
      await release(s, 1, true);
      expect((await servingOn('production'))?.digest).toBe((await servingOn('staging'))?.digest);

      // staging-branch: r2 through the staging branch, then main; its rollback workflow puts r1
      // back in production (staging keeps r2).
      await switchFlow(s, 'staging-branch');
      edit(s, 2);
      await release(s, 2);
      await rollback(s, 'production', 'r1');
      expect(await s.project.serving('staging')).toBe('r2');

      // automatic: r3 from one push, promoted when its gate holds; its rollback workflow puts
      // the release production served before (r1) back.
      await switchFlow(s, 'automatic');
      edit(s, 3);
      await release(s, 3);
      await rollback(s, 'production', 'r1');

      // manual again: its rollback workflow returns staging to the release before r3.
      await switchFlow(s, 'manual');
      await rollback(s, 'staging', 'r2');
      expect(await s.project.serving('production')).toBe('r1');
      expect(s.runner.scripts).toBeGreaterThan(70);
    } finally {
      await teardown(s);
    }
  });

  it.concurrent.each(['cloudflare', 'fly', 'railway'] as const)(
    "%s: two flows (rotated) each release from install to production; the second flow's rollback workflow restores the previous release",
    { timeout: 900_000 },
    async (provider) => {
      const [first, second] = FLOWS[provider];
      const s = await setup(provider, first);
      try {
        // r1 through the first flow (a manual one promotes on a dispatch).
        await release(s, 1);
        // r2 through the second flow, committed as a team changes its flow (a manual one
        // promotes on a v2 tag).
        await switchFlow(s, second);
        edit(s, 2);
        await release(s, 2, true);
        // That flow's rollback workflow puts r1 back in production; staging keeps r2.
        await rollback(s, 'production', 'r1');
        expect(await s.project.serving('staging')).toBe('r2');
        expect(s.runner.scripts).toBeGreaterThan(40);
      } finally {
        await teardown(s);
      }
    },
  );
});
