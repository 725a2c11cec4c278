import path from 'node:path';
import type { CheckContext, CheckSpec } from '../../checks/check.ts';
import { runChecks } from '../../checks/run-checks.ts';
import { type ResolvedEnvironment, usableDatabase, usableService } from '../../config/resolve.ts';
import { withCommitCheckout } from '../../releases/checkout.ts';
import type { Release, StoredCheckResult } from '../../state/state-store.ts';
import { type AirlockContext, serviceTarget } from '../context.ts';
import type { Step, StepContext, StepOutcome } from '../engine.ts';
import type { DeploymentRun } from './deployment-run.ts';

/**
 * Runs a service's checks against `url` and records each result with `deploymentId`. Any failed
 * check fails the outcome (unreachable counts as failed). Command checks (an E2E suite) run
 * from the release's own commit — in place when the working tree is that commit, otherwise in a
 * temporary folder of its files (not a git repository) that borrows the working tree's
 * node_modules — so a rollback to r1 is checked by r1's suite, not by today's.
 *
 * `options.baseline`: the results a perf check compares with (see `baselineFor`).
 * `options.record: false` runs them without recording (a rehearsal's drill); `options.skip`
 * leaves out checks of these types.
 */
export async function runServiceChecks(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  service: string,
  url: string,
  deploymentId: number,
  step: Pick<StepContext, 'signal' | 'progress'>,
  options: {
    baseline?: CheckContext['baseline'] | null;
    record?: boolean;
    skip?: ReadonlyArray<CheckSpec['type']>;
  } = {},
): Promise<StepOutcome> {
  const settings = env.services[service];
  if (!settings) return { status: 'errored', message: `no service ${service} in ${env.name}` };
  const specs = settings.checks.filter((s) => !options.skip?.includes(s.type));
  if (specs.length === 0)
    return { status: 'succeeded', message: 'no checks configured', output: { results: [] } };
  usableService(settings);
  const databaseUrl = settings.database ? usableDatabase(settings.database).url : undefined;
  const run = (projectDir: string) =>
    runChecks(
      specs,
      {
        baseUrl: url,
        environment: env.name,
        service,
        release: { id: release.id, commit: release.commit, digest: release.digest },
        serviceRoot: path.resolve(projectDir, settings.root),
        signal: step.signal,
        ...(databaseUrl ? { databaseUrl } : {}),
        secrets: checkSecrets(settings.references, databaseUrl),
        ...(options.baseline ? { baseline: options.baseline } : {}),
      },
      (result) =>
        step.progress(
          `${result.status === 'passed' ? '✔' : '✖'} ${result.name}: ${result.message}`,
        ),
    );
  const projectDir = ctx.config.dir;
  const needsSource = specs.some((s) => s.type === 'command') && !release.dirty;
  const results = needsSource
    ? await withCommitCheckout(projectDir, release.commit, run, {
        linkNodeModules: ['.', settings.root],
      })
    : await run(projectDir);
  const at = ctx.now().toISOString();
  if (options.record !== false)
    await ctx.store.recordCheckResults(results.map((r) => ({ ...r, deploymentId, service, at })));
  const failed = results.filter((r) => r.status === 'failed');
  const summary = results.map((r) => ({
    name: r.name,
    status: r.status,
    durationMs: r.durationMs,
    message: r.message,
    ...(r.status === 'failed' && typeof r.details.outputTail === 'string' && r.details.outputTail
      ? { outputTail: r.details.outputTail }
      : {}),
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
}

/** What a check must never show: the values of variables it read, the database URL and its password. */
export function checkSecrets(
  references: ReadonlyArray<{ value: string }>,
  databaseUrl: string | undefined,
): string[] {
  const secrets = references.map((r) => r.value);
  if (databaseUrl) {
    secrets.push(databaseUrl);
    const password = URL.canParse(databaseUrl) ? new URL(databaseUrl).password : '';
    if (password) secrets.push(password, decodeURIComponent(password));
  }
  return secrets;
}

/**
 * The baseline of a service's perf checks in this run: the stored results (latest per check) of
 * the deployment that put the release serving before into this environment. Null when nothing
 * served before, or it was this same release, or it has no perf result.
 */
export async function baselineFor(
  d: DeploymentRun,
  service: string,
): Promise<CheckContext['baseline'] | null> {
  if (!d.env.services[service]?.checks.some((c) => c.type === 'perf')) return null;
  const before = d.before.find((s) => s.service === service);
  if (!before || before.releaseId === d.release.id) return null;
  const latest = new Map<string, StoredCheckResult>();
  for (const r of await d.ctx.store.listCheckResults(before.deploymentId))
    if (r.service === service && r.type === 'perf' && r.status === 'passed') latest.set(r.name, r);
  return latest.size ? { release: before.releaseId, results: [...latest.values()] } : null;
}

/** Runs a service's checks against the environment's live URL, recorded with the deployment. */
export function checkStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `check:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const url = d.urls[service];
      if (!url) return { status: 'errored', message: `no URL for ${service}` };
      const outcome = await runServiceChecks(
        d.ctx,
        d.env,
        d.release,
        service,
        url,
        d.deploymentId,
        ctx,
        { baseline: await baselineFor(d, service) },
      );
      // The checks completed: confirm the switch's lease, unless they failed and an automatic
      // rollback comes next (the lease stays renewed until it replaces the release).
      const keep = outcome.status === 'succeeded' || d.env.onCheckFailure === 'keep';
      const lease = await d.leases?.settle(service, keep);
      if (lease && lease.serving !== d.release.id) {
        return {
          status: 'failed',
          message: `the local runtime switched ${service} back to ${lease.serving ?? 'nothing'} before ${d.release.id}'s checks completed (its checks lease of ${d.env.checksLeaseMs} ms ran out), so ${d.release.id} is not checked`,
          output: { ...outcome.output, serving: lease.serving },
        };
      }
      return outcome;
    },
  };
}

/**
 * Before a promotion whose checks on the previous environment are older than
 * `promotion.checksMaxAge` (checks are re-verified when older than a configured age): runs them
 * again against the previous environment's live URL, recorded with the deployment that put the
 * release there. A failure stops the promotion before anything in the target changes.
 */
export function recheckStep(
  d: DeploymentRun,
  previous: ResolvedEnvironment,
  previousDeploymentId: number,
  service: string,
  title: string,
): Step {
  return {
    name: `recheck:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const state = await d.ctx
        .providerFor(previous)
        .describe(serviceTarget(d.ctx.config, previous, service));
      if (state.release !== d.release.id) {
        return {
          status: 'failed',
          message: `${previous.name} no longer serves ${d.release.id} (it serves ${state.release ?? 'nothing'}), so its checks cannot be re-verified there`,
        };
      }
      return runServiceChecks(
        d.ctx,
        previous,
        d.release,
        service,
        state.url,
        previousDeploymentId,
        ctx,
      );
    },
  };
}
