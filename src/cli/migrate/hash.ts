/**
 * `airlock migrate hash`: writes `airlock.sum` for each service's migrations folder (the
 * working tree) and says what changed since the old one.
 */
import path from 'node:path';
import { hashMigrations, type SumUpdate } from '../../migrations/hash-migrations.ts';
import { SUM_FILENAME } from '../../migrations/integrity.ts';
import {
  type MigrationLayout,
  newMigrationAdvice,
  restoreAppliedAdvice,
} from '../../migrations/migration-name.ts';
import { restorePoint } from '../../pipeline/migrate.ts';
import type { CommandIO } from '../command-io.ts';
import { withSession } from '../session.ts';
import { environmentDatabase, servicesWithDatabase, shown } from './migration-sources.ts';

export async function migrateHashCommand(
  io: CommandIO,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const reports: Array<{ service: string } & SumUpdate> = [];
      const seen = new Set<string>();
      const layouts = new Map<string, MigrationLayout>();
      for (const service of servicesWithDatabase(config, opts.service)) {
        const dir = service.database!.migrationsDir;
        if (seen.has(dir)) continue;
        seen.add(dir);
        layouts.set(service.name, service.database!.layout.layout);
        // Every environment that has the service's database, in pipeline order.
        const databases = config.pipeline
          .filter(
            (environment) => config.environments[environment]?.services[service.name]?.database,
          )
          .map((environment) => environmentDatabase(session.ctx, environment, service.name));
        reports.push({
          service: service.name,
          ...(await hashMigrations(dir, databases, service.database!.layout)),
        });
      }
      for (const r of reports) {
        const what = `${shown(r.file)} (${r.files} file${r.files === 1 ? '' : 's'})`;
        if (r.replaced) {
          io.reporter.warn(
            `${r.service}: the old ${SUM_FILENAME} had ${r.replaced === 'merge-conflict' ? 'merge conflict markers' : 'been edited by hand'}; it is rewritten from the files now in ${shown(r.dir)}.`,
          );
        }
        const changes = r.added.length + r.changed.length + r.removed.length;
        if (changes === 0 && !r.replaced) {
          io.reporter.success(`${r.service}: ${what} is up to date.`);
          continue;
        }
        io.reporter.success(`${r.service}: wrote ${what}.`);
        // Without a readable old sum, every file is listed, not "added".
        for (const f of r.added) io.reporter.info(r.replaced ? `    ${f}` : `  + ${f} (added)`);
        for (const f of r.changed) io.reporter.info(`  ~ ${f} (changed)`);
        for (const f of r.removed) io.reporter.info(`  - ${f} (removed)`);
        // airlock.sum records the edit, but the ledger still holds the checksum the file ran
        // with: deploying it stays refused, so the warning says so and how to undo the edit.
        for (const a of r.appliedElsewhere) {
          const ranWith = await restorePoint(session.ctx, a.release);
          io.reporter.warn(
            `${a.file} already ran on ${a.environment} with its old content, and ${a.environment}'s ledger keeps that checksum: ${SUM_FILENAME} now records the edit, but a deployment with it (\`airlock deploy ${a.environment}\`, or \`airlock migrate apply ${a.environment}\`) is still refused. Restore it ${restoreAppliedAdvice(shown(path.join(r.dir, a.file)), ranWith)}, run \`airlock migrate hash\` again, and ${newMigrationAdvice(layouts.get(r.service) ?? 'airlock')}.`,
          );
        }
      }
      io.reporter.result({ services: reports });
      return 0;
    },
    { recover: false },
  );
}
