/** A release's migration files, read from its stored snapshot and shown where they are in the project. */
import path from 'node:path';
import { UserError } from '../errors.ts';
import { type MigrationFile, readMigrationDir } from '../migrations/migration-files.ts';
import type { Release } from '../state/state-store.ts';
import { type AirlockContext, anyDatabaseOf } from './context.ts';

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
  const database = anyDatabaseOf(ctx.config, service);
  const files = await readMigrationDir(
    await ctx.artifacts.view(digest),
    database?.layout ?? { layout: 'airlock' },
  );
  const folder = database
    ? path.relative(ctx.config.dir, database.migrationsDir).split(path.sep).join('/')
    : '';
  return files.map((file) => ({ ...file, path: path.posix.join(folder, file.filename) }));
}

/**
 * The migration files `release` carries for `service`, from its stored snapshot.
 * @throws UserError `RELEASE_NOT_STORED` when the snapshot is neither stored on this machine
 *   nor in a shared store (the release was built on another machine): read as no files, every
 *   applied migration would look deleted.
 */
export async function releaseMigrations(
  ctx: Pick<AirlockContext, 'config' | 'artifacts'>,
  release: Release,
  service: string,
): Promise<MigrationFile[]> {
  const digest = release.services[service]?.migrationsDigest;
  if (!digest) return [];
  if (!ctx.artifacts.has(digest) && !ctx.artifacts.remote) {
    throw new UserError(
      'RELEASE_NOT_STORED',
      `${release.id} was built from ${release.commit.slice(0, 7)} by ${release.createdBy} on another machine, and its files are not stored on this one.`,
      {
        hint: `Build the commit here (\`airlock build --commit ${release.commit.slice(0, 7)}\`: it is ${release.id} again when the build gives the same bytes, a new release otherwise), or give every machine one shared artifact store (\`artifacts:\` in airlock.yaml) so each deploys the same bytes.`,
        details: { release: release.id, digest },
      },
    );
  }
  return releaseMigrationFiles(ctx, service, digest);
}
