/**
 * `airlock ci run`: CI green at the exact commit, without a CI service (the `ci` gate's
 * `command` mode). The project's own checks run in a clean checkout of the commit and the
 * result is recorded by commit SHA, so any machine's gate can read it.
 */
import { UserError } from '../errors.ts';
import { runShell } from '../process/shell.ts';
import { withCommitCheckout } from '../releases/checkout.ts';
import { resolveCommit } from '../releases/git.ts';
import { audit } from '../state/audit.ts';
import type { CiResult } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';

/**
 * Runs `ci.command` at `commit` (default HEAD) and records the result.
 * @throws UserError `USAGE` when CI is not a command; `RELEASE_NOT_FOUND` for an unknown commit.
 */
export async function runCi(
  ctx: AirlockContext,
  options: { commit?: string; signal?: AbortSignal; onLine?: (line: string) => void } = {},
): Promise<CiResult> {
  const ci = ctx.config.ci;
  if (ci?.kind !== 'command') {
    throw new UserError(
      'USAGE',
      ci
        ? 'ci: reads GitHub commit statuses here; there is no command to run.'
        : 'there is no ci: section in airlock.yaml.',
      {
        hint: "Add `ci: { command: 'npm ci && npm test' }` to run the project's checks with `airlock ci run`.",
      },
    );
  }
  const commit = await resolveCommit(ctx.config.dir, options.commit ?? 'HEAD');
  const result = await withCommitCheckout(
    ctx.config.dir,
    commit,
    (dir) =>
      runShell(ci.command, {
        cwd: dir,
        env: { ...process.env, CI: 'true', AIRLOCK_COMMIT: commit },
        timeoutMs: ci.timeoutMs,
        tailLines: 40,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onLine ? { onLine: options.onLine } : {}),
      }),
    // A worktree: the project's own checks may ask git about the commit.
    { fresh: true, worktree: true },
  );
  const passed = result.exitCode === 0;
  const summary = passed
    ? `passed in ${(result.durationMs / 1000).toFixed(1)} s`
    : result.timedOut
      ? `timed out after ${ci.timeoutMs} ms`
      : `exited ${result.exitCode ?? result.signal}`;
  const recorded = await ctx.store.recordCiResult({
    commit,
    status: passed ? 'passed' : 'failed',
    summary,
    output: result.tail.join('\n'),
    durationMs: result.durationMs,
    actor: ctx.actor,
    at: ctx.now().toISOString(),
  });
  await audit(ctx, passed ? 'ci.passed' : 'ci.failed', {
    at: recorded.at,
    environment: null,
    result: passed ? 'ok' : 'failed',
    detail: { commit, command: ci.command, summary },
  });
  return recorded;
}
