/**
 * `airlock migrate lint`: checks the working tree's files against `airlock.sum`, then lints
 * them with the engine of the first environment's database. By default it reports on the files
 * that environment has not run yet (earlier files give the schema they build); `--all` reports
 * on every file. Exit 1 when a finding is an error.
 */
import { formatFinding } from '../../migrations/lint/lint-migrations.ts';
import { lintPendingMigrations } from '../../migrations/lint-pending.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { databaseOf } from '../../pipeline/context.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { environmentDatabase, servicesWithDatabase, shown } from './migration-sources.ts';

export async function migrateLintCommand(
  io: CommandIO,
  opts: { service?: string; all?: boolean },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const first = config.pipeline[0] as string;
      const reports = [];
      for (const service of servicesWithDatabase(config, opts.service)) {
        const database = databaseOf(config, first, service.name);
        const files = await verifiedMigrationFiles(database.migrationsDir);
        const { only, report } = await lintPendingMigrations(
          files,
          database.engine,
          opts.all ? null : environmentDatabase(session.ctx, first, service.name),
        );
        if (!report) {
          io.reporter.info(
            `${service.name}: nothing to lint: ${first} has run every migration in ${shown(database.migrationsDir)} (\`airlock migrate lint --all\` lints them all).`,
          );
          reports.push({ service: service.name, environment: first, report: null });
          continue;
        }
        const plural = (count: number) => (count === 1 ? '' : 's');
        const scope = only
          ? `${only.length} migration${plural(only.length)} not yet applied on ${first}`
          : `all ${files.length} migration${plural(files.length)}`;
        const earlier = files.length - (only?.length ?? files.length);
        io.reporter.info(
          `${service.name}: linting ${scope} (${database.engine}${earlier > 0 ? `; ${earlier} earlier file${earlier === 1 ? ' gives' : 's give'} the schema` : ''}):`,
        );
        for (const finding of report.findings) {
          const line = `${finding.severity === 'error' ? '✖' : '⚠'} ${formatFinding({ ...finding, file: shown(finding.path) })}`;
          io.reporter.info(line);
        }
        for (const finding of report.suppressed) {
          io.reporter.note(
            `  suppressed: ${shown(finding.path)}:${finding.line}:${finding.col}: ${finding.rule}, because: ${finding.suppressedBecause}`,
          );
        }
        const n = (count: number, what: string) => `${count} ${what}${plural(count)}`;
        const summary = `${service.name}: ${n(report.errors, 'error')}, ${n(report.warnings, 'warning')}, ${report.suppressed.length} suppressed in ${n(report.files, 'file')} (${Math.round(report.durationMs)} ms).`;
        if (report.errors > 0) io.reporter.info(`✖ ${summary}`);
        else io.reporter.success(summary);
        reports.push({ service: service.name, environment: first, report });
      }
      const errors = reports.reduce((sum, r) => sum + (r.report?.errors ?? 0), 0);
      io.reporter.result({
        errors,
        warnings: reports.reduce((sum, r) => sum + (r.report?.warnings ?? 0), 0),
        services: reports,
      });
      if (errors > 0) {
        io.reporter.info(
          `Fix the error${errors === 1 ? '' : 's'} above (each says how), mark a deliberate drop or rename as the contract step of an expand/contract change (\`-- airlock:contract\`), or accept a finding with \`-- airlock:lint-ignore <rule> <reason>\`. See docs/migrations.md.`,
        );
        return 1;
      }
      return 0;
    },
    { recover: false },
  );
}
