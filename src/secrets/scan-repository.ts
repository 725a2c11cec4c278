/**
 * What `airlock doctor` checks in the repository: plaintext `.env*` files that are tracked, and
 * secret-looking strings in tracked files (secretlint with its recommended preset over
 * `git ls-files`, through `secret-strings.ts`). Findings carry file, line and rule — never the
 * secret (secretlint's `maskSecrets`, and only rule ids and message ids are kept).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { git } from '../releases/git.ts';
import { findSecretStrings } from './secret-strings.ts';
import { isEncryptedDotenv } from './stores/encrypted-file-store.ts';

/** Files larger than this (bytes) are not scanned (bundles, lockfiles of another age). */
const MAX_SCANNED_BYTES = 1_000_000;
/** `.env` templates that hold names and placeholders, not values. */
const TEMPLATE = /\.(example|sample|template|dist)$/;

export interface RepositoryFinding {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based; 0 when it concerns the whole file. */
  line: number;
  /** `plaintext-env` or the secretlint rule id. */
  rule: string;
  /** Names the kind of finding (no value). */
  message: string;
}

/**
 * The tracked files of the repository holding `dir`, relative to its root, and the root.
 * Null when `dir` is not in a git work tree.
 */
export async function trackedFiles(dir: string): Promise<{ root: string; files: string[] } | null> {
  try {
    const root = await git(dir, ['rev-parse', '--show-toplevel']);
    const out = await git(root, ['ls-files', '-z']);
    return { root, files: out.split('\0').filter(Boolean) };
  } catch {
    return null;
  }
}

/** A tracked `.env`, `.env.production`, `config/.env.local` … (not `.env.example`). */
export function isDotenvFile(file: string): boolean {
  const base = path.basename(file);
  return (base === '.env' || base.startsWith('.env.')) && !TEMPLATE.test(base);
}

/**
 * The globs of `.secretlintignore` at the repository root (secretlint's own ignore file, one
 * glob per line, `#` comments): files matched are not scanned for secret-looking strings (test
 * fixtures with example URLs). A tracked plaintext `.env*` is reported whatever it says.
 */
export function ignoredGlobs(root: string): string[] {
  try {
    return readFileSync(path.join(root, '.secretlintignore'), 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => (l.endsWith('/') ? `${l}**` : l));
  } catch {
    return [];
  }
}

/**
 * Scans `files` (relative to `root`): tracked `.env*` files holding a plaintext value, and
 * secretlint's recommended rules over every text file up to 1 MB not matched by
 * `.secretlintignore`.
 */
export async function scanRepository(
  root: string,
  files: readonly string[],
): Promise<RepositoryFinding[]> {
  const ignored = ignoredGlobs(root);
  const findings: RepositoryFinding[] = [];
  for (const file of files) {
    const absolute = path.join(root, file);
    let content: string;
    try {
      const stat = statSync(absolute);
      if (!stat.isFile() || stat.size > MAX_SCANNED_BYTES) continue;
      const bytes = readFileSync(absolute);
      if (bytes.includes(0)) continue; // binary
      content = bytes.toString('utf8');
    } catch {
      continue; // deleted in the work tree, unreadable
    }
    if (isDotenvFile(file) && !isEncryptedDotenv(content))
      findings.push({
        file,
        line: 0,
        rule: 'plaintext-env',
        message: 'a plaintext .env file is committed',
      });
    if (ignored.some((glob) => path.matchesGlob(file, glob))) continue;
    for (const s of await findSecretStrings(absolute, content))
      findings.push({ file, line: s.line, rule: s.rule, message: s.kind });
  }
  return findings;
}
