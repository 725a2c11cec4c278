import { UserError } from '../../errors.ts';
import { readMigrationDir } from '../../migrations/migration-files.ts';
import { checkAppliedOnPrevious, Migrator, notOnPreviousError } from '../../migrations/migrator.ts';
import { openMigrationDriver, readLedger } from '../context.ts';
import type { Step } from '../engine.ts';
import type { DeploymentRun } from './deployment-run.ts';

/**
 * Runs the release's migrations (from its stored snapshot) on the environment's database, one
 * transaction per file with its ledger row. A non-first environment refuses files that have not
 * succeeded on the previous environment with the same checksum (seed 000).
 */
export function migrateStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `migrate:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const { env, release } = d;
      const home = d.ctx.home;
      const artifact = release.services[service];
      const files = artifact?.migrationsDigest
        ? await readMigrationDir(d.ctx.artifacts.pathOf(artifact.migrationsDigest))
        : [];
      const driver = openMigrationDriver(home, env.name, service);
      try {
        const migrator = new Migrator(driver, files);
        const plan = await migrator.status();
        const newest = files.at(-1)?.version ?? 0;
        const ahead = plan.problems.filter(
          (p) => p.code === 'MIGRATION_MISSING_FILE' && p.version > newest,
        );
        if (ahead.length > 0 && ahead.length === plan.problems.length) {
          throw new UserError(
            'MIGRATION_MISSING_FILE',
            `${release.id} predates ${ahead.map((p) => p.file).join(', ')}, already applied on ${env.name}: its migrations cannot run against a newer schema.`,
            {
              hint: `To serve an older release again, roll back: \`airlock rollback ${env.name} --to ${release.id}\` (no migrations run).`,
            },
          );
        }
        if (env.previous && plan.pending.length > 0 && plan.problems.length === 0) {
          const missing = checkAppliedOnPrevious(
            plan.pending,
            await readLedger(home, env.previous, service),
          );
          if (missing.length > 0)
            throw notOnPreviousError(missing, { environment: env.name, previous: env.previous });
        }
        const result = await migrator.apply({
          appliedBy: d.ctx.actor,
          release: release.id,
          onProgress: (file, phase) => {
            if (phase === 'start') ctx.progress(`applying ${file.filename}`);
          },
        });
        const applied = result.applied.map(
          (e) => `${String(e.version).padStart(4, '0')}_${e.name}`,
        );
        if (applied.length > 0) {
          await d.ctx.store.appendAudit({
            at: d.ctx.now().toISOString(),
            actor: d.ctx.actor,
            action: 'migrations.applied',
            environment: env.name,
            releaseId: release.id,
            runId: d.runId,
            result: 'ok',
            detail: {
              service,
              applied: result.applied.map((e) => ({
                version: e.version,
                name: e.name,
                sha256: e.sha256,
                durationMs: e.durationMs,
              })),
            },
          });
        }
        return {
          status: 'succeeded',
          message: applied.length
            ? `applied ${applied.join(', ')}`
            : `up to date (${plan.applied.length} applied)`,
          output: { applied, durationMs: result.durationMs },
        };
      } finally {
        await driver.close();
      }
    },
  };
}
