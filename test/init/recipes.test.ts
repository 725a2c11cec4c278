/**
 * The builds `airlock init` writes for npm, Yarn 1, Yarn 4 and bun, run by the real tools
 * (installed from the npm registry once into the OS temp folder, reused by later runs) on a
 * small project with one production dependency (ms) and one devDependency (left-pad): run in a
 * copy without node_modules (as in Airlock's clean checkout), the release folder is moved to a
 * folder of its own and started there. It runs, and carries ms but not left-pad. pnpm's
 * recipe runs in node-service.test.ts.
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { detectProject } from '../../src/init/detect.ts';
import { renderInit } from '../../src/init/render.ts';

/** Package managers installed from the registry, shared by every run on this machine. */
const TOOLS = path.join(os.tmpdir(), 'airlock-test-package-managers');

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** `bin` of `spec` (e.g. yarn@1.22.22) installed under TOOLS, installing it the first time. */
function tool(spec: string, bin: string): string {
  const prefix = path.join(TOOLS, spec.replace('/', '+'));
  const file = path.join(prefix, 'node_modules', '.bin', bin);
  if (!existsSync(file)) {
    execFileSync(
      'npm',
      [
        'install',
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        '--prefix',
        prefix,
        spec,
      ],
      { stdio: 'pipe' },
    );
  }
  return file;
}

interface Case {
  name: string;
  /** The tool as `PATH` must find it, and its file. */
  command: string;
  file: () => string;
  packageManager?: string;
}

const CASES: Case[] = [
  { name: 'npm', command: 'npm', file: () => 'npm' },
  { name: 'Yarn 1', command: 'yarn', file: () => tool('yarn@1.22.22', 'yarn') },
  {
    name: 'Yarn 4',
    command: 'yarn',
    file: () => tool('@yarnpkg/cli-dist@4.18.1', 'yarn'),
    packageManager: 'yarn@4.18.1',
  },
  { name: 'bun', command: 'bun', file: () => tool('bun@1.4.5', 'bun') },
];

describe('the Node builds airlock init writes, run by the real package managers', () => {
  for (const c of CASES) {
    it(`${c.name}: a release folder that runs on its own, with production dependencies only`, {
      timeout: 180_000,
    }, () => {
      const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-recipe-'));
      dirs.push(root);
      const bin = path.join(root, 'bin');
      mkdirSync(bin);
      if (c.command !== 'npm') symlinkSync(c.file(), path.join(bin, c.command));
      const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, CI: '1' };
      const sh = (cwd: string, script: string) =>
        execFileSync('sh', ['-c', script], { cwd, env, stdio: 'pipe', encoding: 'utf8' });

      const project = path.join(root, 'project');
      mkdirSync(path.join(project, 'src'), { recursive: true });
      writeFileSync(
        path.join(project, 'package.json'),
        JSON.stringify({
          name: 'recipe-app',
          version: '1.0.0',
          type: 'module',
          ...(c.packageManager ? { packageManager: c.packageManager } : {}),
          scripts: {
            build: 'node build.mjs',
            start: 'node dist/index.js',
            // Needs a devDependency: the production install must not run it.
            prepare: 'node -e "require.resolve(\'left-pad\')"',
          },
          dependencies: { ms: '2.1.3' },
          devDependencies: { 'left-pad': '1.3.0' },
        }),
      );
      writeFileSync(
        path.join(project, 'build.mjs'),
        "import fs from 'node:fs';\nfs.rmSync('dist', { recursive: true, force: true });\nfs.cpSync('src', 'dist', { recursive: true });\n",
      );
      writeFileSync(
        path.join(project, 'src/index.js'),
        "import ms from 'ms';\nconsole.log(`ran ${ms(60000)}`);\n",
      );
      // The lockfile, written by the tool itself (Yarn 4 on CI refuses to write one unless told).
      sh(project, `YARN_ENABLE_IMMUTABLE_INSTALLS=false ${c.command} install`);

      const detection = detectProject(project, { probeVersion: () => null });
      const { yaml } = renderInit(detection, { ports: [5201, 5202] });
      const config = parseConfig(yaml, path.join(project, 'airlock.yaml'), 'airlock.yaml', {});
      const service = config.environments.staging?.services['recipe-app'];
      if (!service?.run) throw new Error(`no build or run in:\n${yaml}`);

      // Airlock builds in a clean checkout: the files without node_modules.
      const checkout = path.join(root, 'checkout');
      cpSync(project, checkout, {
        recursive: true,
        filter: (src) => !/node_modules|\.yarn[\\/](cache|install-state)|\.pnp\./.test(src),
      });
      sh(checkout, service.build.command);
      const release = path.join(root, 'release');
      cpSync(path.join(checkout, service.build.output), release, {
        recursive: true,
        verbatimSymlinks: true,
      });
      rmSync(checkout, { recursive: true, force: true });
      rmSync(project, { recursive: true, force: true });
      expect(sh(release, service.run).trim()).toBe('ran 1m');
      const modules = readdirSync(path.join(release, 'node_modules'));
      expect(modules).toContain('ms');
      expect(modules).not.toContain('left-pad');
    });
  }
});
