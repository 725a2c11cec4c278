/**
 * Releases in the state store: numbered `r<seq>` as they are built, found by id, digest or
 * commit prefix, as the clean build of a commit, or by content (commit + digest + dirty; the
 * same content is one release).
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import { sql } from 'kysely';
import type { NewRelease, Release } from './state-store.ts';
import { isUniqueViolation, json, parse, type Row, type StoreAccess } from './store-access.ts';

function toRelease(r: Row<'releases'>): Release {
  return {
    id: r.id,
    seq: Number(r.seq),
    digest: r.digest,
    commit: r.commit_sha,
    dirty: Boolean(r.dirty),
    subject: r.subject,
    createdAt: r.created_at,
    createdBy: r.created_by,
    buildMs: Number(r.build_ms),
    services: parse(r.services),
  };
}

export async function insertRelease(access: StoreAccess, release: NewRelease): Promise<Release> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await access.write(async (db) => {
        const max = await db
          .selectFrom('releases')
          .select(sql<number>`coalesce(max(seq), 0)`.as('max'))
          .executeTakeFirst();
        const seq = Number(max?.max ?? 0) + 1;
        const row = {
          id: `r${seq}`,
          seq,
          digest: release.digest,
          commit_sha: release.commit,
          dirty: release.dirty ? 1 : 0,
          subject: release.subject,
          created_at: release.createdAt,
          created_by: release.createdBy,
          build_ms: release.buildMs,
          services: json(release.services),
        };
        await db.insertInto('releases').values(row).execute();
        return toRelease(row);
      }, true);
    } catch (error) {
      // Another process built at the same moment: the same content is one release; a
      // different one takes the next number.
      if (!isUniqueViolation(error) || attempt >= 5) throw error;
      const same = await findReleaseByContent(
        access,
        release.commit,
        release.digest,
        release.dirty,
      );
      if (same) return same;
    }
  }
}

export async function findRelease(access: StoreAccess, ref: string): Promise<Release | undefined> {
  const trimmed = ref.trim().toLowerCase();
  if (/^r\d+$/.test(trimmed)) {
    const row = await access.db
      .selectFrom('releases')
      .selectAll()
      .where('id', '=', trimmed)
      .executeTakeFirst();
    return row ? toRelease(row) : undefined;
  }
  if (!/^[0-9a-f]{7,64}$/.test(trimmed)) return undefined;
  const row = await access.db
    .selectFrom('releases')
    .selectAll()
    .where((eb) =>
      eb.or([eb('digest', 'like', `${trimmed}%`), eb('commit_sha', 'like', `${trimmed}%`)]),
    )
    .orderBy('seq', 'desc')
    .executeTakeFirst();
  return row ? toRelease(row) : undefined;
}

export async function findCleanRelease(
  access: StoreAccess,
  commit: string,
): Promise<Release | undefined> {
  const row = await access.db
    .selectFrom('releases')
    .selectAll()
    .where('commit_sha', '=', commit)
    .where('dirty', '=', 0)
    .orderBy('seq', 'desc')
    .executeTakeFirst();
  return row ? toRelease(row) : undefined;
}

export async function findReleaseByContent(
  access: StoreAccess,
  commit: string,
  digest: string,
  dirty: boolean,
): Promise<Release | undefined> {
  const row = await access.db
    .selectFrom('releases')
    .selectAll()
    .where('commit_sha', '=', commit)
    .where('digest', '=', digest)
    .where('dirty', '=', dirty ? 1 : 0)
    .executeTakeFirst();
  return row ? toRelease(row) : undefined;
}

export async function findReleases(access: StoreAccess, ids: string[]): Promise<Release[]> {
  if (ids.length === 0) return [];
  const rows = await access.db
    .selectFrom('releases')
    .selectAll()
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return rows.map(toRelease);
}

export async function listReleases(access: StoreAccess, limit: number): Promise<Release[]> {
  const rows = await access.db
    .selectFrom('releases')
    .selectAll()
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map(toRelease);
}
