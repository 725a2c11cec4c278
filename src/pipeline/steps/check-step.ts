import path from 'node:path';
import { runChecks } from '../../checks/run-checks.ts';
import { withCommitCheckout } from '../../releases/checkout.ts';
import type { Step } from '../engine.ts';
import type { DeploymentRun } from './deployment-run.ts';

/**
 * Runs a service's checks against the environment's live URL and records each result with the
 * deployment. Any failed check fails the step (unreachable counts as failed). Command checks
 * (an E2E suite) run from the release's own commit — in place when the working tree is that
 * commit, otherwise in a temporary checkout that borrows the working tree's node_modules — so
 * a rollback to r1 is checked by r1's suite, not by today's.
 */
export function checkStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `check:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const settings = d.env.services[service];
      const url = d.urls[service];
      if (!settings || !url) return { status: 'errored', message: `no URL for ${service}` };
      const specs = settings.checks;
      if (specs.length === 0)
        return { status: 'succeeded', message: 'no checks configured', output: { results: [] } };
      const run = (projectDir: string) =>
        runChecks(
          specs,
          {
            baseUrl: url,
            environment: d.env.name,
            service,
            release: { id: d.release.id, commit: d.release.commit, digest: d.release.digest },
            serviceRoot: path.resolve(projectDir, settings.root),
            signal: ctx.signal,
          },
          (result) =>
            ctx.progress(
              `${result.status === 'passed' ? '✔' : '✖'} ${result.name}: ${result.message}`,
            ),
        );
      const projectDir = d.ctx.config.dir;
      const needsSource = specs.some((s) => s.type === 'command') && !d.release.dirty;
      const results = needsSource
        ? await withCommitCheckout(projectDir, d.release.commit, run, {
            linkNodeModules: ['.', settings.root],
          })
        : await run(projectDir);
      const at = d.ctx.now().toISOString();
      await d.ctx.store.recordCheckResults(
        results.map((r) => ({ ...r, deploymentId: d.deploymentId, service, at })),
      );
      const failed = results.filter((r) => r.status === 'failed');
      const summary = results.map((r) => ({
        name: r.name,
        status: r.status,
        durationMs: r.durationMs,
        message: r.message,
      }));
      if (failed.length > 0) {
        return {
          status: 'failed',
          message: `${failed.length} of ${results.length} checks failed — ${failed.map((r) => `${r.name}: ${r.message}`).join('; ')}`,
          output: { results: summary },
        };
      }
      return {
        status: 'succeeded',
        message: `${results.length} passed (${results.map((r) => `${r.name} ${r.durationMs} ms`).join(', ')})`,
        output: { results: summary },
      };
    },
  };
}
