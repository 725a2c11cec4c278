/**
 * Content-addressed storage of build outputs under `<home>/artifacts/sha256/<digest>/`.
 * An artifact is stored once, never modified, and verified (re-digested) whenever it is used:
 * a promotion deploys the identical bytes that passed the previous environment (Heroku
 * Pipelines: promote copies the slug; OCI: content addressing).
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { ProviderError, UserError } from '../errors.ts';
import { artifactDigestLabel } from './digest-label.ts';
import { digestTree, type TreeDigest } from './tree-digest.ts';

export class ArtifactStore {
  /** Absolute path of the store's root (`<home>/artifacts`). */
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** Where an artifact lives. */
  pathOf(digest: string): string {
    return path.join(this.root, 'sha256', digest);
  }

  has(digest: string): boolean {
    return existsSync(this.pathOf(digest));
  }

  /**
   * Stores a folder (no-op when the same content is already stored).
   * @returns its digest, size (bytes) and file count.
   */
  async put(source: string): Promise<TreeDigest> {
    const tree = await digestTree(source);
    const target = this.pathOf(tree.digest);
    if (existsSync(target)) return tree;
    const staging = path.join(this.root, 'tmp', `${tree.digest}-${process.pid}-${Date.now()}`);
    await mkdir(path.dirname(staging), { recursive: true });
    await cp(source, staging, { recursive: true, verbatimSymlinks: true });
    const copied = await digestTree(staging);
    if (copied.digest !== tree.digest) {
      await rm(staging, { recursive: true, force: true });
      throw new UserError(
        'DIGEST_MISMATCH',
        `the build output in ${source} changed while it was being stored.`,
        {
          hint: 'Make sure nothing writes into the output folder after the build command exits, then build again.',
        },
      );
    }
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await rename(staging, target);
    } catch (error) {
      // Another process stored the same content first; theirs is as good as ours.
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(target)) throw error;
    }
    return tree;
  }

  /**
   * Re-digests a stored artifact.
   * @throws ProviderError `DIGEST_MISMATCH` when it is missing or its bytes changed.
   */
  async verify(digest: string): Promise<TreeDigest> {
    const stored = this.pathOf(digest);
    if (!existsSync(stored)) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${artifactDigestLabel(digest)} is missing from ${this.root}.`,
        {
          hint: 'The release cannot be deployed from this machine. Build it again with `airlock build --commit <sha>`.',
          details: { digest },
        },
      );
    }
    const tree = await digestTree(stored);
    if (tree.digest !== digest) {
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `${artifactDigestLabel(digest)} was modified on disk (it now digests to sha256:${tree.digest.slice(0, 12)}).`,
        {
          hint: `Delete ${stored} and build the release again; never edit files under <home>/artifacts.`,
          details: { expected: digest, actual: tree.digest },
        },
      );
    }
    return tree;
  }

  /**
   * Copies a verified artifact into `dest` (replacing it) and verifies the copy, so what runs is
   * exactly what was built. @throws ProviderError `DIGEST_MISMATCH`.
   */
  async materialize(digest: string, dest: string): Promise<void> {
    await this.verify(digest);
    if (existsSync(dest)) {
      const current = await digestTree(dest).catch(() => undefined);
      if (current?.digest === digest) return;
      await rm(dest, { recursive: true, force: true });
    }
    const staging = `${dest}.tmp-${process.pid}-${Date.now()}`;
    await mkdir(path.dirname(dest), { recursive: true });
    await cp(this.pathOf(digest), staging, { recursive: true, verbatimSymlinks: true });
    const copied = await digestTree(staging);
    if (copied.digest !== digest) {
      await rm(staging, { recursive: true, force: true });
      throw new ProviderError(
        'DIGEST_MISMATCH',
        `the copy of sha256:${digest.slice(0, 12)} in ${dest} does not match.`,
        {
          hint: 'Check free disk space and retry.',
        },
      );
    }
    await rename(staging, dest);
  }
}
