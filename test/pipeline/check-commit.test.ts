/**
 * A command check runs the suite of the release being checked: `airlock check staging` with r1
 * serving, while HEAD is a later commit and the working tree holds an uncommitted edit, runs
 * r1's executable script on r1's files with the working tree's node_modules, and leaves nothing
 * behind (no temporary checkout, no registered worktree).
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { deploy } from '../../src/pipeline/operations.ts';
import { projectTest } from '../helpers/fixtures.ts';

projectTest(
  "checks r1 with r1's suite and files while HEAD is later and the working tree is edited",
  async ({ project, onTestFinished }) => {
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'airlock-check-commit-'));
    onTestFinished(() => rmSync(scratch, { recursive: true, force: true }));
    const out = path.join(scratch, 'seen.txt');
    const tmp = path.join(scratch, 'tmp');
    mkdirSync(tmp);
    const file = (rel: string) => path.join(project.dir, rel);
    const suite = (label: string) =>
      `#!/bin/sh\necho "${label} $AIRLOCK_RELEASE $(cat e2e/marker.txt) $(cat node_modules/dep/VERSION)" >> "${out}"\n`;

    project.editConfig((doc) => {
      doc.setIn(
        ['services', 'notes', 'checks'],
        doc.createNode([
          { name: 'probe', type: 'command', run: './e2e/probe.sh', timeoutMs: 20000 },
        ]),
      );
    });
    writeFileSync(file('e2e/probe.sh'), suite('suite-r1'));
    chmodSync(file('e2e/probe.sh'), 0o755);
    writeFileSync(file('e2e/marker.txt'), 'files-r1\n');
    // Installed dependencies: ignored by git, borrowed by the checkout.
    mkdirSync(file('node_modules/dep'), { recursive: true });
    writeFileSync(file('node_modules/dep/VERSION'), 'dep-1\n');
    project.commitFiles({}, 'a probe suite');

    const { ctx } = await project.session();
    const staged = await deploy(ctx, 'staging', {});
    expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
    expect(readFileSync(out, 'utf8')).toBe('suite-r1 r1 files-r1 dep-1\n'); // in place: HEAD is r1
    rmSync(out);

    // HEAD moves on (another suite, other files), and the working tree has an edit on top.
    project.commitFiles(
      { 'e2e/probe.sh': suite('suite-r2'), 'e2e/marker.txt': 'files-r2\n' },
      'another probe',
    );
    writeFileSync(file('e2e/marker.txt'), 'work in progress\n');

    const checked = await project.cli(['check', 'staging', '--json'], { env: { TMPDIR: tmp } });
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ passed: true, serving: { notes: 'r1' } });
    expect(readFileSync(out, 'utf8')).toBe('suite-r1 r1 files-r1 dep-1\n');
    expect(readdirSync(tmp).filter((n) => n.startsWith('airlock-checkout-'))).toEqual([]);
    const worktrees = execFileSync('git', ['worktree', 'list'], {
      cwd: project.dir,
      encoding: 'utf8',
    });
    expect(worktrees.trim().split('\n')).toHaveLength(1);
  },
);

projectTest(
  '`ci run` runs ci.command in a git worktree of the commit (not the working tree) and removes it',
  async ({ project, onTestFinished }) => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'airlock-ci-commit-'));
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    // Passes only at the commit itself, asked of git inside the checkout, without the edit.
    project.editConfig((doc) => {
      doc.set('ci', {
        command:
          'test "$(git rev-parse HEAD)" = "$AIRLOCK_COMMIT" && test -z "$(git status --porcelain)" && grep -q committed note.txt',
      });
    });
    project.commitFiles({ 'note.txt': 'committed\n' }, 'ci command');
    writeFileSync(path.join(project.dir, 'note.txt'), 'work in progress\n');

    const ran = await project.cli(['ci', 'run', '--json'], { env: { TMPDIR: tmp } });
    expect(ran.code, ran.stdout + ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ ci: { status: 'passed' } });
    expect(readdirSync(tmp).filter((n) => n.startsWith('airlock-checkout-'))).toEqual([]);
    const worktrees = execFileSync('git', ['worktree', 'list'], {
      cwd: project.dir,
      encoding: 'utf8',
    });
    expect(worktrees.trim().split('\n')).toHaveLength(1);
  },
);
