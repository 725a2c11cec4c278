/**
 * The release scripts of the generated workflows (src/ci/release-scripts.ts), run for real under
 * `bash -eo pipefail` as a runner runs them: the build script builds the notes example with this
 * repository's CLI (`npx airlock` is a shim to bin/airlock.js), the pack script tars what it
 * names, and the unpack script puts it into another Airlock home (a fresh runner), where the
 * store verifies every artifact of the release. A download holding another release is refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import {
  buildReleaseScript,
  PACK_RELEASE_SCRIPT,
  RELEASE_DIR,
  UNPACK_RELEASE_SCRIPT,
} from '../../src/ci/release-scripts.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { BIN, exampleProject, projectHome, type TestProject } from '../helpers/project.ts';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'airlock-release-scripts-'));
const projects: TestProject[] = [];
afterAll(async () => {
  for (const project of projects) await project.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

/** A `npx` that runs this repository's CLI for `npx airlock …` (nothing else is needed). */
function npxShim(): string {
  const bin = path.join(scratch, 'bin');
  mkdirSync(bin, { recursive: true });
  const file = path.join(bin, 'npx');
  writeFileSync(
    file,
    `#!/bin/bash\n[ "$1" = airlock ] || { echo "unexpected npx $1" >&2; exit 2; }\nshift\nexec "${process.execPath}" "${BIN}" "$@"\n`,
  );
  chmodSync(file, 0o755);
  return bin;
}

/** Runs one script as a workflow step; returns its exit code, output and the step outputs. */
function step(
  script: string,
  cwd: string,
  env: Record<string, string>,
): { code: number; output: string; outputs: Record<string, string> } {
  const outputFile = path.join(scratch, `output-${Math.random().toString(36).slice(2)}`);
  writeFileSync(outputFile, '');
  const run = spawnSync('bash', ['-eo', 'pipefail', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${npxShim()}${path.delimiter}${process.env.PATH}`,
      CI: '1',
      NO_COLOR: '1',
      GITHUB_OUTPUT: outputFile,
      ...env,
    },
  });
  const outputs: Record<string, string> = {};
  for (const line of readFileSync(outputFile, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) outputs[line.slice(0, at)] = line.slice(at + 1);
  }
  return { code: run.status ?? -1, output: `${run.stdout}${run.stderr}`, outputs };
}

it('builds, packs and unpacks a release into a fresh home, where every artifact verifies', async () => {
  const project = await exampleProject();
  projects.push(project);
  const builder = {
    RUNNER_TEMP: path.join(scratch, 'runner-1'),
    AIRLOCK_HOME: path.join(scratch, 'home-1'),
  };
  mkdirSync(builder.RUNNER_TEMP, { recursive: true });
  const build = step(buildReleaseScript('notes'), project.dir, builder);
  expect(build.code, build.output).toBe(0);
  expect(build.outputs).toMatchObject({ local: 'true', release: 'r1' });
  expect(build.outputs.paths).toContain('artifacts/objects');

  const pack = step(PACK_RELEASE_SCRIPT, project.dir, {
    ...builder,
    ARTIFACT_PATHS: build.outputs.paths as string,
  });
  expect(pack.code, pack.output).toBe(0);
  const packed = path.join(builder.RUNNER_TEMP, RELEASE_DIR);
  const listing = execFileSync('tar', ['-tf', path.join(packed, 'artifacts.tar')], {
    encoding: 'utf8',
  });
  expect(listing).toMatch(/artifacts\/manifests\/[0-9a-f]{64}\.json\.gz/);

  // Another runner: a fresh home, the downloaded folder in its RUNNER_TEMP.
  const deployer = {
    RUNNER_TEMP: path.join(scratch, 'runner-2'),
    AIRLOCK_HOME: path.join(scratch, 'home-2'),
  };
  mkdirSync(deployer.RUNNER_TEMP, { recursive: true });
  execFileSync('cp', ['-a', packed, path.join(deployer.RUNNER_TEMP, RELEASE_DIR)]);
  const wrong = step(UNPACK_RELEASE_SCRIPT, project.dir, {
    ...deployer,
    RELEASE_DIGEST: 'f'.repeat(64),
  });
  expect(wrong.code).toBe(1);
  expect(wrong.output).toContain('::error title=Wrong artifact::');

  const unpack = step(UNPACK_RELEASE_SCRIPT, project.dir, {
    ...deployer,
    RELEASE_DIGEST: build.outputs.digest as string,
  });
  expect(unpack.code, unpack.output).toBe(0);
  const release = JSON.parse(readFileSync(path.join(packed, 'release.json'), 'utf8')).release as {
    services: Record<string, { digest: string; migrationsDigest?: string }>;
  };
  const store = new ArtifactStore(
    path.join(projectHome(project.dir, { AIRLOCK_HOME: deployer.AIRLOCK_HOME }), 'artifacts'),
  );
  const digests = Object.values(release.services).flatMap((s) =>
    [s.digest, s.migrationsDigest].filter((d): d is string => Boolean(d)),
  );
  expect(digests.length).toBeGreaterThan(1);
  for (const digest of digests)
    await expect(store.verify(digest, { full: true })).resolves.toMatchObject({ digest });
}, 120_000);
