import path from 'node:path';
import type { ResolvedService } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import {
  createMigrationFile,
  type MigrationFile,
  readMigrationDir,
} from '../migrations/migration-files.ts';
import { checkAppliedOnPrevious, planMigrations } from '../migrations/migrator.ts';
import { type AirlockContext, databaseOf, readLedger } from '../pipeline/context.ts';
import { acquireEnvironmentLock } from '../pipeline/lock.ts';
import { migrateService } from '../pipeline/migrate.ts';
import { environmentNamed, releaseNamed } from '../pipeline/plan.ts';
import { confirmChange } from './confirm.ts';
import type { CommandIO } from './main.ts';
import { withSession } from './session.ts';

/** Services with a database, with the migration files to use: a release's snapshot or the working tree. */
async function migrationSources(
  ctx: AirlockContext,
  environment: string,
  releaseRef: string | undefined,
): Promise<Array<{ service: ResolvedService; files: MigrationFile[]; source: string }>> {
  const env = environmentNamed(ctx.config, environment);
  const release = releaseRef ? await releaseNamed(ctx, releaseRef) : undefined;
  const out = [];
  for (const name of ctx.config.services) {
    const service = env.services[name];
    if (!service?.database) continue;
    if (release) {
      const digest = release.services[name]?.migrationsDigest;
      if (digest) await ctx.artifacts.verify(digest);
      const files = digest ? await readMigrationDir(ctx.artifacts.pathOf(digest)) : [];
      out.push({ service, files, source: `release ${release.id}` });
    } else {
      out.push({
        service,
        files: await readMigrationDir(service.database.migrationsDir),
        source: path.relative(process.cwd(), service.database.migrationsDir) || '.',
      });
    }
  }
  if (out.length === 0) {
    throw new UserError('UNKNOWN_SERVICE', 'no service in airlock.yaml has a database.', {
      hint: 'Add `database: { engine: sqlite }` to a service.',
    });
  }
  return out;
}

/** `airlock migrate status <env>`. */
export async function migrateStatusCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const report = [];
    for (const { service, files, source } of await migrationSources(
      ctx,
      environment,
      opts.release,
    )) {
      const plan = planMigrations(
        files,
        await readLedger(databaseOf(ctx.config, env.name, service.name)),
      );
      const previous = env.previous
        ? await readLedger(databaseOf(ctx.config, env.previous, service.name))
        : null;
      const notOnPrevious = previous ? checkAppliedOnPrevious(plan.pending, previous) : [];
      io.reporter.info(`${service.name} on ${env.name} (files from ${source}):`);
      const rows: Array<Array<string | number | null>> = [];
      for (const entry of plan.applied) {
        const problem = plan.problems.find((p) => p.version === entry.version);
        rows.push([
          String(entry.version).padStart(4, '0'),
          entry.name,
          problem
            ? problem.code === 'MIGRATION_CHECKSUM_MISMATCH'
              ? 'EDITED after apply'
              : 'FILE MISSING'
            : 'applied',
          entry.appliedAt.replace('T', ' ').slice(0, 19),
          entry.release,
          entry.sha256.slice(0, 12),
        ]);
      }
      for (const file of plan.pending) {
        const blocked = notOnPrevious.find((n) => n.file.version === file.version);
        rows.push([
          String(file.version).padStart(4, '0'),
          file.name,
          blocked
            ? `pending (${blocked.reason === 'not-applied' ? `not yet on ${env.previous}` : `differs on ${env.previous}`})`
            : 'pending',
          null,
          null,
          file.sha256.slice(0, 12),
        ]);
      }
      io.reporter.table(['VERSION', 'NAME', 'STATUS', 'APPLIED', 'RELEASE', 'SHA256'], rows);
      for (const p of plan.problems) io.reporter.warn(`${p.message} ${p.hint}`);
      report.push({
        service: service.name,
        applied: plan.applied,
        pending: plan.pending.map((f) => f.filename),
        problems: plan.problems,
        notOnPrevious: notOnPrevious.map((n) => ({ file: n.file.filename, reason: n.reason })),
      });
    }
    io.reporter.result({ environment, services: report });
    return report.some((r) => r.problems.length > 0) ? 1 : 0;
  });
}

/** `airlock migrate apply <env>`: under the environment lock; staging-first rule enforced. */
export async function migrateApplyCommand(
  io: CommandIO,
  environment: string,
  opts: { release?: string },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const env = environmentNamed(ctx.config, environment);
    const sources = await migrationSources(ctx, environment, opts.release);
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
          onFile: (file, phase, entry) => {
            if (phase === 'done' && entry) {
              io.reporter.success(`${service.name}: ${file.filename} [${entry.durationMs} ms]`);
            }
          },
        });
        if (result.applied.length === 0) {
          io.reporter.info(`${service.name}: nothing pending on ${env.name}.`);
        }
        results.push({ service: service.name, applied: result.applied });
      }
    } finally {
      await lock.release();
    }
    io.reporter.result({ environment, services: results });
    return 0;
  });
}

/** `airlock migrate create <name>`: the next numbered file. */
export async function migrateCreateCommand(
  io: CommandIO,
  name: string,
  opts: { service?: string },
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { config } = session.ctx;
      const first = config.environments[config.pipeline[0] as string];
      const candidates = Object.values(first?.services ?? {}).filter(
        (s) => s.database && (!opts.service || s.name === opts.service),
      );
      if (candidates.length !== 1) {
        throw new UserError(
          'UNKNOWN_SERVICE',
          opts.service
            ? `service "${opts.service}" has no database in airlock.yaml.`
            : 'several services have a database.',
          {
            hint: `Pass --service <name> (services with a database: ${
              Object.values(first?.services ?? {})
                .filter((s) => s.database)
                .map((s) => s.name)
                .join(', ') || 'none'
            }).`,
          },
        );
      }
      const file = await createMigrationFile(
        (candidates[0] as ResolvedService).database!.migrationsDir,
        name,
      );
      io.reporter.success(`Created ${path.relative(process.cwd(), file)}`);
      io.reporter.result({ file });
      return 0;
    },
    { recover: false },
  );
}
