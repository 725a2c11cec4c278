import { toAirlockError, UserError } from '../errors.ts';
import { formatDuration, GitHubIncidentIssues } from '../monitor/incident-issues.ts';
import { gitHubBranchCi, Monitor, type MonitorPassResult } from '../monitor/monitor.ts';
import { monitorSettings } from '../monitor/monitor-settings.ts';
import type { Incident } from '../state/state-store.ts';
import type { CommandIO } from './command-io.ts';
import type { MonitorOptions } from './commands/monitor.ts';
import { formatAge, type Reporter } from './reporter.ts';
import { withSession } from './session.ts';
import { parseDuration } from './wait.ts';

function reportPass(reporter: Reporter, result: MonitorPassResult): void {
  if (result.standby) {
    reporter.info(
      `standing by: ${result.standby.holder} (pid ${result.standby.pid} on ${result.standby.host}) runs the monitor until ${result.standby.expiresAt}.`,
    );
    return;
  }
  for (const e of result.environments) {
    const failed = e.samples.filter((s) => !s.ok);
    if (failed.length === 0)
      reporter.info(
        `✔ ${e.environment}: ${e.samples.length} check${e.samples.length === 1 ? '' : 's'} passed`,
      );
    else
      reporter.info(
        `✖ ${e.environment}: ${failed.length} of ${e.samples.length} checks failed — ${failed.map((s) => `${s.service} ${s.check}: ${s.message}`).join('; ')}`,
      );
  }
  for (const i of result.opened)
    reporter.warn(
      `incident #${i.id} opened on ${i.environment}${i.issueUrl ? `: ${i.issueUrl}` : ''}`,
    );
  for (const i of result.resolved)
    reporter.success(
      `incident #${i.id} on ${i.environment} resolved after ${formatDuration(i.durationMs ?? 0)}`,
    );
  for (const w of result.warnings) reporter.warn(w);
}

function passJson(result: MonitorPassResult) {
  return {
    at: result.at,
    standby: result.standby ? { holder: result.standby.holder, host: result.standby.host } : null,
    samples: result.environments.flatMap((e) => e.samples),
    opened: result.opened,
    changed: result.changed,
    resolved: result.resolved,
    open: result.open,
    warnings: result.warnings,
  };
}

/**
 * `airlock monitor [--once] [--interval 60s]`. With `--once`: one pass, exit 0 when no incident
 * is open, 1 when one is, 2 on an error. Without: a pass every interval until Ctrl-C.
 */
export async function monitorCommand(io: CommandIO, opts: MonitorOptions): Promise<number> {
  const { reporter } = io;
  try {
    return await withSession(io, async ({ ctx, integrations }) => {
      const settings = monitorSettings(ctx.config.raw);
      if (opts.interval) settings.intervalMs = parseDuration('--interval', opts.interval);
      const github = ctx.config.github;
      if (settings.issues && github && !integrations.github)
        reporter.warn(
          'GITHUB_TOKEN is not set: incidents are not tracked as GitHub issues (see docs/monitor.md).',
        );
      const monitor = new Monitor({
        ctx,
        settings,
        issues:
          settings.issues && integrations.github
            ? new GitHubIncidentIssues(integrations.github)
            : null,
        ...(integrations.notify ? { notify: integrations.notify } : {}),
        ...(integrations.github ? { ci: gitHubBranchCi(integrations.github) } : {}),
      });
      try {
        if (opts.once) {
          const result = await monitor.pass(io.signal);
          reportPass(reporter, result);
          reporter.result(passJson(result));
          return result.open.length > 0 ? 1 : 0;
        }
        reporter.info(`Monitoring every ${formatDuration(settings.intervalMs)} (Ctrl-C stops).`);
        let open = 0;
        while (!io.signal.aborted) {
          const started = Date.now();
          const result = await monitor.pass(io.signal);
          open = result.open.length;
          reportPass(reporter, result);
          const wait = Math.max(0, settings.intervalMs - (Date.now() - started));
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait);
            io.signal.addEventListener(
              'abort',
              () => {
                clearTimeout(timer);
                resolve();
              },
              { once: true },
            );
          });
        }
        return open > 0 ? 1 : 0;
      } finally {
        await monitor.release().catch(() => {});
      }
    });
  } catch (error) {
    if (!opts.once) throw error;
    reporter.error(toAirlockError(error));
    return 2;
  }
}

function incidentRows(incidents: Incident[], now: Date): Array<Array<string | null>> {
  return incidents.map((i) => [
    `#${i.id}`,
    i.environment,
    i.status,
    formatAge(i.startedAt, now),
    i.durationMs === null ? null : formatDuration(i.durationMs),
    i.failing.map((c) => `${c.service} ${c.check}`).join(', '),
    i.issueUrl,
  ]);
}

/** `airlock incidents [--open] [--limit 20]`. */
export async function incidentsCommand(
  io: CommandIO,
  opts: { open?: boolean; limit: string },
): Promise<number> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new UserError('USAGE', `--limit expects a positive whole number, got "${opts.limit}".`);
  return withSession(io, async ({ ctx }) => {
    const incidents = await ctx.store.listIncidents({
      ...(opts.open ? { status: 'open' as const } : {}),
      limit,
    });
    if (incidents.length === 0) io.reporter.info('No incidents recorded.');
    else
      io.reporter.table(
        ['INCIDENT', 'ENVIRONMENT', 'STATUS', 'SINCE', 'DURATION', 'FAILING', 'ISSUE'],
        incidentRows(incidents, ctx.now()),
      );
    io.reporter.result({ incidents });
    return 0;
  });
}
