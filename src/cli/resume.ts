import { resumeInterruptedRuns } from '../pipeline/resume.ts';
import type { CommandIO } from './command-io.ts';
import { confirmChange } from './confirm.ts';
import { reportOutcome } from './deploy.ts';
import { withSession } from './session.ts';

/**
 * `airlock resume [env]`: finish or roll back what a dead process left interrupted. Changing a
 * protected environment is confirmed first, as deploy, promote and rollback do (`--yes`; no
 * terminal and no `--yes`: refused, exit 2).
 */
export async function resumeCommand(
  io: CommandIO,
  environment: string | undefined,
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const outcomes = await resumeInterruptedRuns(ctx, environment, {
        signal: io.signal,
        beforeApply: async (change) => {
          const env = change.environment;
          if (!env.protected) return;
          await confirmChange(
            io,
            change.action === 'finish'
              ? `Resume run #${change.runId}: finish the ${change.kind} of ${change.releaseId} to ${env.name} (protected)?`
              : `Run #${change.runId} cannot be finished here (${change.reason}): roll ${env.name} back to ${change.releaseId} (protected)?`,
            env.name,
          );
        },
      });
      if (outcomes.length === 0) {
        io.reporter.success(
          `Nothing to resume${environment ? ` on ${environment}` : ''}: no interrupted run.`,
        );
      }
      for (const o of outcomes) {
        io.reporter.info(
          `Run #${o.runId} (${o.releaseId ?? '?'} → ${o.environment}): ${o.reason}.`,
        );
        if (o.result) reportOutcome(io.reporter, o.result);
      }
      io.reporter.result({
        resumed: outcomes.map((o) => ({
          runId: o.runId,
          environment: o.environment,
          releaseId: o.releaseId,
          outcome: o.outcome,
          reason: o.reason,
          status: o.result?.status ?? null,
          newRunId: o.result?.run.id ?? null,
          serving: o.result?.serving ?? null,
        })),
      });
      return outcomes.some(
        (o) => o.result && o.result.status !== 'succeeded' && o.outcome !== 'rolled-back',
      )
        ? 1
        : 0;
    },
    { environments: [environment] },
  );
}
