/**
 * Who is asking: a browser session (an `HttpOnly`, `SameSite=Strict` cookie made by signing in
 * with a personal token) or `Authorization: Bearer <token>`. Sign-in attempts are limited per
 * address; every refusal is audited with the request's address. Forms and cookie-authenticated
 * API calls that change something carry the session's CSRF token (a form field `csrf`, or the
 * `X-CSRF-Token` header); bearer calls need none (a browser never sends one by itself).
 */

import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AirlockContext } from '../pipeline/context.ts';
import { audit } from '../state/audit.ts';
import type { Role, ServerEnv } from './server-env.ts';
import { openWebSession, sessionFor, sha256, verifyToken } from './tokens.ts';

export const SESSION_COOKIE = 'airlock_session';
const RANK: Record<Role, number> = { viewer: 0, approver: 1, deployer: 2 };

/** Sign-in attempts allowed per address in a window. */
export const SIGN_IN_LIMIT = { attempts: 10, windowMs: 5 * 60_000 };

/** A fixed-window counter per address (per server process). */
export class SignInLimiter {
  readonly #hits = new Map<string, { count: number; resetAt: number }>();
  readonly limit: { attempts: number; windowMs: number };
  constructor(limit = SIGN_IN_LIMIT) {
    this.limit = limit;
  }

  /** Counts an attempt; false when the address is over its limit. */
  attempt(address: string, now: number): boolean {
    const hit = this.#hits.get(address);
    if (!hit || hit.resetAt <= now) {
      if (this.#hits.size > 10_000) this.#hits.clear();
      this.#hits.set(address, { count: 1, resetAt: now + this.limit.windowMs });
      return true;
    }
    hit.count += 1;
    return hit.count <= this.limit.attempts;
  }
}

function actor(ctx: AirlockContext, who: string): AirlockContext {
  return { ...ctx, actor: who };
}

/** Sets `c.var.user` from the session cookie or the bearer token (nothing when neither holds). */
export function identify(): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const ctx = c.var.ctx;
    const now = ctx.now();
    const bearer = /^Bearer (.+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (bearer) {
      const verified = await verifyToken(ctx.store, bearer, now);
      if (verified.ok) {
        const t = verified.token;
        c.set('user', {
          principal: t.principal,
          role: t.role,
          tokenId: t.id,
          expiresAt: t.expiresAt,
          csrf: null,
        });
      }
    } else {
      const cookie = getCookie(c, SESSION_COOKIE);
      const found = cookie ? await sessionFor(ctx.store, cookie, now) : undefined;
      if (found)
        c.set('user', {
          principal: found.token.principal,
          role: found.token.role,
          tokenId: found.token.id,
          expiresAt: found.session.expiresAt,
          csrf: found.session.csrf,
        });
    }
    await next();
  };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(sha256(a));
  const y = Buffer.from(sha256(b));
  return timingSafeEqual(x, y);
}

/**
 * Refuses (and audits) a request whose user may not act with `role`, or a cookie-authenticated
 * change without the session's CSRF token. @returns a response to send, or undefined to go on.
 */
export async function refuseAction(
  c: Context<ServerEnv>,
  role: Role,
  csrfGiven: string | undefined,
): Promise<Response | undefined> {
  const user = c.var.user;
  const ctx = c.var.ctx;
  const refuse = async (reason: 'role' | 'csrf', status: 401 | 403, message: string) => {
    await audit(actor(ctx, user?.principal ?? 'anonymous'), 'dashboard.action-refused', {
      environment: null,
      result: 'refused',
      detail: {
        reason,
        principal: user?.principal ?? null,
        role: user?.role ?? null,
        path: c.req.path,
        address: c.var.address,
      },
    });
    return c.json({ error: { kind: 'user' as const, code: 'FORBIDDEN', message } }, status);
  };
  if (!user) return refuse('role', 401, 'Sign in first: this needs a personal token.');
  if (user.csrf !== null && (!csrfGiven || !same(csrfGiven, user.csrf)))
    return refuse(
      'csrf',
      403,
      'The form is stale or forged (its CSRF token is missing or wrong); reload the page and try again.',
    );
  if (RANK[user.role] < RANK[role])
    return refuse(
      'role',
      403,
      `${user.principal}'s token is ${user.role === 'approver' ? 'an' : 'a'} ${user.role} token; this needs ${role}.`,
    );
  return undefined;
}

/** True when the user may act with `role` (pages show their buttons only then). */
export function may(user: ServerEnv['Variables']['user'], role: Role): boolean {
  return user !== undefined && RANK[user.role] >= RANK[role];
}

/** The context actions run under: the signed-in principal acts. */
export function actingContext(c: Context<ServerEnv>): AirlockContext {
  return actor(c.var.ctx, c.var.user?.principal ?? 'anonymous');
}

/**
 * POST /signin (form `token`): checks the token, opens a session, sets the cookie. Refusals are
 * audited and answered alike (no hint which part was wrong).
 */
export async function signIn(
  c: Context<ServerEnv>,
  limiter: SignInLimiter,
  secureCookies: boolean,
): Promise<{ ok: true } | { ok: false; status: 401 | 429; message: string }> {
  const ctx = c.var.ctx;
  const now = ctx.now();
  const address = c.var.address;
  const refused = (reason: string, tokenId?: string) =>
    audit(actor(ctx, 'anonymous'), 'dashboard.sign-in-refused', {
      environment: null,
      result: 'refused',
      detail: { reason, ...(tokenId ? { tokenId } : {}), address },
    });
  if (!limiter.attempt(address, now.getTime())) {
    await refused('rate-limited');
    return {
      ok: false,
      status: 429,
      message: 'Too many sign-in attempts from this address; wait a few minutes.',
    };
  }
  const form = await c.req.parseBody();
  const presented = typeof form.token === 'string' ? form.token : '';
  const verified = await verifyToken(ctx.store, presented, now);
  if (!verified.ok) {
    await refused(verified.reason, verified.tokenId);
    return {
      ok: false,
      status: 401,
      message: 'That token is not valid (unknown, revoked or expired).',
    };
  }
  const t = verified.token;
  const { cookie, session } = await openWebSession(ctx.store, t, now);
  setCookie(c, SESSION_COOKIE, cookie, {
    httpOnly: true,
    sameSite: 'Strict',
    secure: secureCookies,
    path: '/',
    expires: new Date(session.expiresAt),
  });
  await audit(actor(ctx, t.principal), 'dashboard.signed-in', {
    environment: null,
    detail: { tokenId: t.id, principal: t.principal, role: t.role, address },
  });
  return { ok: true };
}

/** POST /signout: ends the session (CSRF-checked by the caller). */
export async function signOut(c: Context<ServerEnv>): Promise<void> {
  const cookie = getCookie(c, SESSION_COOKIE);
  const user = c.var.user;
  if (cookie) await c.var.ctx.store.deleteSession(sha256(cookie));
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
  if (user)
    await audit(actor(c.var.ctx, user.principal), 'dashboard.signed-out', {
      environment: null,
      detail: { tokenId: user.tokenId, principal: user.principal, address: c.var.address },
    });
}
