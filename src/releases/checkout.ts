/**
 * A clean checkout of one commit, for as long as a callback runs: a detached git worktree in a
 * temporary folder, removed afterwards. Used to build a release and to run the E2E suite of the
 * release being checked (not whatever the working tree holds).
 */
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { git, repoRoot, uncommittedChanges } from './git.ts';

export interface CheckoutOptions {
  /**
   * Link the working tree's `node_modules` folders (project root and `linkFrom` folders) into
   * the checkout, so scripts that need dependencies run without an install.
   */
  linkNodeModules?: string[];
  /** Always make a fresh worktree, even when the working tree is that commit (builds). */
  fresh?: boolean;
}

/**
 * Runs `fn` with the project folder as it is at `commit`. When the working tree is already
 * exactly that commit with no changes, it is used in place.
 * @param projectDir absolute folder holding airlock.yaml (may be below the repository root).
 */
export async function withCommitCheckout<T>(
  projectDir: string,
  commit: string,
  fn: (dir: string) => Promise<T>,
  options: CheckoutOptions = {},
): Promise<T> {
  const head = await git(projectDir, ['rev-parse', 'HEAD']).catch(() => '');
  if (!options.fresh && head === commit && (await uncommittedChanges(projectDir)).length === 0) {
    return fn(projectDir);
  }
  const top = await repoRoot(projectDir);
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'airlock-checkout-'));
  const checkout = path.join(workdir, 'src');
  await git(top, ['worktree', 'add', '--detach', '--quiet', checkout, commit]);
  try {
    const dir = path.join(checkout, path.relative(top, projectDir));
    for (const rel of options.linkNodeModules ?? []) {
      const from = path.join(projectDir, rel, 'node_modules');
      const to = path.join(dir, rel, 'node_modules');
      if (existsSync(from) && !existsSync(to) && existsSync(path.dirname(to)))
        symlinkSync(from, to, 'dir');
    }
    return await fn(dir);
  } finally {
    await git(top, ['worktree', 'remove', '--force', checkout]).catch(() => {});
    await rm(workdir, { recursive: true, force: true });
    await git(top, ['worktree', 'prune']).catch(() => {});
  }
}
