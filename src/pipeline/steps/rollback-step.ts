import type { Step } from '../engine.ts';
import { type DeploymentRun, switchService } from './deployment-run.ts';

/**
 * On failure: puts back the release that served a service before this deployment, when traffic
 * had already switched (Argo Rollouts: abort returns to the stable version; with a warm
 * process this is an instant switch).
 */
export function rollbackStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `rollback:${service}`,
    title,
    when: 'on-failure',
    async run(ctx) {
      const before = d.before.find((s) => s.service === service);
      if (!d.switched.has(service)) {
        return {
          status: 'skipped',
          message: `traffic never switched to ${d.release.id}; ${before?.releaseId ?? 'the previous release'} kept serving`,
        };
      }
      if (!before) return { status: 'failed', message: 'no earlier release served here' };
      if (d.rehearsalFailed?.has(service)) {
        return {
          status: 'skipped',
          message: `the rollback rehearsal showed ${before.releaseId} fails on the new schema; ${d.release.id} keeps serving (fix forward)`,
        };
      }
      const previous = await d.ctx.store.findRelease(before.releaseId);
      if (!previous)
        return { status: 'failed', message: `release ${before.releaseId} is not in the store` };
      const outcome = await switchService(d, previous, service, before.deploymentId, {
        ...ctx,
        rollback: true,
      });
      d.rolledBack.add(service);
      return {
        status: 'succeeded',
        message: `${previous.id} serves again (${outcome.reusedWarm ? `warm, switched in ${Math.max(1, Math.round(outcome.switchMs))} ms` : `restarted in ${Math.round(outcome.bootMs)} ms`})`,
        output: { ...outcome, release: previous.id },
      };
    },
  };
}
