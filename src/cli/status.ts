import { type EnvironmentHealth, environmentHealth } from '../monitor/health-summary.ts';
import { type EnvironmentStatus, environmentStatuses } from '../pipeline/status.ts';
import type { CommandIO } from './command-io.ts';
import { formatAge, type Reporter } from './reporter.ts';
import { withSession } from './session.ts';

/** The status table (and lock and drift notes). */
export function renderStatus(reporter: Reporter, statuses: EnvironmentStatus[], now: Date): void {
  reporter.table(
    ['ENVIRONMENT', 'SERVICE', 'RELEASE', 'COMMIT', 'SINCE', 'HEALTH', 'URL', 'LAST DEPLOYMENT'],
    statuses.flatMap((e) =>
      e.services.map((s) => [
        e.environment,
        s.service,
        s.release,
        s.commit ? `${s.commit.slice(0, 7)}${s.dirty ? ' (dirty)' : ''}` : null,
        s.since ? formatAge(s.since, now) : null,
        s.release === null
          ? null
          : `${s.healthy ? 'healthy' : 'DOWN'}${s.restarts ? ` (${s.restarts} restarts)` : ''}${s.drift ? ' (drift)' : ''}`,
        s.url,
        e.lastDeployment
          ? `${e.lastDeployment.kind} ${e.lastDeployment.releaseId} ${e.lastDeployment.interrupted ? 'interrupted' : e.lastDeployment.status} ${formatAge(e.lastDeployment.finishedAt ?? e.lastDeployment.startedAt, now)}${e.lastDeployment.interrupted ? ` — airlock resume ${e.environment}` : ''}`
          : null,
      ]),
    ),
  );
  for (const e of statuses) {
    if (e.lock) {
      reporter.info(
        `🔒 ${e.environment} is locked by ${e.lock.holder} (pid ${e.lock.pid}) since ${e.lock.acquiredAt}: "${e.lock.message}"`,
      );
    }
    for (const run of e.interrupted) {
      reporter.warn(
        `${e.environment}: run #${run.runId} (${run.kind} ${run.releaseId ?? ''}) was interrupted; \`airlock resume ${e.environment}\` finishes it.`,
      );
    }
    for (const s of e.services) {
      if (!s.drift) continue;
      const crash = s.lastCrash;
      reporter.warn(
        crash && s.release !== null && crash.release === s.release
          ? `${e.environment}/${s.service}: ${s.release} exited (${crash.signal ?? `code ${crash.exitCode}`}) at ${crash.at} and was not started again: it kept crashing, or its copy changed since it was deployed (an app must not write into its own folder); \`airlock local status\` shows where its output and the runtime's log are. Deploy it again to serve it from a fresh copy.`
          : e.interrupted.length > 0
            ? `${e.environment}/${s.service}: the runtime does not serve ${s.release ?? 'anything'} as recorded, since a run was interrupted (above); \`airlock resume ${e.environment}\` finishes it or puts back what served before.`
            : `${e.environment}/${s.service}: the runtime does not serve ${s.release ?? 'anything'} as recorded; run \`airlock local start\` or redeploy.`,
      );
    }
  }
}

/** One line per monitored environment: uptime 24 h / 7 d, p95, open incidents. */
export function renderHealth(reporter: Reporter, health: EnvironmentHealth[]): void {
  const pct = (v: number | null) => (v === null ? '–' : `${v}%`);
  for (const h of health) {
    const incidents = h.open.map(
      (i) => `incident #${i.id} open since ${i.startedAt}${i.issueUrl ? ` (${i.issueUrl})` : ''}`,
    );
    const line = `${h.environment}: uptime ${pct(h.uptime24h)} 24 h · ${pct(h.uptime7d)} 7 d · p95 ${h.p95Ms === null ? '–' : `${h.p95Ms} ms`}${incidents.length ? ` · ${incidents.join('; ')}` : ''}`;
    if (incidents.length) reporter.warn(line);
    else reporter.info(line);
  }
}

/**
 * `airlock status [env]`: environment → release, commit, since when, health; every environment
 * of the pipeline, or only `environment`.
 */
export async function statusCommand(
  io: CommandIO,
  environment: string | undefined,
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const environments = environment ? [environment] : ctx.config.pipeline;
      const statuses = await environmentStatuses(ctx, environments);
      renderStatus(io.reporter, statuses, ctx.now());
      const health = await environmentHealth(ctx.store, environments, ctx.now());
      renderHealth(io.reporter, health);
      io.reporter.note(`Airlock home: ${ctx.config.home.dir} (\`airlock home show\`)`);
      io.reporter.result({ environments: statuses, monitor: health, home: ctx.config.home.dir });
      return 0;
    },
    { environments: [environment] },
  );
}
