/**
 * Personal tokens and browser sessions of `airlock serve` in the state store. Each function
 * implements the `StateStore` method of the same name (documented in `state-store.ts`).
 */
import type { ApiToken, TokenRole, WebSession } from './state-store.ts';
import type { Row, StoreAccess } from './store-access.ts';

function toToken(r: Row<'tokens'>): ApiToken {
  return {
    id: r.id,
    principal: r.principal,
    role: r.role as TokenRole,
    hash: r.hash,
    salt: r.salt,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

export async function insertToken(access: StoreAccess, t: ApiToken): Promise<void> {
  await access.write((db) =>
    db
      .insertInto('tokens')
      .values({
        id: t.id,
        principal: t.principal,
        role: t.role,
        hash: t.hash,
        salt: t.salt,
        created_at: t.createdAt,
        created_by: t.createdBy,
        expires_at: t.expiresAt,
        revoked_at: t.revokedAt,
      })
      .execute(),
  );
}

export async function getToken(access: StoreAccess, id: string): Promise<ApiToken | undefined> {
  const row = await access.db
    .selectFrom('tokens')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toToken(row) : undefined;
}

export async function listTokens(access: StoreAccess): Promise<ApiToken[]> {
  const rows = await access.db
    .selectFrom('tokens')
    .selectAll()
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map(toToken);
}

export async function revokeToken(access: StoreAccess, id: string, at: string): Promise<boolean> {
  return access.write(async (db) => {
    const result = await db
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    await db.deleteFrom('sessions').where('token_id', '=', id).execute();
    return Number(result.numUpdatedRows) > 0;
  }, true);
}

export async function createSession(access: StoreAccess, s: WebSession): Promise<void> {
  await access.write((db) =>
    db
      .insertInto('sessions')
      .values({
        id_hash: s.idHash,
        token_id: s.tokenId,
        csrf: s.csrf,
        created_at: s.createdAt,
        expires_at: s.expiresAt,
      })
      .execute(),
  );
}

export async function getSession(
  access: StoreAccess,
  idHash: string,
): Promise<WebSession | undefined> {
  const r = await access.db
    .selectFrom('sessions')
    .selectAll()
    .where('id_hash', '=', idHash)
    .executeTakeFirst();
  return r
    ? {
        idHash: r.id_hash,
        tokenId: r.token_id,
        csrf: r.csrf,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
      }
    : undefined;
}

export async function getSessionWithToken(
  access: StoreAccess,
  idHash: string,
): Promise<{ session: WebSession; token: ApiToken } | undefined> {
  const r = await access.db
    .selectFrom('sessions')
    .innerJoin('tokens', 'tokens.id', 'sessions.token_id')
    .selectAll('tokens')
    .select([
      'sessions.id_hash',
      'sessions.csrf',
      'sessions.created_at as session_created_at',
      'sessions.expires_at as session_expires_at',
    ])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!r) return undefined;
  return {
    session: {
      idHash: r.id_hash,
      tokenId: r.id,
      csrf: r.csrf,
      createdAt: r.session_created_at,
      expiresAt: r.session_expires_at,
    },
    token: toToken(r),
  };
}

export async function deleteSession(access: StoreAccess, idHash: string): Promise<void> {
  await access.write((db) => db.deleteFrom('sessions').where('id_hash', '=', idHash).execute());
}
