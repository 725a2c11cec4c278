/**
 * `airlock migrate resolve <environment> <migration> --applied -m <why>`: records a migration as
 * applied on an environment without running it, after someone made the equivalent change
 * there by hand (see `migrations/resolve-migration.ts`). Under the environment's lock and the
 * database's migration lock, confirmed on a protected environment, audited
 * (`migrations.resolved`).
 */
import { environmentNamed } from '../../config/environments.ts';
import { UserError } from '../../errors.ts';
import { fileToResolve } from '../../migrations/resolve-migration.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { databaseOf } from '../../pipeline/context.ts';
import { acquireEnvironmentLock } from '../../pipeline/lock.ts';
import { audit } from '../../state/audit.ts';
import type { CommandIO } from '../command-io.ts';
import { confirmChange } from '../confirm.ts';
import { withSession } from '../session.ts';
import { oneServiceWithDatabase } from './migration-sources.ts';

export interface ResolveOptions {
  applied?: boolean;
  message: string;
  service?: string;
}

/**
 * @throws UserError `USAGE` (no `--applied`, an empty message, a driver that cannot record),
 *   what `fileToResolve` throws, `LOCK_HELD`.
 */
export async function migrateResolveCommand(
  io: CommandIO,
  environment: string,
  migration: string,
  opts: ResolveOptions,
): Promise<number> {
  if (!opts.applied) {
    throw new UserError(
      'USAGE',
      'say what to record: `--applied` records the migration as applied, running nothing.',
      {
        hint: `Run \`airlock migrate resolve ${environment} ${migration} --applied -m "<what you did by hand>"\` once the change is made on ${environment}.`,
      },
    );
  }
  const reason = opts.message.trim();
  if (!reason) {
    throw new UserError('USAGE', '-m must say what was done by hand, and why.', {
      hint: 'It goes into the audit log, for whoever reads the ledger next.',
    });
  }
  return withSession(
    io,
    async ({ ctx }) => {
      const env = environmentNamed(ctx.config, environment);
      const service = oneServiceWithDatabase(ctx.config, opts.service);
      const database = databaseOf(ctx.config, env.name, service.name);
      // The working tree's files, checked against airlock.sum (the file recorded is the file).
      const files = await verifiedMigrationFiles(database.migrationsDir, database.layout);
      const previousLedger = env.previous
        ? await ctx.databases.readLedger(databaseOf(ctx.config, env.previous, service.name))
        : null;
      // Checked before asking and again under the locks (another process may have applied it).
      const check = async () =>
        fileToResolve({
          migration,
          files,
          environment: env.name,
          ledger: await ctx.databases.readLedger(database),
          previous:
            env.previous && previousLedger
              ? { environment: env.previous, ledger: previousLedger }
              : null,
        });
      const file = await check();
      if (env.protected) {
        await confirmChange(
          io,
          `Record ${file.filename} as applied on ${env.name} (protected) without running it?`,
          env.name,
        );
      }
      const lock = await acquireEnvironmentLock(
        ctx,
        env.name,
        `migrate resolve ${file.filename} --applied`,
      );
      try {
        const driver = await ctx.databases.open(database);
        try {
          if (!driver.recordFile) {
            throw new UserError(
              'USAGE',
              `${service.name}'s ${database.engine} database on ${env.name} cannot record a migration without running it.`,
              { hint: 'Use a SQLite, Postgres or D1 database.' },
            );
          }
          const unlock = await driver.lock?.();
          try {
            await check();
            const entry = await driver.recordFile(file, { appliedBy: ctx.actor, release: null });
            await audit(ctx, 'migrations.resolved', {
              environment: env.name,
              detail: {
                service: service.name,
                file: file.filename,
                version: file.version,
                sha256: file.sha256,
                resolution: 'applied',
                message: reason,
                ...(env.previous ? { previous: env.previous } : {}),
              },
            });
            io.reporter.success(
              `Recorded ${file.filename} as applied on ${env.name} (${service.name}) without running it: "${reason}". The next deployment there runs only the files after it.`,
            );
            io.reporter.result({
              environment: env.name,
              service: service.name,
              resolved: { file: file.filename, ...entry },
              message: reason,
            });
          } finally {
            await unlock?.();
          }
        } finally {
          await driver.close();
        }
      } finally {
        await lock.release();
      }
      return 0;
    },
    { environments: [environment] },
  );
}
