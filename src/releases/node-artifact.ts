/**
 * Whether a Node artifact carries its own dependencies. A release runs from wherever it is
 * copied; Node resolves a bare import by walking up from the importing file to the nearest
 * `node_modules` that has the package (Node's "Loading from node_modules folders"), so an
 * artifact without its dependencies may still start where some folder above happens to hold
 * them, and fail anywhere else. For an artifact with a package.json at its root, every entry
 * of `dependencies` must therefore be found in the artifact's own `node_modules` (a symlink is
 * followed, and must stay inside the artifact, as pnpm's do). Yarn Plug'n'Play artifacts
 * (`.pnp.cjs`) resolve through their own map and are not checked here.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface NodeArtifactCheck {
  /** The artifact has a package.json at its root (otherwise nothing is checked). */
  packageJson: boolean;
  /** `dependencies` entries not found inside the artifact's node_modules, in package.json order. */
  missing: string[];
  /** Entries found, but through a link that leaves the artifact (name → where it points). */
  outside: Record<string, string>;
  /** Yarn Plug'n'Play: not checked. */
  pnp: boolean;
}

const within = (parent: string, child: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

/**
 * Checks `dir` (an artifact folder). Never throws for a missing or unreadable package.json:
 * that artifact is simply not a Node package (`packageJson: false`).
 */
export function checkNodeArtifact(dir: string): NodeArtifactCheck {
  const result: NodeArtifactCheck = { packageJson: false, missing: [], outside: {}, pnp: false };
  let pkg: { dependencies?: unknown };
  try {
    pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return result;
  }
  result.packageJson = true;
  if (existsSync(path.join(dir, '.pnp.cjs'))) {
    result.pnp = true;
    return result;
  }
  const deps =
    pkg.dependencies && typeof pkg.dependencies === 'object' ? Object.keys(pkg.dependencies) : [];
  if (deps.length === 0) return result;
  const root = realpathSync(dir);
  for (const name of deps) {
    const folder = path.join(dir, 'node_modules', ...name.split('/'));
    if (!existsSync(path.join(folder, 'package.json'))) {
      result.missing.push(name);
      continue;
    }
    const real = realpathSync(folder);
    if (!within(root, real)) result.outside[name] = real;
  }
  return result;
}
