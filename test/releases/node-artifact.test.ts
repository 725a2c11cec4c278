/**
 * A Node artifact must carry its dependencies: the check on real folders (plain, scoped,
 * pnpm-style links inside the artifact, a link leaving it), and a real deployment through the
 * CLI whose artifact lacks a dependency the project's own node_modules has — refused before
 * the migration and the switch, naming the module and the fix — then deployed once the build
 * puts node_modules in the output.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkNodeArtifact } from '../../src/releases/node-artifact.ts';
import { BIN, type CliResult, stopRuntimeOf } from '../helpers/project.ts';
import { freePort } from '../providers/local/local-test-helpers.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) {
    await stopRuntimeOf(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-node-artifact-'));
  dirs.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const pkg = (name: string) => JSON.stringify({ name, version: '1.0.0', main: 'index.js' });

describe('checkNodeArtifact', () => {
  it('finds plain and scoped packages and pnpm-style links inside the artifact; reports the missing and a link that leaves it', () => {
    const outsideDir = folder({ 'node_modules/far/package.json': pkg('far') });
    const dir = folder({
      'package.json': JSON.stringify({
        dependencies: { plain: '1', '@scope/pkg': '1', linked: '1', absent: '1', far: '1' },
        devDependencies: { 'dev-only': '1' },
      }),
      'node_modules/plain/package.json': pkg('plain'),
      'node_modules/@scope/pkg/package.json': pkg('@scope/pkg'),
      'node_modules/.pnpm/linked@1.0.0/node_modules/linked/package.json': pkg('linked'),
    });
    symlinkSync('.pnpm/linked@1.0.0/node_modules/linked', path.join(dir, 'node_modules/linked'));
    symlinkSync(path.join(outsideDir, 'node_modules/far'), path.join(dir, 'node_modules/far'));
    const check = checkNodeArtifact(dir);
    expect(check).toMatchObject({ packageJson: true, missing: ['absent'], pnp: false });
    expect(Object.keys(check.outside)).toEqual(['far']);
  });

  it('checks nothing without a package.json, and leaves Plug’n’Play artifacts to their own map', () => {
    expect(checkNodeArtifact(folder({ 'server.js': '' }))).toMatchObject({
      packageJson: false,
      missing: [],
    });
    const pnp = folder({
      'package.json': JSON.stringify({ dependencies: { hono: '4' } }),
      '.pnp.cjs': '',
    });
    expect(checkNodeArtifact(pnp)).toMatchObject({ packageJson: true, pnp: true, missing: [] });
  });
});

function cli(dir: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd: dir,
        env: { ...process.env, AIRLOCK_FROM_SOURCE: '1', CI: '1', NO_COLOR: '1' },
        timeout: 120_000,
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

describe('a Node artifact without its dependencies', () => {
  it('is refused before the migration and the switch, naming the module and the fix; deployed once the build puts it in the output node_modules', async () => {
    const port = await freePort();
    const config = (build: string) => `project: shop
pipeline: [staging]
services:
  shop:
    build: { command: ${JSON.stringify(build)}, output: out }
    run: node server.js
    health: { path: /health }
    database: { engine: sqlite, migrations: migrations }
environments:
  staging:
    services:
      shop: { port: ${port} }
`;
    const dir = folder({
      'package.json': JSON.stringify({
        name: 'shop',
        type: 'module',
        dependencies: { greeting: '1.0.0' },
      }),
      // The project's own node_modules has the dependency: a release copy below the project
      // would find it by walking up, but the artifact does not carry it.
      'node_modules/greeting/package.json': JSON.stringify({
        name: 'greeting',
        version: '1.0.0',
        type: 'module',
        exports: './index.js',
      }),
      'node_modules/greeting/index.js': "export const hello = 'hello';\n",
      // The same package, committed, for the build that ships it.
      'vendor/greeting/package.json': JSON.stringify({
        name: 'greeting',
        version: '1.0.0',
        type: 'module',
        exports: './index.js',
      }),
      'vendor/greeting/index.js': "export const hello = 'hello';\n",
      'server.js': `import http from 'node:http';
import { hello } from 'greeting';
http.createServer((req, res) => res.end(hello)).listen(Number(process.env.PORT), '127.0.0.1');
`,
      'migrations/0001_create_orders.sql': 'CREATE TABLE orders (id INTEGER PRIMARY KEY);\n',
      '.gitignore': 'node_modules\nout\n.airlock\n',
      'airlock.yaml': config('rm -rf out && mkdir out && cp server.js package.json out/'),
    });
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: dir,
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 'Dev',
          GIT_AUTHOR_EMAIL: 'dev@airlock.demo',
          GIT_COMMITTER_NAME: 'Dev',
          GIT_COMMITTER_EMAIL: 'dev@airlock.demo',
        },
      });
    git('init', '-q', '-b', 'main');
    expect((await cli(dir, 'migrate', 'hash')).code).toBe(0);
    git('add', '-A');
    git('commit', '-q', '-m', 'shop');

    const refused = await cli(dir, 'deploy', 'staging', '--yes');
    expect(refused.code, refused.stdout).toBe(1);
    expect(refused.stdout).toContain('lacks a dependency its package.json lists: greeting');
    expect(refused.stdout).toContain(
      '→ Make services.shop.build install the production dependencies',
    );
    expect(refused.stdout).toContain('npm ci --omit=dev');
    expect(refused.stdout).toContain('docs/node-apps.md');
    const json = JSON.parse((await cli(dir, 'deploy', 'staging', '--yes', '--json')).stdout);
    expect(json.failedStep).toMatchObject({ name: 'verify', code: 'ARTIFACT_INCOMPLETE' });
    expect(json.failedStep.hint).toContain('pnpm deploy --prod');
    // Nothing happened in staging: the migration is still pending, nothing listens.
    const migrations = JSON.parse(
      (await cli(dir, 'migrate', 'status', 'staging', '--json')).stdout,
    );
    expect(migrations.services[0]).toMatchObject({
      applied: [],
      pending: ['0001_create_orders.sql'],
    });
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();

    writeFileSync(
      path.join(dir, 'airlock.yaml'),
      config(
        'rm -rf out && mkdir -p out/node_modules && cp server.js package.json out/ && cp -R vendor/greeting out/node_modules/',
      ),
    );
    git('commit', '-q', '-am', 'ship node_modules');
    const deployed = await cli(dir, 'deploy', 'staging', '--yes');
    expect(deployed.code, deployed.stderr + deployed.stdout).toBe(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('hello');
  });
});
