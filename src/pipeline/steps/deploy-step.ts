import type { Step } from '../engine.ts';
import { type DeploymentRun, switchService } from './deployment-run.ts';

/**
 * Records `service` as serving the deployment's release, and the deployment as switched once
 * every service of the release is.
 */
async function recordServing(d: DeploymentRun, service: string): Promise<void> {
  d.switched.add(service);
  await d.ctx.store.setServing({
    environment: d.env.name,
    service,
    releaseId: d.release.id,
    deploymentId: d.deploymentId,
    since: d.ctx.now().toISOString(),
  });
  if (d.switched.size === Object.keys(d.release.services).length) {
    await d.ctx.store.updateDeployment(d.deploymentId, {
      switchedAt: d.ctx.now().toISOString(),
    });
  }
}

/**
 * `--changed`: a service whose serving release (`since`) carries the same artifact and
 * migrations as this release is not redeployed; it is recorded as serving this release (the
 * same bytes), and the step says so (status succeeded, message "unchanged …").
 */
export function unchangedStep(
  d: DeploymentRun,
  service: string,
  title: string,
  since: string | null,
): Step {
  const record = () => recordServing(d, service);
  return {
    name: `unchanged:${service}`,
    title,
    when: 'on-success',
    adopt: record,
    async run() {
      await record();
      const digest = d.release.services[service]?.digest ?? '';
      return {
        status: 'succeeded',
        message: `skipped, unchanged: the artifact (sha256:${digest.slice(0, 12)}) and migrations are those of ${since ?? 'the serving release'}, which serves it`,
        output: { skipped: true, unchanged: true, since },
      };
    },
  };
}

/**
 * Starts the release's process for one service, waits for its health path, switches traffic and
 * drains the old process (the provider's job), then records that it serves. When every service
 * has switched, the deployment's `switchedAt` is set.
 */
export function deployStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `deploy:${service}`,
    title,
    when: 'on-success',
    async adopt(output) {
      // An interrupted run already switched this service: this run takes over what it did,
      // so what serves is recorded against the deployment that completes the job.
      if (typeof output?.url === 'string') d.urls[service] = output.url;
      // Its lease, if the platform still has it pending, is renewed by this run from now on.
      if (typeof output?.checksLeaseMs === 'number') {
        d.leases?.hold(service, d.release.id, output.checksLeaseMs);
      }
      await recordServing(d, service);
    },
    async run(ctx) {
      const outcome = await switchService(d, d.release, service, d.deploymentId, ctx);
      d.switched.add(service);
      if (d.switched.size === Object.keys(d.release.services).length) {
        await d.ctx.store.updateDeployment(d.deploymentId, {
          switchedAt: d.ctx.now().toISOString(),
        });
      }
      const switchMs = outcome.switchMs < 1 ? '<1' : String(Math.round(outcome.switchMs));
      const how = outcome.reusedWarm
        ? `switched to warm ${d.release.id} in ${switchMs} ms`
        : `healthy after ${Math.round(outcome.bootMs)} ms, switched in ${switchMs} ms`;
      return {
        status: 'succeeded',
        message: `${how} → ${outcome.url}`,
        output: { ...outcome },
      };
    },
  };
}
