/**
 * Airlock as a user gets it: the package `npm pack` makes is published to a local registry
 * (Verdaccio, a pinned devDependency, on a free 127.0.0.1 port with its own storage, taking
 * every other package from the registry npm is configured with), installed into fresh
 * projects with npm, pnpm and Yarn (both pinned devDependencies, nothing global), and run from
 * there: `airlock --version` with each, `airlock demo` and a short flow of a written
 * airlock.yaml (deploy staging, approve, promote production) with npm. The installed copy has
 * no sources, runs its bundle, and keeps its releases outside the project. The install is small:
 * the bundle holds every package's code (their licenses in dist/THIRD-PARTY-LICENSES.txt), so
 * npm installs only the few packages it loads by name, and a perf check, whose autocannon is
 * not installed, names the command that installs it.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type LocalRegistry,
  ROOT,
  run,
  startLocalRegistry,
  VERSION,
} from '../helpers/local-registry.ts';
import { type CliResult, DEVELOPER, REVIEWER } from '../helpers/project.ts';

/**
 * Files under the project's node_modules after installing Airlock alone: 380 measured with
 * npm (Airlock's own ~200 files, squawk and its platform binary, cli-table3, log-update and
 * theirs), against ~10 500 when every bundled package was installed too.
 */
const MAX_INSTALLED_FILES = 1000;

/** Every file under a folder, recursively. */
function countFiles(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    .length;
}

const PNPM = path.join(ROOT, 'node_modules/pnpm/bin/pnpm.mjs');
const YARN = path.join(ROOT, 'node_modules/@yarnpkg/cli-dist/bin/yarn.js');
/** pnpm's store, shared by every run on this machine (as in test/init). */
const PNPM_STORE = path.join(os.tmpdir(), 'airlock-test-pnpm-store');

let registry: LocalRegistry;
let dir = '';
let registryUrl = '';
const installed: string[] = [];

async function ok(result: Promise<CliResult>): Promise<CliResult> {
  const r = await result;
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

/** A fresh project folder with a package.json and nothing else. */
function freshProject(name: string): string {
  const project = path.join(dir, name);
  mkdirSync(project);
  writeFileSync(
    path.join(project, 'package.json'),
    `${JSON.stringify({ name, version: '1.0.0', private: true }, null, 2)}\n`,
  );
  installed.push(project);
  return project;
}

/** npm with the local registry (and a token for it) in its own user config. */
const npmrc = () => registry.npmrc;
const npm = (args: string[], cwd: string) =>
  run('npm', [...args, '--userconfig', npmrc(), '--no-audit', '--no-fund'], { cwd });

beforeAll(async () => {
  registry = await startLocalRegistry();
  dir = registry.dir;
  registryUrl = registry.url;
}, 240_000);

afterAll(async () => {
  for (const project of installed) {
    // The runtime the short flow started runs from the installed copy: stop it through it.
    await run('npx', ['--no-install', 'airlock', 'local', 'stop'], {
      cwd: project,
      env: { npm_config_userconfig: npmrc() },
    });
  }
  registry?.stop();
});

describe('airlock-deploy installed from a registry', () => {
  it('npm: the command runs its bundle, the demo passes, and a project deploys and promotes with its releases outside it', {
    timeout: 420_000,
  }, async () => {
    const project = freshProject('shop');
    await ok(npm(['install', '-D', 'airlock-deploy'], project));
    const pkg = path.join(project, 'node_modules', 'airlock-deploy');
    // What an installed copy has: the bundle, no TypeScript sources.
    expect(readdirSync(pkg).sort()).toEqual(
      ['README.md', 'bin', 'dist', 'docs', 'examples', 'package.json', 'schema'].sort(),
    );
    // Only what the bundle loads by name is installed beside it; the bundled packages'
    // licenses ship in dist/.
    const manifest = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      'cli-table3',
      'log-update',
      'squawk-cli',
    ]);
    const modules = readdirSync(path.join(project, 'node_modules'));
    for (const bundled of ['zod', 'pg', 'hono', 'commander', 'yaml', '@snaplet', '@faker-js']) {
      expect(modules).not.toContain(bundled);
    }
    const files = countFiles(path.join(project, 'node_modules'));
    expect(files, `${files} files installed`).toBeLessThan(MAX_INSTALLED_FILES);
    const notices = readFileSync(path.join(pkg, 'dist', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    expect(notices).toMatch(/\nzod@[\d.]+ \(MIT\)\n/);
    const npx = (args: string[], actor = DEVELOPER) =>
      run('npx', ['--no-install', 'airlock', ...args], {
        cwd: project,
        env: { AIRLOCK_ACTOR: actor, npm_config_userconfig: npmrc() },
      });
    expect((await ok(npx(['--version']))).stdout.trim()).toBe(VERSION);

    const demo = await ok(npx(['demo', '--json']));
    const story = JSON.parse(demo.stdout) as { runs: Array<{ status: string }> };
    expect(story.runs.map((r) => r.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'failed',
      'succeeded',
    ]);

    // A service of the project's own, in a git repository.
    const [staging, production] = [await freePort(), await freePort()];
    writeFileSync(
      path.join(project, 'server.js'),
      [
        "import http from 'node:http';",
        'http',
        '  .createServer((req, res) => {',
        "    res.setHeader('content-type', 'application/json');",
        '    res.end(JSON.stringify({ ok: true, release: process.env.AIRLOCK_RELEASE, cwd: process.cwd() }));',
        '  })',
        "  .listen(Number(process.env.PORT), '127.0.0.1');",
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(project, '.gitignore'), 'node_modules/\n');
    writeFileSync(
      path.join(project, 'airlock.yaml'),
      [
        'project: shop',
        'pipeline: [staging, production]',
        'services:',
        '  web:',
        '    build: { command: "mkdir -p out && cp server.js out/ && echo \'{\\"type\\":\\"module\\"}\' > out/package.json", output: out }',
        '    run: node server.js',
        '    health: { path: /health }',
        'environments:',
        `  staging: { services: { web: { port: ${staging} } } }`,
        '  production:',
        '    promotion: { approval: { required: 1 } }',
        `    services: { web: { port: ${production} } }`,
        '',
      ].join('\n'),
    );
    const git = (...args: string[]) =>
      ok(
        run('git', args, {
          cwd: project,
          env: {
            GIT_AUTHOR_NAME: 'Dev',
            GIT_AUTHOR_EMAIL: DEVELOPER,
            GIT_COMMITTER_NAME: 'Dev',
            GIT_COMMITTER_EMAIL: DEVELOPER,
          },
        }),
      );
    await git('init', '-q', '-b', 'main');
    await git('add', '-A');
    await git('commit', '-q', '-m', 'shop');

    await ok(npx(['deploy', 'staging']));
    const served = (await (await fetch(`http://127.0.0.1:${staging}/`)).json()) as {
      release: string;
      cwd: string;
    };
    expect(served.release).toBe('r1');
    // The release runs from Airlock's home, outside the project (and its node_modules).
    const home = (await ok(npx(['home', 'path']))).stdout.trim();
    expect(served.cwd.startsWith(`${home}${path.sep}`)).toBe(true);
    expect(path.relative(project, served.cwd).startsWith('..')).toBe(true);
    expect(readdirSync(project)).not.toContain('.airlock');

    await ok(npx(['approve', 'production'], REVIEWER));
    await ok(npx(['promote', 'production', '--yes']));
    const promoted = (await (await fetch(`http://127.0.0.1:${production}/`)).json()) as {
      release: string;
    };
    expect(promoted.release).toBe('r1');
    const status = await ok(npx(['status']));
    expect(status.stdout).toContain(`Airlock home: ${home}`);

    // Session commands keep the validated airlock.yaml (AIRLOCK_HOME/cache/config, private);
    // an edited file is validated in full again and its mistake named with its line.
    const cache = path.join(process.env.AIRLOCK_HOME ?? '', 'cache', 'config');
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    const entries = readdirSync(cache).map((f) => readFileSync(path.join(cache, f), 'utf8'));
    expect(entries.filter((e) => e.includes('"project":"shop"'))).toHaveLength(1);
    const yamlFile = path.join(project, 'airlock.yaml');
    const valid = readFileSync(yamlFile, 'utf8');
    writeFileSync(
      yamlFile,
      valid.replace('run: node server.js', 'run: node server.js\n    bogus: 1'),
    );
    const invalid = await npx(['status']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('airlock.yaml:7:5: error: services.web.bogus: unknown field');

    // A perf check without autocannon (not installed with Airlock): the check fails, naming
    // the command that installs it. The file is valid again afterwards, even when an
    // expectation fails, so that `airlock local stop` (afterAll) reads it and stops the runtime.
    try {
      writeFileSync(
        yamlFile,
        valid.replace(
          '    health: { path: /health }\n',
          '    health: { path: /health }\n    checks:\n      - { name: perf, type: perf, paths: [/], rounds: 3, durationMs: 200 }\n',
        ),
      );
      const perf = await npx(['check', 'staging']);
      expect(perf.code, `${perf.stdout}\n${perf.stderr}`).toBe(1);
      expect(`${perf.stdout}\n${perf.stderr}`).toContain(
        'perf checks send their load with autocannon, which is not installed with Airlock: install it in this project (`npm install -D autocannon@9.0.0`)',
      );
    } finally {
      writeFileSync(yamlFile, valid);
    }
    await ok(npx(['status']));
  });

  it('pnpm and Yarn: the installed command runs', { timeout: 300_000 }, async () => {
    const withPnpm = freshProject('with-pnpm');
    const pnpmEnv = {
      pnpm_config_store_dir: PNPM_STORE,
      pnpm_config_registry: registryUrl,
      pnpm_config_network_concurrency: '4',
      pnpm_config_fetch_retries: '5',
    };
    await ok(
      run(process.execPath, [PNPM, 'add', '-D', 'airlock-deploy'], { cwd: withPnpm, env: pnpmEnv }),
    );
    const pnpmVersion = await ok(
      run(process.execPath, [PNPM, 'exec', 'airlock', '--version'], {
        cwd: withPnpm,
        env: pnpmEnv,
      }),
    );
    // pnpm may first report that the dependencies are up to date: the version is the last line.
    expect(pnpmVersion.stdout.trim().split('\n').at(-1)).toBe(VERSION);

    const withYarn = freshProject('with-yarn');
    const yarnEnv = {
      YARN_NPM_REGISTRY_SERVER: registryUrl.replace(/\/$/, ''),
      YARN_UNSAFE_HTTP_WHITELIST: '127.0.0.1',
      // Per run: Yarn's cache keeps each package's tarball URL, which names this run's port.
      YARN_GLOBAL_FOLDER: path.join(dir, 'yarn-global'),
      YARN_ENABLE_IMMUTABLE_INSTALLS: 'false',
      YARN_ENABLE_TELEMETRY: '0',
      // Yarn holds back versions published in the last days ("quarantined"): ours is minutes old.
      YARN_NPM_MINIMAL_AGE_GATE: '0',
      // A few requests at a time, retried: the local registry fetches each tarball upstream first.
      YARN_NETWORK_CONCURRENCY: '4',
      YARN_HTTP_RETRY: '5',
      YARN_HTTP_TIMEOUT: '120000',
    };
    await ok(
      run(process.execPath, [YARN, 'add', '-D', 'airlock-deploy'], { cwd: withYarn, env: yarnEnv }),
    );
    const yarnVersion = await ok(
      run(process.execPath, [YARN, 'airlock', '--version'], { cwd: withYarn, env: yarnEnv }),
    );
    expect(yarnVersion.stdout.trim().split('\n').at(-1)).toBe(VERSION);
  });
});
