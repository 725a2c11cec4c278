/**
 * Airlock as a user gets it, for tests: the package `npm pack` makes (the bundle built into a
 * copy, the manifest as `prepack` strips it), published to a local npm registry (Verdaccio, a
 * pinned devDependency, on a free 127.0.0.1 port with its own storage and config in a temporary
 * folder, taking every other package from the registry npm is configured with). Start it once
 * per test file: packing and publishing take several seconds.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliResult } from './project.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERDACCIO = path.join(ROOT, 'node_modules/verdaccio/bin/verdaccio');
/** The version `npm pack` publishes (this checkout's package.json). */
export const VERSION = (
  JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Runs a program, resolving with its exit code and output (never rejecting). */
export function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...process.env, CI: '1', NO_COLOR: '1', ...options.env },
        timeout: options.timeoutMs ?? 180_000,
        maxBuffer: 64 * 1024 * 1024,
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

/** `run`, failing with its output unless it exits 0. */
export async function ok(result: Promise<CliResult>): Promise<CliResult> {
  const r = await result;
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/`. */
  url: string;
  /** A temporary folder for the caller's files, removed by `stop`. */
  dir: string;
  /** An npm user config naming the registry (and a token for it): `npm_config_userconfig`. */
  npmrc: string;
  /** Publishes another tarball (a FAKE platform CLI, say) to the registry. */
  publish(tarball: string): Promise<void>;
  stop(): void;
}

/**
 * Packs this checkout as `npm pack` does, starts Verdaccio and publishes the tarball.
 * `localOnly` names packages served only from this registry (never proxied upstream).
 * @throws Error when a step fails (with its output) or the registry does not answer in 30 s.
 */
export async function startLocalRegistry(localOnly: string[] = []): Promise<LocalRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-registry-'));
  // `files` selects what ships; the bundle is built into a copy (this checkout's dist/ serves
  // other tests meanwhile); `prepack` strips the manifest's `prepare`.
  const listed = await ok(
    run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT }),
  );
  const stage = path.join(dir, 'package');
  for (const { path: file } of (
    JSON.parse(listed.stdout.slice(listed.stdout.indexOf('['))) as Array<{
      files: Array<{ path: string }>;
    }>
  )[0]?.files ?? []) {
    if (file.startsWith('dist/')) continue;
    mkdirSync(path.dirname(path.join(stage, file)), { recursive: true });
    cpSync(path.join(ROOT, file), path.join(stage, file));
  }
  await ok(
    run(
      process.execPath,
      [path.join(ROOT, 'scripts/bundle.ts'), '--out', path.join(stage, 'dist')],
      { cwd: ROOT },
    ),
  );
  await ok(
    run(process.execPath, [path.join(ROOT, 'scripts/pack-manifest.ts'), 'strip', stage], {
      cwd: ROOT,
    }),
  );
  const packed = await ok(
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: stage }),
  );
  const tarball = path.join(
    dir,
    (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>)[0]
      ?.filename as string,
  );

  const upstream = (
    await ok(run('npm', ['config', 'get', 'registry'], { cwd: dir }))
  ).stdout.trim();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = path.join(dir, 'verdaccio.yaml');
  writeFileSync(
    config,
    [
      `storage: ${path.join(dir, 'registry-storage')}`,
      `auth: { htpasswd: { file: ${path.join(dir, 'htpasswd')}, max_users: 10 } }`,
      `uplinks: { upstream: { url: ${JSON.stringify(upstream)}, timeout: 60s, max_fails: 10 } }`,
      'packages:',
      ...['airlock-deploy', ...localOnly].map(
        (name) => `  '${name}': { access: $all, publish: $authenticated }`,
      ),
      "  '**': { access: $all, publish: $authenticated, proxy: upstream }",
      'log: { type: stdout, format: json, level: error }',
      '',
    ].join('\n'),
  );
  const registry: ChildProcess = spawn(
    process.execPath,
    [VERDACCIO, '--config', config, '--listen', `127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  const stop = () => {
    registry.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const up = await fetch(`${url}-/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error('the local registry did not start in 30 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    // `npm adduser` as its REST call: the registry answers with a token for publishing.
    const user = await fetch(`${url}-/user/org.couchdb.user:airlock-test`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'airlock-test', password: 'airlock-test-password' }),
    });
    const { token } = (await user.json()) as { token: string };
    const npmrc = path.join(dir, '.npmrc');
    writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
    const publish = async (file: string) => {
      await ok(
        run('npm', ['publish', file, '--userconfig', npmrc, '--no-audit', '--no-fund'], {
          cwd: dir,
        }),
      );
    };
    await publish(tarball);
    return { url, dir, npmrc, publish, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * Publishes a FAKE platform CLI as an npm package to the local registry, so that a workflow's
 * own install step (`npm ci` of a lockfile naming it, `npm install --global <name>@<version>`)
 * puts it where the real one would go. Each bin is a shell script that runs the fake (a
 * TypeScript file of this checkout) with the `node` on PATH. Register `name` as
 * local-only when starting the registry, so the real package is never proxied.
 * @throws Error when `npm publish` fails (with its output).
 */
export async function publishFakeCli(
  registry: LocalRegistry,
  pkg: { name: string; version: string; bins: Record<string, string> },
): Promise<void> {
  const dir = path.join(registry.dir, 'fake-packages', pkg.name.replace('/', '+'));
  mkdirSync(dir, { recursive: true });
  const bin: Record<string, string> = {};
  for (const [name, script] of Object.entries(pkg.bins)) {
    bin[name] = `bin/${name}`;
    mkdirSync(path.join(dir, 'bin'), { recursive: true });
    writeFileSync(
      path.join(dir, 'bin', name),
      `#!/bin/sh\n# FAKE ${name} for Airlock tests, NOT the real CLI: ${path.relative(ROOT, script)}\nexec node ${JSON.stringify(script)} "$@"\n`,
      { mode: 0o755 },
    );
  }
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, description: 'FAKE for Airlock tests', bin }, null, 2)}\n`,
  );
  await registry.publish(dir);
}
