/**
 * `airlock migrate drift <a> <b>`: compares the live schemas of two environments' databases,
 * telling changes made outside migrations (drift: a live schema that differs from what its own
 * ledger's files produce) from differences the pending migrations explain. Exit 1 on drift.
 */

import { environmentNamed } from '../../config/environments.ts';
import { UserError } from '../../errors.ts';
import { environmentDrift, mergeDrift } from '../../migrations/environment-drift.ts';
import { driftError } from '../../migrations/schema-drift.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { databaseOf } from '../../pipeline/context.ts';
import { ledgerFilesFromReleases } from '../../pipeline/ledger-files.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { environmentDatabase, servicesWithDatabase } from './migration-sources.ts';

export async function migrateDriftCommand(
  io: CommandIO,
  a: string,
  b: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const envA = environmentNamed(config, a);
      const envB = environmentNamed(config, b);
      if (envA.name === envB.name) {
        throw new UserError('USAGE', `compare two different environments, not ${a} with itself.`, {
          hint: `e.g. \`airlock migrate drift ${config.pipeline[0]} ${config.pipeline[1] ?? '<environment>'}\`.`,
        });
      }
      const services = servicesWithDatabase(config, opts.service).filter(
        (s) => envA.services[s.name]?.database && envB.services[s.name]?.database,
      );
      const reports = [];
      for (const service of services) {
        const dbA = databaseOf(config, envA.name, service.name);
        const files = await verifiedMigrationFiles(dbA.migrationsDir, dbA.layout);
        const result = await environmentDrift(
          environmentDatabase(session.ctx, envA.name, service.name),
          environmentDatabase(session.ctx, envB.name, service.name),
          files,
          {
            // Rows a release applied that the working tree lacks (checked out before it).
            ledgerFiles: (ledgers) =>
              ledgerFilesFromReleases(session.ctx, service.name, files, ledgers),
          },
        );
        io.reporter.info(`${service.name}: ${envA.name} ↔ ${envB.name} (${dbA.engine}):`);
        for (const f of result.findings) io.reporter.info(`  ✖ drift: ${f.difference.message}`);
        for (const p of result.explainedByPending) {
          io.reporter.info(`  ℹ ${p.difference.message}`);
        }
        for (const p of result.problems) io.reporter.warn(`${p.environment}: ${p.message}`);
        if (!result.drifted) {
          io.reporter.success(
            result.explainedByPending.length === 0
              ? `${service.name}: no drift; ${envA.name} and ${envB.name} have the same schema.`
              : `${service.name}: no drift; the differences above are migrations one environment has not applied yet.`,
          );
        }
        reports.push({ service: service.name, ...result });
      }
      io.reporter.result({ environments: [envA.name, envB.name], services: reports });
      const all = mergeDrift(reports);
      if (all.drifted) {
        // Advice in the layout of the (first) drifted service's migrations folder.
        const drifted = reports.find((r) => r.drifted)?.service;
        const layout = drifted ? databaseOf(config, envA.name, drifted).layout.layout : undefined;
        const error = driftError(all, layout);
        const n = all.findings.length;
        // The findings are listed above; in --json they are in the error itself.
        throw io.reporter.json
          ? error
          : new UserError(
              error.code,
              `${n} schema difference${n === 1 ? '' : 's'} not explained by migrations (listed above).`,
              { hint: error.hint, details: error.details },
            );
      }
      return 0;
    },
    { recover: false, environments: [a, b] },
  );
}
