/**
 * Output piped into a reader that stops early (`airlock build | head -1`): the command stops
 * writing to the closed stream and carries on to its end, quietly. Here the end is a release
 * recorded in the state store, as for a deployment it is the lock released and the audit written.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import { BIN, type TestProject } from '../helpers/project.ts';

/**
 * Commits a build command that waits until the file it returns exists, then runs `build`: the
 * test creates the file once the reader is gone, so everything the build prints goes to a
 * closed pipe.
 */
function buildWaitingForReader(project: TestProject, build = 'node scripts/build.mjs'): string {
  // Inside .git: not a change to the working tree, and removed with the project.
  const gone = path.join(project.dir, '.git', 'airlock-test-reader-gone');
  project.editConfig((doc) =>
    doc.setIn(
      ['services', 'notes', 'build', 'command'],
      `while [ ! -e '${gone}' ]; do sleep 0.05; done; ${build}`,
    ),
  );
  project.commitFiles({}, 'A build that waits for the reader to leave');
  return gone;
}

/**
 * Runs `airlock <args>` in the project with `closed` read until its first output and then
 * closed, as `head -1` does; then creates `gone`.
 */
async function runWithReaderGone(
  project: TestProject,
  args: string[],
  closed: 'stdout' | 'stderr',
  gone: string,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: project.dir,
    env: { ...process.env, AIRLOCK_ACTOR: '', CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const read = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    const stream = child[name];
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      read[name] += chunk;
      if (name !== closed) return;
      stream.destroy();
      writeFileSync(gone, '');
    });
  }
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  return { code, signal, ...read };
}

describe('output closed by its reader', () => {
  projectTest(
    'stdout closed early: the command finishes its work, exits 0 and prints no error',
    async ({ project }) => {
      const gone = buildWaitingForReader(project);
      const run = await runWithReaderGone(project, ['build'], 'stdout', gone);
      expect(run).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(run.stdout).toMatch(/^▸ Building notes/);
      expect(run.stdout).not.toContain('Built release');
      const again = JSON.parse((await project.cli(['build', '--json'])).stdout);
      expect(again, 'the release was recorded by the run whose reader left').toMatchObject({
        reused: true,
        release: { id: 'r1' },
      });
    },
  );

  projectTest(
    'stderr closed early: a failing command still ends with its exit code',
    async ({ project }) => {
      const gone = buildWaitingForReader(project, 'echo "type error in x.ts" >&2; exit 3');
      // Uncommitted changes: the build warns on stderr first, and its error goes there later.
      writeFileSync(path.join(project.dir, 'src/extra.js'), 'export const extra = 1;\n');
      const run = await runWithReaderGone(project, ['build'], 'stderr', gone);
      expect(run.stderr).toMatch(/^⚠ UNCOMMITTED CHANGES/);
      expect(run.stderr).not.toContain('exited 3');
      expect(run, 'the failed build exits 1').toMatchObject({ code: 1, signal: null });
    },
  );
});
