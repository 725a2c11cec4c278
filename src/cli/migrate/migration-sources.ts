/**
 * What the `airlock migrate` subcommands act on, from airlock.yaml and the flags: the services
 * with a database, the migration files to use (a release's snapshot or the working tree) and
 * each environment's database as `src/migrations` reaches it.
 */
import path from 'node:path';
import { environmentNamed } from '../../config/environments.ts';
import type { ResolvedConfig, ResolvedService } from '../../config/resolve.ts';
import { UserError } from '../../errors.ts';
import type { EnvironmentDatabase } from '../../migrations/environment-database.ts';
import type { MigrationFile } from '../../migrations/migration-files.ts';
import { verifiedMigrationFiles } from '../../migrations/verified-migration-files.ts';
import { type AirlockContext, databaseOf } from '../../pipeline/context.ts';
import { releaseNamed } from '../../pipeline/decide.ts';
import { releaseMigrationFiles } from '../../pipeline/release-migration-files.ts';

/** `p` for messages: relative to the working directory when inside it, else absolute. */
export function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  // Outside the working folder (an environment's database is in Airlock's home): absolute.
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel || '.';
}

/**
 * `service`'s database on `environment`, as the operations in `src/migrations` reach it. It is
 * resolved when first used, so an environment a command may not need to read (the previous
 * one, when nothing is pending) cannot fail it.
 */
export function environmentDatabase(
  ctx: Pick<AirlockContext, 'config' | 'databases'>,
  environment: string,
  service: string,
): EnvironmentDatabase {
  const database = () => databaseOf(ctx.config, environment, service);
  return {
    environment,
    readLedger: async () => ctx.databases.readLedger(database()),
    location: async () => ctx.databases.location(database()),
  };
}

function noDatabaseError(): UserError {
  return new UserError('UNKNOWN_SERVICE', 'no service in airlock.yaml has a database.', {
    hint: 'Add `database: { engine: sqlite }` to a service.',
  });
}

/**
 * The services with a database (as the first environment has them), or the one `--service`
 * names.
 * @throws UserError `UNKNOWN_SERVICE`.
 */
export function servicesWithDatabase(
  config: ResolvedConfig,
  only: string | undefined,
): ResolvedService[] {
  const first = config.environments[config.pipeline[0] as string];
  const all = Object.values(first?.services ?? {}).filter((s) => s.database);
  if (only) {
    const service = all.find((s) => s.name === only);
    if (!service) {
      throw new UserError(
        'UNKNOWN_SERVICE',
        config.services.includes(only)
          ? `service "${only}" has no database in ${config.displayFile}.`
          : `there is no service "${only}" in ${config.displayFile}.`,
        { hint: `Services with a database: ${all.map((s) => s.name).join(', ') || 'none'}.` },
      );
    }
    return [service];
  }
  if (all.length === 0) throw noDatabaseError();
  return all;
}

/**
 * The one service a command acts on: `--service`, or the only one with a database.
 * @throws UserError `UNKNOWN_SERVICE`, also when several services have a database.
 */
export function oneServiceWithDatabase(
  config: ResolvedConfig,
  only: string | undefined,
): ResolvedService {
  const services = servicesWithDatabase(config, only);
  if (services.length !== 1) {
    throw new UserError('UNKNOWN_SERVICE', 'several services have a database.', {
      hint: `Pass --service <name> (services with a database: ${services.map((s) => s.name).join(', ')}).`,
    });
  }
  return services[0] as ResolvedService;
}

/** One service's migration files, and where they come from (for messages). */
export interface MigrationSource {
  service: ResolvedService;
  files: MigrationFile[];
  /** `release r3`, or the working tree's folder. */
  source: string;
}

/**
 * The services of `environment` with a database, with the migration files to use: the
 * snapshot of release `releaseRef` (verified against its digest), else the working tree's
 * (checked against airlock.sum).
 * @throws UserError `UNKNOWN_SERVICE` when no service has a database; `UNKNOWN_ENVIRONMENT`,
 *   `RELEASE_NOT_FOUND`, `MIGRATION_INTEGRITY`.
 */
export async function migrationSources(
  ctx: AirlockContext,
  environment: string,
  releaseRef: string | undefined,
): Promise<MigrationSource[]> {
  const env = environmentNamed(ctx.config, environment);
  const release = releaseRef ? await releaseNamed(ctx, releaseRef) : undefined;
  const out = [];
  for (const name of ctx.config.services) {
    const service = env.services[name];
    if (!service?.database) continue;
    if (release) {
      const digest = release.services[name]?.migrationsDigest;
      if (digest) await ctx.artifacts.verify(digest);
      const files = digest ? await releaseMigrationFiles(ctx, name, digest) : [];
      out.push({ service, files, source: `release ${release.id}` });
    } else {
      // A release's files were checked against airlock.sum when it was built.
      out.push({
        service,
        files: await verifiedMigrationFiles(
          service.database.migrationsDir,
          service.database.layout,
        ),
        source: shown(service.database.migrationsDir),
      });
    }
  }
  if (out.length === 0) throw noDatabaseError();
  return out;
}
