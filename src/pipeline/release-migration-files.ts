/** A release's migration files, read from its stored snapshot and shown where they are in the project. */
import path from 'node:path';
import { type MigrationFile, readMigrationDir } from '../migrations/migration-files.ts';
import type { AirlockContext } from './context.ts';

/**
 * The migration files of `service` in a release's snapshot (artifact `digest`), read in the
 * service's layout. Each file's `path` is where it is in the project, relative to the project
 * root (`drizzle/0001_add_sku_price_check.sql`): that is what a failing migration or a lint
 * finding names, since the snapshot's own place in the artifact store means nothing to the
 * user. Nothing reads a file again by its path: what runs is its `sql`.
 */
export async function releaseMigrationFiles(
  ctx: Pick<AirlockContext, 'config' | 'artifacts'>,
  service: string,
  digest: string,
): Promise<MigrationFile[]> {
  const database = Object.values(ctx.config.environments).find(
    (environment) => environment.services[service]?.database,
  )?.services[service]?.database;
  const files = await readMigrationDir(
    await ctx.artifacts.view(digest),
    database?.layout ?? { layout: 'airlock' },
  );
  const folder = database
    ? path.relative(ctx.config.dir, database.migrationsDir).split(path.sep).join('/')
    : '';
  return files.map((file) => ({ ...file, path: path.posix.join(folder, file.filename) }));
}
