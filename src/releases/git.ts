/**
 * The few git commands Airlock runs, through the user's own `git` (`runTool`,
 * src/process/run-tool.ts).
 */
import { UserError } from '../errors.ts';
import { runTool } from '../process/run-tool.ts';

/** Output git may print before Airlock gives up on a command (characters). */
const MAX_OUTPUT = 64 * 1024 * 1024;

/**
 * Runs git in `cwd` and returns trimmed stdout. `env`: variables set on top of Airlock's own
 * environment (e.g. `GIT_INDEX_FILE`). @throws Error with git's stderr.
 */
export async function git(
  cwd: string,
  args: string[],
  env?: Readonly<Record<string, string>>,
): Promise<string> {
  const result = await runTool({
    command: 'git',
    args,
    cwd,
    maxStdout: MAX_OUTPUT,
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  if (result.spawnError) throw new Error(result.spawnError.message);
  if (result.stdoutTruncated) {
    throw new Error(`git ${args.join(' ')} printed more than ${MAX_OUTPUT} characters.`);
  }
  if (result.exitCode !== 0) {
    const failed = `Command failed: git ${args.join(' ')}`;
    throw new Error((result.stderr || failed).trim());
  }
  // Only the trailing newline: porcelain output starts with meaningful spaces.
  return result.stdout.trimEnd();
}

/** The repository's top folder. @throws UserError `NOT_A_GIT_REPO`. */
export async function repoRoot(cwd: string): Promise<string> {
  try {
    return await git(cwd, ['rev-parse', '--show-toplevel']);
  } catch {
    throw notARepo(cwd);
  }
}

/**
 * In one git process: `head`, the full SHA of HEAD ('' when the branch has no commit yet), and
 * `prefix`, the path of `cwd` below the repository's top folder ('' at the top, else ending in
 * `/`). @throws UserError `NOT_A_GIT_REPO`.
 */
export async function headAndPrefix(cwd: string): Promise<{ head: string; prefix: string }> {
  try {
    // The prefix comes first: on the top folder it is an empty line, which trimming would drop last.
    const [prefix = '', head = ''] = (await git(cwd, ['rev-parse', '--show-prefix', 'HEAD'])).split(
      '\n',
    );
    return { head, prefix };
  } catch {
    // No commit on this branch yet (or not a repository: `repoPrefix` says so).
    return { head: '', prefix: await repoPrefix(cwd) };
  }
}

async function repoPrefix(cwd: string): Promise<string> {
  try {
    return await git(cwd, ['rev-parse', '--show-prefix']);
  } catch {
    throw notARepo(cwd);
  }
}

function notARepo(cwd: string): UserError {
  return new UserError('NOT_A_GIT_REPO', `${cwd} is not inside a git repository.`, {
    hint: 'A release is a build of one commit: run `git init && git add -A && git commit -m init` first.',
  });
}

/** Full SHA of a commit-ish. @throws UserError `RELEASE_NOT_FOUND` for an unknown commit. */
export async function resolveCommit(cwd: string, ref: string): Promise<string> {
  try {
    return await git(cwd, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  } catch {
    throw new UserError('RELEASE_NOT_FOUND', `commit "${ref}" does not exist in this repository.`, {
      hint: 'Pass a commit SHA, branch or tag that `git log` shows.',
    });
  }
}

/** Paths (relative to `dir`) with uncommitted changes, ignoring `.airlock/` (where earlier versions kept Airlock's files). */
export async function uncommittedChanges(dir: string): Promise<string[]> {
  const out = await git(dir, [
    'status',
    '--porcelain',
    '--untracked-files=normal',
    '--',
    '.',
    ':(exclude).airlock',
  ]);
  return out ? out.split('\n').map((l) => l.slice(3)) : [];
}

/** First line of a commit's message. */
export async function commitSubject(cwd: string, sha: string): Promise<string> {
  return git(cwd, ['log', '-1', '--format=%s', sha]);
}

/** git's `user.email`, or undefined when unset. */
export async function gitUserEmail(cwd: string): Promise<string | undefined> {
  try {
    return (await git(cwd, ['config', 'user.email'])) || undefined;
  } catch {
    return undefined;
  }
}

/** git's `user.signingkey` (a key path, or `key::<public key>`), or undefined. */
export async function gitSigningKey(cwd: string): Promise<string | undefined> {
  try {
    return (await git(cwd, ['config', 'user.signingkey'])) || undefined;
  } catch {
    return undefined;
  }
}
