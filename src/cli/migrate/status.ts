/** `airlock migrate status <environment>`: the ledger against the migration files, per service. */

import { environmentNamed } from '../../config/environments.ts';
import { formatMigrationVersion, LAYOUTS } from '../../migrations/migration-name.ts';
import { type MigrationStatusRow, migrationStatus } from '../../migrations/migration-status.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { environmentDatabase, migrationSources } from './migration-sources.ts';

/** Exit 1 when an applied file was edited or removed. */
export async function migrateStatusCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const env = environmentNamed(ctx.config, environment);
      const report = [];
      for (const { service, files, source } of await migrationSources(
        ctx,
        environment,
        opts.release,
      )) {
        const status = await migrationStatus(
          files,
          environmentDatabase(session.ctx, env.name, service.name),
          env.previous ? environmentDatabase(session.ctx, env.previous, service.name) : null,
        );
        const layout = service.database?.layout.layout ?? 'airlock';
        io.reporter.info(
          `${service.name} on ${env.name} (files from ${source}, layout ${layout}${layout === 'airlock' ? '' : `: ${LAYOUTS[layout].tool}'s ${LAYOUTS[layout].shape}`}):`,
        );
        io.reporter.table(
          ['VERSION', 'NAME', 'STATUS', 'APPLIED', 'RELEASE', 'SHA256'],
          status.rows.map((row) => [
            formatMigrationVersion(row.version),
            row.name,
            stateLabel(row, env.previous),
            row.appliedAt?.replace('T', ' ').slice(0, 19) ?? null,
            row.release,
            row.sha256.slice(0, 12),
          ]),
        );
        for (const p of status.problems) io.reporter.warn(`${p.message} ${p.hint}`);
        report.push({
          service: service.name,
          layout,
          applied: status.applied,
          pending: status.pending.map((f) => f.filename),
          problems: status.problems,
          notOnPrevious: status.notOnPrevious.map((n) => ({
            file: n.file.filename,
            reason: n.reason,
          })),
        });
      }
      io.reporter.result({ environment, services: report });
      return report.some((r) => r.problems.length > 0) ? 1 : 0;
    },
    { environments: [environment] },
  );
}

/** The STATUS column. */
function stateLabel(row: MigrationStatusRow, previous: string | null | undefined): string {
  switch (row.state) {
    case 'applied':
      return 'applied';
    case 'edited':
      return 'EDITED after apply';
    case 'missing':
      return 'FILE MISSING';
    case 'pending':
      if (!row.notOnPrevious) return 'pending';
      return `pending (${row.notOnPrevious === 'not-applied' ? `not yet on ${previous}` : `differs on ${previous}`})`;
  }
}
