/**
 * Interrupted runs: a run still marked `running` whose process is gone (killed, crashed, the
 * machine rebooted) is found by the next command. Its running step is marked errored, its
 * deployment failed, the lock it held is freed, what actually serves is read back from the
 * provider, and an audit event says so. (Kargo persists every transition for this reason.)
 */
import { audit } from '../state/audit.ts';
import { type AirlockContext, serviceTarget } from './context.ts';
import { processGone } from './lock.ts';

export interface InterruptedRun {
  runId: number;
  kind: string;
  environment: string;
  releaseId: string | null;
  pid: number;
  host: string;
  /** The step that was running when the process died, if any. */
  step: string | null;
  lockFreed: boolean;
  /** What serves now per service, as the provider reports it. */
  serving: Record<string, string | null>;
}

/** How long (ms) a run on another host may go without a heartbeat before it counts as dead. */
const REMOTE_DEAD_AFTER_FACTOR = 2;

export async function recoverInterruptedRuns(ctx: AirlockContext): Promise<InterruptedRun[]> {
  const recovered: InterruptedRun[] = [];
  const running = await ctx.store.listRuns({ status: 'running', limit: 100 });
  for (const run of running) {
    if (run.pid === ctx.pid && run.host === ctx.host) continue;
    const stale =
      ctx.now().getTime() - Date.parse(run.heartbeatAt) > ctx.lockTtlMs * REMOTE_DEAD_AFTER_FACTOR;
    const gone = processGone(run.pid, run.host, ctx.host) || (run.host !== ctx.host && stale);
    if (!gone) continue;
    const at = ctx.now().toISOString();
    const why = `interrupted: process ${run.pid} on ${run.host} stopped before the run finished`;

    let step: string | null = null;
    for (const s of await ctx.store.listSteps(run.id)) {
      if (s.status === 'running') {
        step = s.name;
        await ctx.store.saveStep({ ...s, status: 'errored', finishedAt: at, message: why });
      } else if (s.status === 'pending') {
        await ctx.store.saveStep({
          ...s,
          status: 'skipped',
          message: 'not run: the run was interrupted',
        });
      }
    }
    const deployments = await ctx.store.listDeployments({ runId: run.id, limit: 10 });
    for (const d of deployments) {
      if (d.status === 'running' || d.status === 'pending') {
        await ctx.store.updateDeployment(d.id, { status: 'failed', finishedAt: at, message: why });
      }
    }

    // Read back what serves: the process may have died after a switch it never recorded.
    const serving: Record<string, string | null> = {};
    const env = ctx.config.environments[run.environment];
    if (env) {
      const records = await ctx.store.getServing(env.name);
      for (const service of ctx.config.services) {
        const state = await ctx
          .providerFor(env)
          .describe(serviceTarget(ctx.config, env, service))
          .catch(() => undefined);
        serving[service] =
          state?.release ?? records.find((r) => r.service === service)?.releaseId ?? null;
        const record = records.find((r) => r.service === service);
        if (state?.release && state.release !== record?.releaseId) {
          const d =
            deployments.find((x) => x.releaseId === state.release) ??
            (
              await ctx.store.listDeployments({
                environment: env.name,
                releaseId: state.release,
                limit: 1,
              })
            )[0];
          if (d) {
            await ctx.store.setServing({
              environment: env.name,
              service,
              releaseId: state.release,
              deploymentId: d.id,
              since: at,
            });
          }
        }
      }
    }

    let lockFreed = false;
    const lock = await ctx.store.getLock(run.environment);
    if (lock && lock.pid === run.pid && lock.host === run.host) {
      lockFreed = await ctx.store.releaseLock(run.environment, lock.token);
    }
    await ctx.store.updateRun(run.id, { status: 'interrupted', finishedAt: at, message: why });
    await audit(ctx, 'run.interrupted', {
      at,
      environment: run.environment,
      releaseId: run.releaseId,
      runId: run.id,
      result: 'interrupted',
      detail: {
        kind: run.kind,
        pid: run.pid,
        host: run.host,
        startedBy: run.actor,
        step,
        lockFreed,
        serving,
      },
    });
    recovered.push({
      runId: run.id,
      kind: run.kind,
      environment: run.environment,
      releaseId: run.releaseId,
      pid: run.pid,
      host: run.host,
      step,
      lockFreed,
      serving,
    });
  }
  return recovered;
}
