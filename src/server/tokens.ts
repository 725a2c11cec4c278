/**
 * Personal tokens for `airlock serve` (`airlock token create`): `alk_<id>_<secret>`, shown once;
 * the state store keeps the id, the principal, the role, the expiry and scrypt(secret) — never
 * the secret. A token is bound to a principal listed in an allowed-signers file of the project,
 * the same names signed approvals count for. Browser sessions made by signing in with a token
 * are kept as the sha256 of their cookie.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { parseAllowedSigners } from '../identity/allowed-signers.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { audit } from '../state/audit.ts';
import type { ApiToken, StateStore, TokenRole, WebSession } from '../state/state-store.ts';

export const TOKEN_ROLES: readonly TokenRole[] = ['viewer', 'approver', 'deployer'];
/** Default lifetime of a token (ms): 30 days. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 24 * 3600_000;
/** Lifetime of a browser session (ms): 12 hours, never past its token's expiry. */
export const SESSION_TTL_MS = 12 * 3600_000;

const TOKEN = /^alk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

function scryptHex(secret: string, salt: string): Promise<string> {
  return new Promise((resolve, reject) =>
    scrypt(secret, Buffer.from(salt, 'hex'), 32, { N: 16384, r: 8, p: 1 }, (error, key) =>
      error ? reject(error) : resolve(key.toString('hex')),
    ),
  );
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Principals listed in the allowed-signers files of the project's environments (work tree). */
export function allowedPrincipals(config: ResolvedConfig): {
  principals: Set<string>;
  files: string[];
} {
  const files = [
    ...new Set(
      config.pipeline.map((e) => config.environments[e]?.promotion.approval.allowedSigners ?? ''),
    ),
  ].filter(Boolean);
  const principals = new Set<string>();
  for (const file of files) {
    try {
      const text = readFileSync(path.join(config.dir, file), 'utf8');
      for (const s of parseAllowedSigners(text).signers)
        for (const p of s.principals) principals.add(p);
    } catch {
      // A missing file lists nobody.
    }
  }
  return { principals, files };
}

/**
 * Makes a token for `principal` with `role`, valid `ttlMs`; audited as `dashboard.token-created`.
 * @returns the token (shown once) and its record.
 * @throws UserError `USAGE` for an unknown role, or an approver's or deployer's principal not in
 *   an allowed-signers file (a viewer's may be any name).
 */
export async function createToken(
  ctx: AirlockContext,
  request: { principal: string; role: string; ttlMs: number },
): Promise<{ token: string; record: ApiToken }> {
  if (!TOKEN_ROLES.includes(request.role as TokenRole))
    throw new UserError(
      'USAGE',
      `--role must be viewer, approver or deployer, got "${request.role}".`,
    );
  // A viewer only reads: any name will do. Approvers and deployers act as a principal of the
  // allowed-signers file (the names approvals count for).
  const { principals, files } = allowedPrincipals(ctx.config);
  if (request.role !== 'viewer' && !principals.has(request.principal))
    throw new UserError(
      'USAGE',
      `${request.principal} is not a principal of the allowed-signers file (${files.join(', ')}), which an ${request.role} token acts as.`,
      {
        hint: `Add a line \`${request.principal} ssh-ed25519 AAAA…\` for their key to ${files[0] ?? '.approvals/allowed_signers'}, commit it, and create the token again.`,
      },
    );
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  const now = ctx.now();
  const record: ApiToken = {
    id,
    principal: request.principal,
    role: request.role as TokenRole,
    hash: await scryptHex(secret, salt),
    salt,
    createdAt: now.toISOString(),
    createdBy: ctx.actor,
    expiresAt: new Date(now.getTime() + request.ttlMs).toISOString(),
    revokedAt: null,
  };
  await ctx.store.insertToken(record);
  await audit(ctx, 'dashboard.token-created', {
    environment: null,
    detail: {
      tokenId: id,
      principal: record.principal,
      role: record.role,
      expiresAt: record.expiresAt,
    },
  });
  return { token: `alk_${id}_${secret}`, record };
}

/**
 * Revokes a token (its sessions end); audited as `dashboard.token-revoked`.
 * @throws UserError `USAGE` when no such token is active.
 */
export async function revokeToken(ctx: AirlockContext, id: string): Promise<ApiToken> {
  const tokenId = id.replace(/^alk_/, '').split('_')[0] ?? '';
  const token = await ctx.store.getToken(tokenId);
  if (!token || !(await ctx.store.revokeToken(tokenId, ctx.now().toISOString())))
    throw new UserError('USAGE', `No active token has the id ${tokenId}.`, {
      hint: 'List tokens with `airlock token list`.',
    });
  await audit(ctx, 'dashboard.token-revoked', {
    environment: null,
    detail: { tokenId, principal: token.principal },
  });
  return token;
}

export type TokenRefusal = 'malformed' | 'unknown-token' | 'wrong-secret' | 'revoked' | 'expired';

/** Checks a presented token: the record when it is valid now, else why not. */
export async function verifyToken(
  store: StateStore,
  presented: string,
  now: Date,
): Promise<{ ok: true; token: ApiToken } | { ok: false; reason: TokenRefusal; tokenId?: string }> {
  const m = TOKEN.exec(presented.trim());
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id = '', secret = ''] = m;
  const token = await store.getToken(id);
  if (!token) return { ok: false, reason: 'unknown-token', tokenId: id };
  const hash = Buffer.from(await scryptHex(secret, token.salt), 'hex');
  if (!timingSafeEqual(hash, Buffer.from(token.hash, 'hex')))
    return { ok: false, reason: 'wrong-secret', tokenId: id };
  if (token.revokedAt) return { ok: false, reason: 'revoked', tokenId: id };
  if (token.expiresAt <= now.toISOString()) return { ok: false, reason: 'expired', tokenId: id };
  return { ok: true, token };
}

/** Opens a browser session for a verified token. @returns the cookie value and the session. */
export async function openWebSession(
  store: StateStore,
  token: ApiToken,
  now: Date,
): Promise<{ cookie: string; session: WebSession }> {
  const cookie = randomBytes(32).toString('base64url');
  const expires = Math.min(now.getTime() + SESSION_TTL_MS, Date.parse(token.expiresAt));
  const session: WebSession = {
    idHash: sha256(cookie),
    tokenId: token.id,
    csrf: randomBytes(24).toString('base64url'),
    createdAt: now.toISOString(),
    expiresAt: new Date(expires).toISOString(),
  };
  await store.createSession(session);
  return { cookie, session };
}

/** The session and its token for a cookie, when both are still valid. */
export async function sessionFor(
  store: StateStore,
  cookie: string,
  now: Date,
): Promise<{ session: WebSession; token: ApiToken } | undefined> {
  const found = await store.getSessionWithToken(sha256(cookie));
  if (!found || found.session.expiresAt <= now.toISOString()) return undefined;
  const { token } = found;
  if (token.revokedAt || token.expiresAt <= now.toISOString()) return undefined;
  return found;
}
