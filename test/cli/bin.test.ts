/**
 * `bin/airlock.js`, the command's entry: which code it runs (the bundle whenever it is an
 * installed copy, whatever the file times say; the sources only in a checkout where they are
 * newer) and the one line an older Node gets.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/project.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A package folder at `rel` (under a temp folder) with this bin/airlock.js, a dist/airlock.mjs
 * that prints `bundle` and a src/cli/main.ts that prints `sources`, the sources newer.
 */
function layout(rel: string, options: { git: boolean }): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-bin-'));
  dirs.push(root);
  const pkg = path.join(root, rel);
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'dist'));
  mkdirSync(path.join(pkg, 'src', 'cli'), { recursive: true });
  copyFileSync(BIN, path.join(pkg, 'bin', 'airlock.js'));
  writeFileSync(path.join(pkg, 'package.json'), '{ "type": "module" }\n');
  const bundle = path.join(pkg, 'dist', 'airlock.mjs');
  writeFileSync(bundle, "export async function main() { console.log('bundle'); }\n");
  writeFileSync(
    path.join(pkg, 'src', 'cli', 'main.ts'),
    "export async function main(): Promise<void> { console.log('sources'); }\n",
  );
  // What a package manager may do: the bundle older than the sources.
  utimesSync(bundle, new Date(2020, 0, 1), new Date(2020, 0, 1));
  if (options.git) mkdirSync(path.join(pkg, '.git'));
  return path.join(pkg, 'bin', 'airlock.js');
}

const runs = (bin: string, env: NodeJS.ProcessEnv = {}) =>
  execFileSync(process.execPath, [bin], {
    encoding: 'utf8',
    env: { ...process.env, AIRLOCK_FROM_SOURCE: '', ...env },
  }).trim();

describe('bin/airlock.js', () => {
  it('runs the bundle when installed, even when the file times favour the sources', () => {
    expect(runs(layout('app/node_modules/airlock-deploy', { git: true }))).toBe('bundle');
    expect(
      runs(
        layout('app/node_modules/.pnpm/airlock-deploy@1/node_modules/airlock-deploy', {
          git: false,
        }),
      ),
    ).toBe('bundle');
    // Not under node_modules, but no git checkout around the sources: an installed copy too.
    expect(runs(layout('vendor/airlock', { git: false }))).toBe('bundle');
  });

  it('in a checkout, runs the sources while they are newer than the bundle, or when asked', () => {
    const bin = layout('airlock', { git: true });
    expect(runs(bin)).toBe('sources');
    expect(runs(bin, { AIRLOCK_FROM_SOURCE: '1' })).toBe('sources');
    // Asked for the bundle (the bench, right after bundling): no freshness check.
    expect(runs(bin, { AIRLOCK_FROM_SOURCE: '0' })).toBe('bundle');
    // The bundle newer than every source file, nested folders included: the bundle.
    mkdirSync(path.join(path.dirname(bin), '..', 'src', 'a', 'b'), { recursive: true });
    writeFileSync(path.join(path.dirname(bin), '..', 'src', 'a', 'b', 'x.ts'), '\n');
    const bundle = path.join(path.dirname(bin), '..', 'dist', 'airlock.mjs');
    utimesSync(bundle, new Date(), new Date(Date.now() + 60_000));
    expect(runs(bin)).toBe('bundle');
    // A nested source file edited after it: the sources.
    utimesSync(
      path.join(path.dirname(bin), '..', 'src', 'a', 'b', 'x.ts'),
      new Date(),
      new Date(Date.now() + 120_000),
    );
    expect(runs(bin)).toBe('sources');
  });

  it('on a Node older than 24, prints one line saying what is needed, with no stack', () => {
    // The machine's other Node when it is older (CI has one), else this one told it is 22.
    const system = spawnSync('/usr/bin/node', ['-p', 'process.versions.node'], {
      encoding: 'utf8',
    });
    const old = system.status === 0 && Number(system.stdout.split('.')[0]) < 24;
    const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-bin-'));
    dirs.push(root);
    const pretend = path.join(root, 'node-22.mjs');
    writeFileSync(
      pretend,
      "Object.defineProperty(process.versions, 'node', { value: '22.9.0' });\n",
    );
    const result = old
      ? spawnSync('/usr/bin/node', [BIN, '--version'], { encoding: 'utf8' })
      : spawnSync(process.execPath, ['--import', pretend, BIN, '--version'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^airlock needs Node\.js 24 or newer; this is Node\.js \d+\.\d+\.\d+\. Install Node 24 /,
    );
  });
});
