/**
 * The migration files behind ledger rows that a release does not carry. An environment that
 * rolled back serves a release without the migrations a later release applied there
 * (migrations are never undone): its ledger still lists them, and the files are in the release
 * that carried them. Drift needs them to tell the schema those rows explain from a change made
 * outside migrations.
 */

import type { LedgerEntry } from '../migrations/ledger.ts';
import type { MigrationFile } from '../migrations/migration-files.ts';
import type { AirlockContext } from './context.ts';
import { releaseMigrationFiles } from './release-migration-files.ts';

/** How many of the newest releases are searched for a row whose own release is unknown. */
const SEARCHED_RELEASES = 50;

/**
 * The files of `service`'s ledger rows (in `ledgers`) that `files` do not carry, read from the
 * stored snapshots of the releases that do, matched by version and sha256: first the release
 * each row ran with, then the newest releases. Rows no release carries are left out (drift then
 * reports them as missing files). Reads only.
 */
export async function ledgerFilesFromReleases(
  ctx: AirlockContext,
  service: string,
  files: readonly MigrationFile[],
  ledgers: ReadonlyArray<readonly LedgerEntry[]>,
): Promise<MigrationFile[]> {
  const versions = new Set(files.map((f) => f.version));
  const wanted = new Map<string, LedgerEntry>();
  for (const entry of ledgers.flat()) {
    if (!versions.has(entry.version)) wanted.set(`${entry.version}:${entry.sha256}`, entry);
  }
  if (wanted.size === 0) return [];
  const ranWith = [...new Set([...wanted.values()].flatMap((e) => (e.release ? [e.release] : [])))];
  const releases = [
    ...(await ctx.store.findReleases(ranWith)),
    ...(await ctx.store.listReleases(SEARCHED_RELEASES)),
  ];
  const found: MigrationFile[] = [];
  const read = new Set<string>();
  for (const release of releases) {
    if (wanted.size === 0) break;
    const digest = release.services[service]?.migrationsDigest;
    if (!digest || read.has(digest)) continue;
    read.add(digest);
    for (const file of await releaseMigrationFiles(ctx, service, digest)) {
      const key = `${file.version}:${file.sha256}`;
      if (wanted.delete(key)) found.push(file);
    }
  }
  return found.sort((a, b) => a.version - b.version);
}
