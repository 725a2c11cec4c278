import { environmentNamed } from '../config/environments.ts';
import { recordApproval } from '../pipeline/approve.ts';
import { promotionPlan } from '../pipeline/decide.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

/** `airlock approve <env> [--release R] [-m comment] [--reject]`. */
export async function approveCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string; message?: string; reject?: boolean },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const result = await recordApproval(ctx, {
      environment,
      decision: opts.reject ? 'rejected' : 'approved',
      ...(opts.release ? { release: opts.release } : {}),
      ...(opts.message ? { comment: opts.message } : {}),
    });
    const { approval, release } = result;
    const word = approval.decision === 'approved' ? 'approved' : 'rejected';
    io.reporter.success(
      `${approval.actor} ${result.repeated ? 'had already ' : ''}${word} ${release.id} for ${environment}${approval.comment ? ` ("${approval.comment}")` : ''}.`,
    );
    const env = environmentNamed(ctx.config, environment);
    const plan = await promotionPlan(ctx, env, release);
    const gate = plan.gates.find((g) => g.gate === 'approval');
    if (gate) io.reporter.gates([gate]);
    if (!plan.blocked)
      io.reporter.info(`Every gate holds: run \`airlock promote ${environment}\`.`);
    io.reporter.result({
      approval,
      release: release.id,
      repeated: result.repeated,
      gates: plan.gates,
      blocked: plan.blocked,
    });
    return 0;
  });
}
