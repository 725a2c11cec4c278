/**
 * `airlock home show|path|move`: where this project's Airlock home is (`config/home.ts`), and
 * moving the `.airlock/` folder earlier versions kept inside the project into it.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { LocalRuntimeClient } from '../providers/local/runtime-client.ts';
import type { CommandIO } from './command-io.ts';
import { reportRestored, restoredStatus } from './local.ts';
import { airlockHome, loadProjectConfig, localRuntimeOptions } from './session.ts';

const WHY: Record<ResolvedConfig['home']['source'], string> = {
  AIRLOCK_HOME: 'AIRLOCK_HOME is set',
  XDG_STATE_HOME: 'under XDG_STATE_HOME',
  default: 'under ~/.local/state (set AIRLOCK_HOME to choose another place)',
};

/** What `airlock home show`, `status` and `--json` say about the home. */
export function describeHome(config: ResolvedConfig): {
  dir: string;
  source: string;
  state: string;
  legacy: string | null;
} {
  return {
    dir: config.home.dir,
    source: config.home.source,
    state: config.state.display,
    legacy: config.home.legacyDir,
  };
}

/** `airlock home show`. */
export async function homeShowCommand(io: CommandIO): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  const home = describeHome(config);
  io.reporter.info(`Airlock home: ${home.dir} (${WHY[config.home.source]})`);
  io.reporter.info(`State: ${home.state}`);
  if (home.legacy)
    io.reporter.warn(
      `${home.legacy} still holds files from an earlier version: \`airlock home move\` moves them into the home.`,
    );
  io.reporter.result(home);
  return 0;
}

/** `airlock home path`: the path alone (for scripts: `cd "$(npx airlock home path)"`). */
export async function homePathCommand(io: CommandIO): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  if (io.globals.json) io.reporter.result({ dir: config.home.dir });
  else process.stdout.write(`${config.home.dir}\n`);
  return 0;
}

/** Files whose text names absolute paths inside the home: the runtime's and providers' records. */
function records(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string, depth: number) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        // Release folders and artifacts are the user's files: never rewritten.
        if (depth < 4 && entry.name !== 'releases' && entry.name !== 'artifacts')
          walk(full, depth + 1);
      } else if (
        entry.isFile() &&
        /\.(json|jsonl|jsonc)$/.test(entry.name) &&
        statSync(full).size < 8 * 1024 * 1024
      ) {
        found.push(full);
      }
    }
  };
  walk(dir, 0);
  return found;
}

/**
 * `airlock home move`: stops the local runtime that runs from `.airlock/`, moves the folder to
 * the home (a rename, or a copy then delete across file systems), rewrites the absolute paths
 * the runtime's records hold, and starts the runtime again when it was running, which restores
 * what served. Idempotent: nothing to move is not an error.
 * @throws UserError `HOME_MOVE_CONFLICT` when the home already holds files (it never merges two
 *   states).
 */
export async function homeMoveCommand(io: CommandIO): Promise<number> {
  const config = await loadProjectConfig(io.globals);
  const { dir: home, legacyDir: legacy } = config.home;
  if (!legacy) {
    io.reporter.info(`Nothing to move: Airlock's files for this project are in ${home}.`);
    io.reporter.result({ moved: false, home });
    return 0;
  }
  if (existsSync(home) && readdirSync(home).some((entry) => entry !== '.gitignore')) {
    throw new UserError(
      'HOME_MOVE_CONFLICT',
      `Both ${legacy} and ${home} hold Airlock files; Airlock will not merge two states.`,
      {
        hint: `Keep one: delete ${home} (then run \`airlock home move\` again) or delete ${legacy}.`,
        details: { legacy, home },
      },
    );
  }
  const old = new LocalRuntimeClient({ home: legacy });
  const wasRunning = await old.isRunning();
  if (wasRunning) {
    io.reporter.info(`Stopping the local runtime that runs from ${legacy}`);
    await old.shutdown();
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(path.join(legacy, '.gitignore'), { force: true });
  mkdirSync(path.dirname(home), { recursive: true, mode: 0o700 });
  try {
    renameSync(legacy, home);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    cpSync(legacy, home, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    rmSync(legacy, { recursive: true, force: true });
  }
  const from = [legacy, JSON.stringify(legacy).slice(1, -1)];
  const to = [home, JSON.stringify(home).slice(1, -1)];
  for (const file of records(home)) {
    const text = readFileSync(file, 'utf8');
    let next = text;
    from.forEach((f, i) => {
      next = next.split(f).join(to[i] as string);
    });
    if (next !== text) writeFileSync(file, next);
  }
  const moved = await loadProjectConfig(io.globals);
  airlockHome(moved);
  io.reporter.success(`Moved ${legacy} to ${home}.`);
  if (wasRunning) {
    const runtime = new LocalRuntimeClient(localRuntimeOptions(moved, home));
    await runtime.ensureStarted();
    reportRestored(io, await restoredStatus(runtime), 'Local runtime running from the home again');
  }
  io.reporter.result({ moved: true, from: legacy, home, restarted: wasRunning });
  return 0;
}
