import { migrationLabel } from '../../migrations/migration-name.ts';
import { applyCommand } from '../contract.ts';
import type { Step } from '../engine.ts';
import { migrateService } from '../migrate.ts';
import { releaseMigrationFiles } from '../release-migration-files.ts';
import type { DeploymentRun } from './deployment-run.ts';

/**
 * Runs the release's migrations (from its stored snapshot) on the environment's database
 * (see `migrateService`: one transaction per file, staging-first, audited).
 */
export function migrateStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `migrate:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const artifact = d.release.services[service];
      const files = artifact?.migrationsDigest
        ? await releaseMigrationFiles(d.ctx, service, artifact.migrationsDigest)
        : [];
      const result = await migrateService(d.ctx, d.env, service, files, {
        release: d.release.id,
        runId: d.runId,
        serving: d.before.find((s) => s.service === service)?.releaseId ?? null,
        signal: ctx.signal,
        onFile: (file, phase) => {
          if (phase === 'start') ctx.progress(`applying ${file.filename}`);
        },
      });
      const applied = result.applied.map((e) => migrationLabel(e.version, e.name));
      const held = result.hold
        ? `; held back ${result.hold.heldBack.map((h) => h.filename).join(', ')} (contract: ${d.env.name} served ${result.hold.serving}, which predates it; run \`${applyCommand(d.env)}\` again once ${d.release.id} serves there)`
        : '';
      return {
        status: 'succeeded',
        message: `${applied.length ? `applied ${applied.join(', ')}` : `up to date (${result.alreadyApplied} applied)`}${held}`,
        output: {
          applied,
          durationMs: result.durationMs,
          ...(result.hold ? { held: result.hold } : {}),
        },
      };
    },
  };
}
