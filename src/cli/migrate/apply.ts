/**
 * `airlock migrate apply <environment> [--dry-run]`: applies the pending migrations under the
 * environment's lock (staging-first rule enforced), or replays them on a throwaway copy.
 */
import path from 'node:path';
import { environmentNamed } from '../../config/environments.ts';
import { migrationFilename, withDeployTarget } from '../../migrations/migration-name.ts';
import { databaseOf } from '../../pipeline/context.ts';
import { describeHold } from '../../pipeline/contract.ts';
import { acquireEnvironmentLock } from '../../pipeline/lock.ts';
import { migrateService } from '../../pipeline/migrate.ts';
import type { CommandIO } from '../command-io.ts';
import { confirmChange } from '../confirm.ts';
import { type Session, withSession } from '../session.ts';
import { environmentDatabase, migrationSources, shown } from './migration-sources.ts';

/** The session's context, the environment, and the migration files each service would apply there. */
async function migrationTarget(session: Session, environment: string, release?: string) {
  const { ctx } = session;
  const env = environmentNamed(ctx.config, environment);
  return { ctx, env, sources: await migrationSources(ctx, environment, release) };
}

/** With `--dry-run`, see `migrateDryRunCommand`. */
export async function migrateApplyCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string; dryRun?: boolean },
): Promise<number> {
  if (opts.dryRun) return migrateDryRunCommand(io, environment, opts);
  return withSession(
    io,
    async (session) => {
      const { ctx, env, sources } = await migrationTarget(session, environment, opts.release);
      if (env.protected)
        await confirmChange(io, `Apply pending migrations to ${env.name} (protected)?`, env.name);
      const lock = await acquireEnvironmentLock(
        ctx,
        env.name,
        `migrate apply${opts.release ? ` ${opts.release}` : ''}`,
      );
      const results = [];
      try {
        for (const { service, files } of sources) {
          const result = await migrateService(ctx, env, service.name, files, {
            release: opts.release ?? null,
            runId: null,
            signal: io.signal,
            onFile: (file, phase, entry) => {
              if (phase === 'done' && entry) {
                io.reporter.success(`${service.name}: ${file.filename} [${entry.durationMs} ms]`);
              }
            },
          });
          if (result.hold) io.reporter.info(`ℹ ${describeHold(result.hold, env, service.name)}`);
          else if (result.applied.length === 0) {
            io.reporter.info(`${service.name}: nothing pending on ${env.name}.`);
          }
          results.push({ service: service.name, applied: result.applied, held: result.hold });
        }
      } finally {
        await lock.release();
      }
      io.reporter.result({ environment, services: results });
      return 0;
    },
    { environments: [environment] },
  );
}

/**
 * `airlock migrate apply <env> --dry-run`: replays the pending files (working tree, checked
 * against airlock.sum, or `--release`) on a throwaway copy of each database and reports what
 * would apply and the first failure. The environment is not touched, so no lock is taken and
 * no confirmation asked. Exit 1 when a file would fail, or when apply would refuse files that
 * have not run on the previous environment first.
 */
async function migrateDryRunCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx, env, sources } = await migrationTarget(session, environment, opts.release);
      // Loaded only for a dry run: it brings the Postgres client and the scratch-copy code.
      const { dryRunPending } = await import('../../migrations/dry-run-pending.ts');
      io.reporter.info(
        `Dry run on ${env.name}: each pending migration runs on a throwaway copy of its database; ${env.name} itself is not touched (no lock taken).`,
      );
      const results = [];
      let failed = false;
      for (const { service, files, source } of sources) {
        const database = databaseOf(ctx.config, env.name, service.name);
        const replayed = await dryRunPending(
          files,
          environmentDatabase(session.ctx, env.name, service.name),
          env.previous ? environmentDatabase(session.ctx, env.previous, service.name) : null,
          { appliedBy: ctx.actor, release: opts.release ?? null },
        );
        // A failed file's fix is a new release, which enters at the first environment.
        const first = ctx.config.pipeline[0] ?? env.name;
        const result = replayed.failed?.hint
          ? {
              ...replayed,
              failed: { ...replayed.failed, hint: withDeployTarget(replayed.failed.hint, first) },
            }
          : replayed;
        io.reporter.info(
          `${service.name} (files from ${source}; ${database.engine} copy, ${result.durationMs} ms):`,
        );
        for (const entry of result.applied) {
          // The file as its layout names it (`…_init/migration.sql` for Prisma's).
          const file = files.find((f) => f.version === entry.version)?.filename;
          io.reporter.success(
            `${file ?? migrationFilename(entry.version, entry.name)} would apply [${entry.durationMs} ms]`,
          );
        }
        if (result.failed) {
          failed = true;
          const at = path.isAbsolute(result.failed.file)
            ? shown(result.failed.file)
            : result.failed.file;
          io.reporter.info(`✖ ${at} would fail: ${result.failed.message}`);
          if (result.failed.hint) io.reporter.info(`  → ${result.failed.hint}`);
          const skipped = result.pending.slice(result.applied.length + 1);
          if (skipped.length > 0) {
            io.reporter.info(`  not reached: ${skipped.join(', ')}`);
          }
        } else if (result.pending.length === 0) {
          io.reporter.info(`  nothing pending on ${env.name}.`);
        }
        if (result.refusal) {
          failed = true;
          io.reporter.info(`✖ apply would refuse: ${result.refusal.message}`);
          if (result.refusal.hint) io.reporter.info(`  → ${result.refusal.hint}`);
        }
        results.push({
          service: service.name,
          source,
          pending: result.pending,
          applied: result.applied,
          failed: result.failed,
          notOnPrevious: result.notOnPrevious.map((n) => ({
            file: n.file.filename,
            reason: n.reason,
          })),
          durationMs: result.durationMs,
        });
      }
      io.reporter.result({ environment: env.name, dryRun: true, services: results });
      if (failed) {
        io.reporter.info(`✖ apply would fail on ${env.name} (see above); nothing changed there.`);
        return 1;
      }
      io.reporter.success(
        `Every pending migration applies on a copy of ${env.name}; nothing changed there. Run \`airlock migrate apply ${env.name}${opts.release ? ` --release ${opts.release}` : ''}\` to apply them.`,
      );
      return 0;
    },
    { environments: [environment] },
  );
}
