/**
 * A content digest of a folder: sha256 over a sorted listing of every entry (kind, executable
 * bit, relative path, and the sha256 of the file's bytes or the symlink's target). Two folders
 * with the same digest have the same files with the same bytes, wherever and whenever they were
 * made (the idea of Nix's NAR hash and OCI layer digests).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

export interface TreeDigest {
  /** sha256, 64 lowercase hex chars. */
  digest: string;
  /** Total size of regular files (bytes). */
  bytes: number;
  /** Number of regular files. */
  files: number;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Digests a folder. Order-independent of the file system; sensitive to every byte, path,
 * symlink target and executable bit.
 * @throws Error (ENOENT) when `dir` does not exist.
 */
export async function digestTree(dir: string): Promise<TreeDigest> {
  const lines: string[] = [];
  let bytes = 0;
  let files = 0;
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (entries.length === 0 && rel) lines.push(`d ${rel}`);
    for (const entry of entries) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const full = path.join(dir, relPath);
      if (entry.isSymbolicLink()) {
        lines.push(`l ${relPath}\0${await readlink(full)}`);
      } else if (entry.isDirectory()) {
        await walk(relPath);
      } else if (entry.isFile()) {
        const stat = await lstat(full);
        const exec = stat.mode & 0o111 ? 'x' : '-';
        lines.push(`f${exec} ${relPath}\0${await hashFile(full)}`);
        bytes += stat.size;
        files += 1;
      }
    }
  }
  await walk('');
  const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
  return { digest, bytes, files };
}
