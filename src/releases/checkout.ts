/**
 * A clean checkout of one commit, for as long as a callback runs, in a temporary folder removed
 * afterwards. Used to build a release, to run `ci.command`, and to run the E2E suite of the
 * release being checked (not whatever the working tree holds).
 *
 * Two kinds, both written by git from the commit itself (its `.gitattributes` filters and line
 * endings, symlinks, executable bits, the repository's sparse-checkout patterns; a submodule is
 * an empty folder):
 * - a plain folder of the commit's files (default): one `git read-tree -u` with a temporary
 *   index, registered nowhere, so removing the folder is the whole cleanup. No `.git` inside
 *   (git run in it does not see this repository) and no `post-checkout` hook runs.
 * - a detached git worktree (`worktree: true`), for builds and CI, whose commands may ask git
 *   about the commit (`git describe`, `git rev-parse HEAD`); registered while it exists.
 */
import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { git, headAndPrefix, uncommittedChanges } from './git.ts';

export interface CheckoutOptions {
  /**
   * Link the working tree's `node_modules` folders (project root and `linkFrom` folders) into
   * the checkout, so scripts that need dependencies run without an install.
   */
  linkNodeModules?: string[];
  /** Always make a fresh checkout, even when the working tree is that commit (builds). */
  fresh?: boolean;
  /** Make a detached git worktree instead of a plain folder of the commit's files. */
  worktree?: boolean;
}

/**
 * Runs `fn` with the project folder as it is at `commit`. When the working tree is already
 * exactly that commit with no changes (and not `fresh`), it is used in place. The temporary
 * folder (`<os.tmpdir()>/airlock-checkout-*`) is removed however `fn` ends; a worktree is
 * unregistered too.
 *
 * Git processes: one to read HEAD, a second for uncommitted changes only when HEAD is `commit`,
 * then one to write the files (a worktree: one more to remove it).
 * @param projectDir absolute folder holding airlock.yaml (may be below the repository root).
 * @param commit full SHA.
 * @throws UserError `NOT_A_GIT_REPO`; Error with git's message when git cannot write the commit.
 */
export async function withCommitCheckout<T>(
  projectDir: string,
  commit: string,
  fn: (dir: string) => Promise<T>,
  options: CheckoutOptions = {},
): Promise<T> {
  const { head, prefix } = await headAndPrefix(projectDir);
  if (!options.fresh && head === commit && (await uncommittedChanges(projectDir)).length === 0) {
    return fn(projectDir);
  }
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'airlock-checkout-'));
  const checkout = path.join(workdir, 'src');
  try {
    if (options.worktree) {
      await git(projectDir, ['worktree', 'add', '--detach', '--quiet', checkout, commit]);
    } else {
      mkdirSync(checkout);
      // The index lives beside the files, so the user's index is neither read nor locked.
      await git(
        projectDir,
        [
          '-c',
          'core.fsmonitor=false',
          `--work-tree=${checkout}`,
          'read-tree',
          '--reset',
          '-u',
          commit,
        ],
        { GIT_INDEX_FILE: path.join(workdir, 'index') },
      );
    }
    const dir = path.join(checkout, prefix);
    for (const rel of options.linkNodeModules ?? []) {
      const from = path.join(projectDir, rel, 'node_modules');
      const to = path.join(dir, rel, 'node_modules');
      if (existsSync(from) && !existsSync(to) && existsSync(path.dirname(to)))
        symlinkSync(from, to, 'dir');
    }
    return await fn(dir);
  } finally {
    if (options.worktree) await removeWorktree(projectDir, checkout);
    await rm(workdir, { recursive: true, force: true });
  }
}

/** Unregisters and deletes a worktree; when git cannot remove it, deletes it and prunes. */
async function removeWorktree(projectDir: string, checkout: string): Promise<void> {
  try {
    await git(projectDir, ['worktree', 'remove', '--force', checkout]);
  } catch {
    await rm(checkout, { recursive: true, force: true });
    await git(projectDir, ['worktree', 'prune']).catch(() => {});
  }
}
