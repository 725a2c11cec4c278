import ms from 'ms';
import { UserError } from '../errors.ts';
import { createToken, DEFAULT_TOKEN_TTL_MS, revokeToken } from '../server/tokens.ts';
import type { CommandIO } from './command-io.ts';
import { withSession } from './session.ts';

function duration(text: string | undefined): number {
  if (!text) return DEFAULT_TOKEN_TTL_MS;
  const value = ms(text as ms.StringValue);
  if (typeof value !== 'number' || !(value > 0))
    throw new UserError('USAGE', `--expires must be a duration such as 30d or 12h, got "${text}".`);
  return value;
}

/** `airlock token create --principal <p> --role <r> [--expires 30d]`: prints the token once. */
export async function tokenCreateCommand(
  io: CommandIO,
  opts: { principal: string; role: string; expires?: string },
): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const { token, record } = await createToken(ctx, {
      principal: opts.principal,
      role: opts.role,
      ttlMs: duration(opts.expires),
    });
    io.reporter.success(
      `Token ${record.id} for ${record.principal} (${record.role}), valid until ${record.expiresAt}:`,
    );
    io.reporter.info(token);
    io.reporter.note(
      'It is shown only this once; Airlock keeps only its hash. Sign in to `airlock serve` with it, or send it as `Authorization: Bearer <token>`.',
    );
    const { hash: _h, salt: _s, ...shown } = record;
    io.reporter.result({ token, record: shown });
    return 0;
  });
}

/** `airlock token revoke <id>`. */
export async function tokenRevokeCommand(io: CommandIO, id: string): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const token = await revokeToken(ctx, id);
    io.reporter.success(`Token ${token.id} of ${token.principal} is revoked; its sessions ended.`);
    io.reporter.result({ revoked: token.id });
    return 0;
  });
}

/** `airlock token list`. */
export async function tokenListCommand(io: CommandIO): Promise<number> {
  return withSession(io, async ({ ctx }) => {
    const now = ctx.now().toISOString();
    const tokens = (await ctx.store.listTokens()).map(({ hash: _h, salt: _s, ...t }) => ({
      ...t,
      state: t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : 'active',
    }));
    io.reporter.table(
      ['ID', 'PRINCIPAL', 'ROLE', 'STATE', 'EXPIRES', 'CREATED BY'],
      tokens.map((t) => [t.id, t.principal, t.role, t.state, t.expiresAt, t.createdBy]),
    );
    io.reporter.result({ tokens });
    return 0;
  });
}
