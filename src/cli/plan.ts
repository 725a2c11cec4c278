import { environmentNamed } from '../config/environments.ts';
import { AirlockError } from '../errors.ts';
import { planDeploy } from '../pipeline/operations.ts';
import { resolveCommit } from '../releases/git.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

/**
 * Exit status of `airlock plan` when a gate blocks: the action would be refused. Distinct from
 * 1 (the plan could not be made), so a script can tell "blocked" from "broken" the way
 * `terraform plan -detailed-exitcode` tells "changes" from "error".
 */
export const EXIT_PLAN_BLOCKED = 4;

/**
 * `airlock plan <env>`: what deploy or promote would do, each gate and why. Changes nothing.
 * Exit 0 when the action would proceed, {@link EXIT_PLAN_BLOCKED} when a gate blocks it (the
 * `--json` result carries `blocked` and `exitCode` too).
 */
export async function planCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string; commit?: string; overrideWindow?: string; fixForward?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const env = environmentNamed(ctx.config, environment);
      try {
        const plan = await planDeploy(ctx, environment, {
          ...opts,
          ...(opts.overrideWindow ? { windowOverride: opts.overrideWindow } : {}),
          ...(opts.fixForward ? { fixForward: opts.fixForward } : {}),
        });
        io.reporter.plan(plan);
        const exitCode = plan.blocked ? EXIT_PLAN_BLOCKED : 0;
        io.reporter.result({ plan, blocked: plan.blocked, exitCode });
        return exitCode;
      } catch (error) {
        // Deploying into the first environment builds first; say so instead of failing.
        if (
          !(error instanceof AirlockError) ||
          error.code !== 'RELEASE_NOT_FOUND' ||
          env.previous ||
          opts.release
        )
          throw error;
        // What deploy would build (`releaseToDeploy`): the commit, or the working tree.
        const source = error.details as {
          commit?: string;
          dirtyFiles?: string[];
          elsewhere?: string;
        };
        const commit =
          source.commit ?? (await resolveCommit(ctx.config.dir, opts.commit ?? 'HEAD'));
        const dirtyFiles = source.dirtyFiles ?? [];
        if (dirtyFiles.length > 0) {
          const shown = dirtyFiles.slice(0, 5).join(', ') + (dirtyFiles.length > 5 ? ', …' : '');
          io.reporter.info(
            `The working tree has uncommitted changes (${shown}): \`airlock deploy ${environment}\` would build the working tree, not commit ${commit.slice(0, 7)}, into a new release marked dirty, then verify, migrate, deploy and check it on ${environment}. To see its pending migrations first, run \`airlock build\`, then \`airlock plan ${environment} --release <the release it prints>\` (and deploy that one with --release); or commit the changes and plan again.`,
          );
          io.reporter.result({
            plan: null,
            wouldBuild: commit,
            dirty: true,
            dirtyFiles,
            blocked: false,
            exitCode: 0,
          });
          return 0;
        }
        const elsewhere = source.elsewhere
          ? ` on this machine (${source.elsewhere} was built from it on another one, and its files are not stored here)`
          : '';
        io.reporter.info(
          `No release of ${commit.slice(0, 7)} is built${elsewhere} yet: \`airlock deploy ${environment}\` would first build it (\`airlock build\`), then verify, migrate, deploy and check it on ${environment}. Run \`airlock build\` and plan again to see pending migrations.`,
        );
        io.reporter.result({ plan: null, wouldBuild: commit, blocked: false, exitCode: 0 });
        return 0;
      }
    },
    { environments: [environment] },
  );
}
