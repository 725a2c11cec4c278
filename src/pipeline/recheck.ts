/**
 * `airlock check <env>`: runs an environment's checks again against what serves, without a
 * deployment (Heroku's `release phase` cannot be re-run either; Kargo re-runs verifications on
 * demand). Runs under the environment's lock, so no deployment switches the release while it is
 * checked. Results are recorded with the deployment that put each release there, which is where
 * the gate into the next environment reads them: a flaky test that passes on a re-run unblocks
 * the promotion without a redeploy.
 */
import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import type { StoredCheckResult } from '../state/state-store.ts';
import { type AirlockContext, serviceTarget } from './context.ts';
import { acquireEnvironmentLock, keepAlive } from './lock.ts';
import { runServiceChecks } from './steps/check-step.ts';

export interface RecheckOptions {
  signal?: AbortSignal;
  /** A progress line per check result. */
  onProgress?: (message: string) => void;
}

export interface RecheckResult {
  environment: string;
  /** What served each service while it was checked. */
  serving: Record<string, string>;
  /** Every check that ran, as recorded. */
  checks: StoredCheckResult[];
  passed: boolean;
}

/**
 * Re-runs the checks of every service serving in `environment` and records them.
 * @throws UserError `NOTHING_SERVING` when nothing serves there; `SERVING_MISMATCH` when the
 *   platform serves another release than the state records; `LOCK_HELD` when a run holds the
 *   environment; `CONFIG_INVALID` when a check reads a variable that is not set.
 */
export async function recheckEnvironment(
  ctx: AirlockContext,
  environment: string,
  options: RecheckOptions = {},
): Promise<RecheckResult> {
  const env = environmentNamed(ctx.config, environment);
  const lease = keepAlive(ctx, await acquireEnvironmentLock(ctx, env.name, 'check'));
  try {
    const serving = await ctx.store.getServing(env.name);
    if (serving.length === 0)
      throw new UserError(
        'NOTHING_SERVING',
        `Nothing serves in ${env.name}: there is nothing to check.`,
        {
          hint: `Deploy a release first: \`airlock ${env.previous ? `promote ${env.name}` : `deploy ${env.name}`}\`.`,
        },
      );
    const signal = options.signal ? AbortSignal.any([options.signal, lease.signal]) : lease.signal;
    const checks: StoredCheckResult[] = [];
    const servingNow: Record<string, string> = {};
    for (const record of serving) {
      const release = await ctx.store.findRelease(record.releaseId);
      if (!release || !env.services[record.service]) continue;
      const live = await ctx
        .providerFor(env)
        .describe(serviceTarget(ctx.config, env, record.service));
      if (live.release !== record.releaseId || !live.url)
        throw new UserError(
          'SERVING_MISMATCH',
          `${env.name} should serve ${record.service} ${record.releaseId}, but the platform reports ${live.release ?? 'nothing'}: checks of it would not say anything about ${record.releaseId}.`,
          {
            hint: `Run \`airlock status ${env.name}\` to see what serves, then deploy or roll back to put a known release there.`,
          },
        );
      servingNow[record.service] = record.releaseId;
      const before = new Set(
        (await ctx.store.listCheckResults(record.deploymentId)).map((c) => c.at),
      );
      await runServiceChecks(ctx, env, release, record.service, live.url, record.deploymentId, {
        signal,
        progress: (line) => options.onProgress?.(`${record.service}: ${line}`),
      });
      checks.push(
        ...(await ctx.store.listCheckResults(record.deploymentId)).filter(
          (c) => c.service === record.service && !before.has(c.at),
        ),
      );
    }
    // The deployment's checks status follows its latest result per check: a re-run that passes
    // re-opens the gate a flaky failure closed (and a failing one closes it).
    for (const deploymentId of new Set(serving.map((r) => r.deploymentId))) {
      const latest = new Map<string, StoredCheckResult>();
      for (const c of await ctx.store.listCheckResults(deploymentId))
        latest.set(`${c.service}\0${c.name}`, c);
      if (latest.size === 0) continue;
      const ok = [...latest.values()].every((c) => c.status === 'passed');
      await ctx.store.updateDeployment(deploymentId, { checksStatus: ok ? 'passed' : 'failed' });
    }
    const passed = checks.every((c) => c.status === 'passed');
    const releases = [...new Set(Object.values(servingNow))];
    await audit(ctx, passed ? 'check.passed' : 'check.failed', {
      environment: env.name,
      releaseId: releases.length === 1 ? (releases[0] as string) : null,
      result: passed ? 'ok' : 'failed',
      detail: {
        serving: servingNow,
        checks: checks.map(({ service, name, status, message }) => ({
          service,
          name,
          status,
          message,
        })),
      },
    });
    return { environment: env.name, serving: servingNow, checks, passed };
  } finally {
    await lease.end();
  }
}
