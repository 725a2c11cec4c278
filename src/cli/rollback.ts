import { environmentNamed } from '../config/environments.ts';
import { rollback } from '../pipeline/operations.ts';
import type { CommandIO } from './command-io.ts';
import { confirmChange } from './confirm.ts';
import { reportOutcome } from './deploy.ts';
import { withSession } from './session.ts';
import { waitHooks } from './wait.ts';

/** `airlock rollback <env> [--to R] [--force]`. */
export async function rollbackCommand(
  io: CommandIO,
  environment: string,
  opts: { to?: string; wait?: string; force?: boolean },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const env = environmentNamed(ctx.config, environment);
      const result = await rollback(ctx, environment, opts.to, {
        signal: io.signal,
        ...(opts.force ? { force: true } : {}),
        ...waitHooks(io.reporter, opts.wait),
        beforeApply: async (plan) => {
          for (const w of plan.warnings) io.reporter.warn(w);
          if (env.protected)
            await confirmChange(
              io,
              `Roll ${env.name} back from ${plan.current} to ${plan.release.id} (protected)?`,
              env.name,
            );
        },
      });
      reportOutcome(io.reporter, result);
      return result.status === 'succeeded' ? 0 : 1;
    },
    { environments: [environment] },
  );
}
