/**
 * Airlock's home for one project: the folder outside the project tree that holds what Airlock
 * keeps on this machine (the embedded state database, built artifacts, release folders, local
 * environments' databases, the local runtime's files and logs).
 *
 * Where: `$AIRLOCK_HOME/projects/<project>-<hash>` when AIRLOCK_HOME is set, else
 * `$XDG_STATE_HOME/airlock/projects/<project>-<hash>`, else
 * `~/.local/state/airlock/projects/<project>-<hash>` (the XDG Base Directory specification's
 * place for state that outlives a run but is not worth backing up in a repository; pnpm and npm
 * keep their stores in the same family of folders). `<hash>` is the first 10 hex digits of the
 * SHA-256 of the project folder's real path, so two checkouts of one repository never share a
 * home, and `<project>` (the `project:` field) makes the folder recognisable.
 *
 * Outside the tree, because a release folder inside the project sees the project's own
 * `node_modules` up the tree (Node resolves bare imports upwards, so an artifact missing its
 * dependencies would seem to work) and the project's test runners would find the copied test
 * files in release folders.
 *
 * Before this, everything lived in `<project>/.airlock/`; `legacyDir` names that folder when it
 * still holds files, so a command can say so (`airlock home move`) instead of ignoring it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where a project's home is and why. */
export interface AirlockHome {
  /** Absolute path of this project's home. */
  dir: string;
  /** Which setting chose the root: `AIRLOCK_HOME`, `XDG_STATE_HOME`, or the default `~/.local/state`. */
  source: 'AIRLOCK_HOME' | 'XDG_STATE_HOME' | 'default';
  /** `<project>/.airlock` when it still holds files from the earlier layout, else null. */
  legacyDir: string | null;
}

/** The folder inside a project where earlier versions kept everything. */
export const LEGACY_HOME = '.airlock';

/** `project` made safe as a folder name (letters, digits, `.`, `_`, `-`; at most 40). */
function folderName(project: string): string {
  const safe = project
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[.-]+|-+$/g, '')
    .slice(0, 40);
  return safe || 'project';
}

function realPath(dir: string): string {
  try {
    return realpathSync.native(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** True when `<dir>/.airlock` exists and holds anything besides its own `.gitignore`. */
function legacyHome(dir: string): string | null {
  const legacy = path.join(dir, LEGACY_HOME);
  if (!existsSync(legacy)) return null;
  try {
    return readdirSync(legacy).some((entry) => entry !== '.gitignore') ? legacy : null;
  } catch {
    return null;
  }
}

/**
 * Resolves a project's home from its folder, its `project:` name and the environment
 * (`AIRLOCK_HOME`, `XDG_STATE_HOME`, `HOME`; passed in, never read from process.env here).
 * Relative AIRLOCK_HOME and XDG_STATE_HOME values are resolved against the project folder.
 * Creates nothing.
 */
export function resolveHome(
  dir: string,
  project: string,
  env: Readonly<Record<string, string | undefined>>,
): AirlockHome {
  const leaf = `${folderName(project)}-${createHash('sha256').update(realPath(dir)).digest('hex').slice(0, 10)}`;
  const legacyDir = legacyHome(dir);
  if (env.AIRLOCK_HOME) {
    return {
      dir: path.resolve(dir, env.AIRLOCK_HOME, 'projects', leaf),
      source: 'AIRLOCK_HOME',
      legacyDir,
    };
  }
  if (env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME)) {
    return {
      dir: path.join(env.XDG_STATE_HOME, 'airlock', 'projects', leaf),
      source: 'XDG_STATE_HOME',
      legacyDir,
    };
  }
  const user = env.HOME || os.homedir();
  return {
    dir: path.join(user, '.local', 'state', 'airlock', 'projects', leaf),
    source: 'default',
    legacyDir,
  };
}
