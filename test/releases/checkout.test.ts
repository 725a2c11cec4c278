/**
 * `withCommitCheckout`: the files of exactly one commit (not the working tree's, not HEAD's),
 * written by git with their executable bits, symlinks and `.gitattributes` conversions, the
 * working tree's node_modules linked in, and nothing left behind in the repository's worktree
 * list or in the temporary folder however the callback ends.
 */
import { execFileSync } from 'node:child_process';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { withCommitCheckout } from '../../src/releases/checkout.ts';
import { context } from '../checks/test-server.ts';

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Dev',
  GIT_AUTHOR_EMAIL: 'dev@airlock.test',
  GIT_COMMITTER_NAME: 'Dev',
  GIT_COMMITTER_EMAIL: 'dev@airlock.test',
};

let root: string;
let repo: string;
/** The project folder, below the repository's top folder. */
let app: string;
/** The temporary folder checkouts go to (TMPDIR for this test file's process). */
let tmp: string;
let r1: string;
let r2: string;
const previousTmpdir = process.env.TMPDIR;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: repo, env: ENV, encoding: 'utf8' }).trim();
}

function write(rel: string, content: string, mode = 0o644): void {
  const file = path.join(repo, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode });
}

/** Runs a program in `dir` and returns its output. */
function run(dir: string, command: string, args: string[] = []): string {
  return execFileSync(command, args, { cwd: dir, encoding: 'utf8' }).trim();
}

function checkoutsLeft(): string[] {
  return readdirSync(tmp).filter((n) => n.startsWith('airlock-checkout-'));
}

function expectNothingLeft(): void {
  expect(checkoutsLeft()).toEqual([]);
  expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  // The user's index and working tree are as they were: one uncommitted edit, nothing staged.
  expect(git('status', '--porcelain')).toBe('M app/data.txt');
}

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'airlock-checkout-test-'));
  repo = path.join(root, 'repo');
  app = path.join(repo, 'app');
  tmp = path.join(root, 'tmp');
  mkdirSync(tmp);
  mkdirSync(repo);
  git('init', '-q', '-b', 'main');
  // r1: a suite run as an executable script, through a symlink, with CRLF text by attribute.
  write('.gitattributes', '*.crlf text eol=crlf\n');
  write('app/.gitignore', 'node_modules/\n');
  write('app/data.txt', 'r1\n');
  write('app/lines.crlf', 'a\r\nb\r\n');
  write(
    'app/e2e/suite.sh',
    '#!/bin/sh\necho "suite r1 data=$(cat data.txt) dep=$(cat node_modules/dep/VERSION)"\n',
    0o755,
  );
  symlinkIn('app/run-suite', 'e2e/suite.sh');
  git('add', '-A');
  git('commit', '-q', '-m', 'r1');
  r1 = git('rev-parse', 'HEAD');
  // r2 (HEAD): another suite and data, the script no longer executable, no symlink.
  write('app/data.txt', 'r2\n');
  write('app/e2e/suite.sh', '#!/bin/sh\necho "suite r2"\n');
  git('update-index', '--chmod=-x', 'app/e2e/suite.sh');
  git('rm', '-q', 'app/run-suite');
  git('add', '-A');
  git('commit', '-q', '-m', 'r2');
  r2 = git('rev-parse', 'HEAD');
  // The working tree: an uncommitted edit, and dependencies installed (ignored by git).
  write('app/data.txt', 'work in progress\n');
  write('app/node_modules/dep/VERSION', 'dep 1.0\n');
  process.env.TMPDIR = tmp;
});

afterAll(() => {
  if (previousTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmpdir;
  rmSync(root, { recursive: true, force: true });
});

function symlinkIn(rel: string, target: string): void {
  execFileSync('ln', ['-s', target, path.join(repo, rel)]);
}

describe('withCommitCheckout', () => {
  it("gives the commit's files with their executable bits, symlinks and line endings, and the working tree's node_modules", async () => {
    const seen = await withCommitCheckout(
      app,
      r1,
      async (dir) => {
        expect(realpathSync(dir).startsWith(realpathSync(tmp))).toBe(true);
        expect(path.basename(dir)).toBe('app');
        expect(lstatSync(path.join(dir, 'run-suite')).isSymbolicLink()).toBe(true);
        expect(readlinkSync(path.join(dir, 'run-suite'))).toBe('e2e/suite.sh');
        expect(statSync(path.join(dir, 'e2e/suite.sh')).mode & 0o111).toBe(0o111);
        expect(readFileSync(path.join(dir, 'lines.crlf'), 'utf8')).toBe('a\r\nb\r\n');
        expect(lstatSync(path.join(dir, 'node_modules')).isSymbolicLink()).toBe(true);
        // Not a worktree: nothing registered, no .git for a suite to find.
        expect(readdirSync(path.dirname(dir))).toEqual(['.gitattributes', 'app']);
        return run(dir, './run-suite');
      },
      { linkNodeModules: ['.'] },
    );
    expect(seen).toBe('suite r1 data=r1 dep=dep 1.0');
    expectNothingLeft();
  });

  it('runs in place when the working tree is that commit unchanged, in a checkout otherwise', async () => {
    // HEAD with an uncommitted edit: HEAD's files, not the edit.
    const headFiles = await withCommitCheckout(app, r2, async (dir) => {
      expect(dir).not.toBe(app);
      return readFileSync(path.join(dir, 'data.txt'), 'utf8');
    });
    expect(headFiles).toBe('r2\n');
    expectNothingLeft();
    // Clean: the project folder itself.
    const edit = readFileSync(path.join(app, 'data.txt'));
    git('checkout', '-q', '--', 'app/data.txt');
    try {
      expect(await withCommitCheckout(app, r2, async (dir) => dir)).toBe(app);
      // A build asks for a fresh one anyway.
      const fresh = await withCommitCheckout(app, r2, async (dir) => dir, { fresh: true });
      expect(fresh).not.toBe(app);
    } finally {
      writeFileSync(path.join(app, 'data.txt'), edit);
    }
    expectNothingLeft();
  });

  it('cleans up after a failing callback and after a suite killed at its timeout', async () => {
    await expect(
      withCommitCheckout(app, r1, async () => {
        expect(checkoutsLeft()).toHaveLength(1);
        throw new Error('suite crashed');
      }),
    ).rejects.toThrow('suite crashed');
    expectNothingLeft();

    const killed = await withCommitCheckout(app, r1, (dir) =>
      runCommandCheck(
        {
          name: 'e2e',
          type: 'command',
          run: 'echo started > started.txt; sleep 30',
          timeoutMs: 300,
        },
        context('http://127.0.0.1:9', { serviceRoot: dir }),
      ),
    );
    expect(killed).toMatchObject({ status: 'failed', details: { timedOut: true } });
    expectNothingLeft();
  });

  it('makes a detached worktree when asked (builds and CI may ask git about the commit), and removes it', async () => {
    const head = await withCommitCheckout(
      app,
      r1,
      async (dir) => run(dir, 'git', ['rev-parse', 'HEAD']),
      {
        fresh: true,
        worktree: true,
      },
    );
    expect(head).toBe(r1);
    expectNothingLeft();
  });

  it('refuses a folder outside any repository by name', async () => {
    const outside = mkdtempSync(path.join(tmp, 'plain-'));
    try {
      await expect(withCommitCheckout(outside, r1, async () => 0)).rejects.toMatchObject({
        code: 'NOT_A_GIT_REPO',
      });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
