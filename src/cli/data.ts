/**
 * `airlock data seed <env>` and `airlock data refresh <env> --from <env>` (`src/data/`).
 */
import { refreshData } from '../data/refresh.ts';
import { seedData } from '../data/seed.ts';
import { recheckEnvironment } from '../pipeline/recheck.ts';
import type { CommandIO } from './command-io.ts';
import { checkJson } from './deploy.ts';
import { withSession } from './session.ts';

/** `airlock data seed <env>`. */
export async function dataSeedCommand(
  io: CommandIO,
  environment: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      const results = await seedData(ctx, environment, opts);
      if (results.length === 0)
        io.reporter.info(`No service of ${environment} has data.seed: nothing to run.`);
      for (const r of results) {
        if (r.command) io.reporter.success(`${r.service}: ran \`${r.command}\` on ${environment}.`);
        else
          io.reporter.success(
            `${r.service}: ${r.ran.length} seed file${r.ran.length === 1 ? '' : 's'} run on ${environment}${r.ran.length ? ` (${r.ran.join(', ')})` : ''}${r.skipped.length ? `; ${r.skipped.length} already run with the same content` : ''}.`,
          );
      }
      io.reporter.result({ seeded: results });
      return 0;
    },
    { environments: [environment] },
  );
}

const rate = (rows: number, ms: number) =>
  ms > 0 ? `${Math.round((rows * 1000) / ms).toLocaleString('en-US')} rows/s` : '';

/** `airlock data refresh <env> --from <env>`. */
export async function dataRefreshCommand(
  io: CommandIO,
  environment: string,
  opts: { from: string; service?: string; check?: boolean },
): Promise<number> {
  return withSession(
    io,
    async ({ ctx }) => {
      let shown = 0;
      const started = new Map<string, number>();
      const results = await refreshData(ctx, {
        target: environment,
        source: opts.from,
        ...(opts.service ? { service: opts.service } : {}),
        onProgress: (service, table, rows) => {
          const now = Date.now();
          if (!started.has(table)) started.set(table, now);
          if (now - shown < 2000) return;
          shown = now;
          const speed = rate(rows, now - (started.get(table) ?? now));
          io.reporter.note(
            `${service}: copying ${table}: ${rows.toLocaleString('en-US')} rows${speed ? ` (${speed})` : ''}`,
          );
        },
      });
      for (const r of results) {
        for (const t of r.tables)
          io.reporter.info(
            `${r.service}: ${t.table}: ${t.rows.toLocaleString('en-US')} rows in ${(t.ms / 1000).toFixed(1)} s${t.rows ? ` (${rate(t.rows, t.ms)})` : ''}`,
          );
        if (r.excluded.length)
          io.reporter.info(`${r.service}: emptied ${r.excluded.join(', ')} (excluded).`);
        if (r.uncovered.length)
          io.reporter.warn(
            `${r.service}: copied as they are (strict is off, no rule): ${r.uncovered.join(', ')}.`,
          );
        io.reporter.success(
          `${r.service}: ${environment} now holds a scrubbed copy of ${opts.from}'s data (${(r.durationMs / 1000).toFixed(1)} s).${opts.check ? '' : ` Run \`airlock check ${environment}\` to check it.`}`,
        );
      }
      if (!opts.check) {
        io.reporter.result({ refreshed: results });
        return 0;
      }
      const checked = await recheckEnvironment(ctx, environment, {
        signal: io.signal,
        onProgress: (line) => io.reporter.info(`  ${line}`),
      });
      const failed = checked.checks.filter((c) => c.status === 'failed').length;
      if (failed === 0)
        io.reporter.success(
          `${checked.checks.length} check${checked.checks.length === 1 ? '' : 's'} passed on ${environment} after the refresh.`,
        );
      else
        io.reporter.warn(
          `${failed} of ${checked.checks.length} checks failed on ${environment} after the refresh.`,
        );
      io.reporter.result({
        refreshed: results,
        checks: checked.checks.map(checkJson),
        passed: checked.passed,
      });
      return checked.passed ? 0 : 1;
    },
    { environments: [environment, opts.from] },
  );
}
