/**
 * CI identity from GitHub Actions' OIDC token (a job with `permissions: id-token: write`):
 * requesting it (`ACTIONS_ID_TOKEN_REQUEST_URL` with `&audience=…`, bearer
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answer `{ "value": "<jwt>" }`) and verifying it with `jose`
 * against the issuer's published keys (its `/.well-known/openid-configuration` names `jwks_uri`):
 * signature, issuer, audience, expiry, and the `repository`, `actor` and `run_id` claims
 * (GitHub's documented token: "About security hardening with OpenID Connect").
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';

/** GitHub's issuer. */
export const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com';

/** Why a token does not count. Stable codes; `message` is for people. */
export type OidcRefusal =
  | 'no-token'
  | 'unreachable'
  | 'malformed'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'wrong-repository'
  | 'expired'
  | 'bad-signature'
  | 'missing-claim';

export class OidcTokenError extends Error {
  readonly reason: OidcRefusal;
  constructor(reason: OidcRefusal, message: string) {
    super(message);
    this.name = 'OidcTokenError';
    this.reason = reason;
  }
}

/** What a verified token says about who ran what. */
export interface VerifiedOidcToken {
  /** The GitHub login that started the run (`actor`). */
  actor: string;
  repository: string;
  runId: string;
  /** `jti`, or `<run_id>.<run_attempt>` when absent: one approval per token. */
  tokenId: string;
  /** The claims kept as evidence (no signature, nothing secret). */
  claims: Record<string, unknown>;
}

/** What a token must carry. `now` is the verifying clock. */
export interface OidcExpectation {
  issuer: string;
  audience: string;
  repository: string;
  now: Date;
}

const KEPT_CLAIMS = [
  'iss',
  'aud',
  'sub',
  'repository',
  'repository_owner',
  'actor',
  'actor_id',
  'run_id',
  'run_attempt',
  'workflow',
  'workflow_ref',
  'event_name',
  'ref',
  'sha',
  'jti',
  'iat',
  'exp',
] as const;

/**
 * Requests a token from the runner (`env` holds GitHub's two variables).
 * @throws OidcTokenError `no-token` outside a job with `id-token: write`, `unreachable`.
 */
export async function requestGithubOidcToken(
  env: Readonly<Record<string, string | undefined>>,
  audience: string,
): Promise<string> {
  const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !bearer)
    throw new OidcTokenError(
      'no-token',
      'no OIDC token is available: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set only in a GitHub Actions job with `permissions: id-token: write`.',
    );
  const target = new URL(url);
  target.searchParams.set('audience', audience);
  let body: unknown;
  try {
    const res = await fetch(target, {
      headers: { authorization: `bearer ${bearer}`, accept: 'application/json' },
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (e) {
    throw new OidcTokenError(
      'unreachable',
      `could not get an OIDC token from the runner (${(e as Error).message}).`,
    );
  }
  const value = (body as { value?: unknown } | null)?.value;
  if (typeof value !== 'string')
    throw new OidcTokenError('malformed', 'the runner answered without a token (`value`).');
  return value;
}

const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/** The issuer's key set, from its discovery document (cached per issuer for the process). */
async function keySetOf(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  const cached = keySets.get(issuer);
  if (cached) return cached;
  let jwksUri: string;
  try {
    const res = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, {
      signal: AbortSignal.timeout(15_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: unknown };
    if (typeof doc.jwks_uri !== 'string') throw new Error('no jwks_uri');
    jwksUri = doc.jwks_uri;
  } catch (e) {
    throw new OidcTokenError(
      'unreachable',
      `could not read ${issuer}'s published keys (${(e as Error).message}).`,
    );
  }
  const set = createRemoteJWKSet(new URL(jwksUri));
  keySets.set(issuer, set);
  return set;
}

/**
 * Verifies a token against `expect`.
 * @throws OidcTokenError with the reason it does not count.
 */
export async function verifyGithubOidcToken(
  token: string,
  expect: OidcExpectation,
): Promise<VerifiedOidcToken> {
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(token);
  } catch {
    throw new OidcTokenError('malformed', 'the OIDC token is not a JWT.');
  }
  if (unverified.iss !== expect.issuer)
    throw new OidcTokenError(
      'wrong-issuer',
      `the token was issued by ${String(unverified.iss)}, not ${expect.issuer}.`,
    );
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await keySetOf(expect.issuer), {
      issuer: expect.issuer,
      audience: expect.audience,
      currentDate: expect.now,
      clockTolerance: 5,
      requiredClaims: ['exp', 'iat'],
    }));
  } catch (e) {
    if (e instanceof OidcTokenError) throw e;
    if (e instanceof joseErrors.JWTExpired)
      throw new OidcTokenError('expired', `the token expired (${e.message}).`);
    if (e instanceof joseErrors.JWTClaimValidationFailed) {
      if (e.claim === 'aud')
        throw new OidcTokenError(
          'wrong-audience',
          `the token's audience is ${JSON.stringify(unverified.aud)}, not ${expect.audience}.`,
        );
      if (e.claim === 'iss')
        throw new OidcTokenError('wrong-issuer', `the token's issuer is not ${expect.issuer}.`);
      throw new OidcTokenError('missing-claim', `the token's ${e.claim} claim: ${e.message}.`);
    }
    if (e instanceof joseErrors.JOSEError)
      throw new OidcTokenError(
        'bad-signature',
        `the token's signature does not verify against ${expect.issuer}'s keys (${e.message}).`,
      );
    throw new OidcTokenError(
      'unreachable',
      `could not verify the token (${(e as Error).message}).`,
    );
  }
  if (payload.repository !== expect.repository)
    throw new OidcTokenError(
      'wrong-repository',
      `the token is for repository ${String(payload.repository)}, not ${expect.repository}.`,
    );
  for (const claim of ['actor', 'run_id'] as const)
    if (typeof payload[claim] !== 'string' || !payload[claim])
      throw new OidcTokenError('missing-claim', `the token has no ${claim} claim.`);
  const claims: Record<string, unknown> = {};
  for (const k of KEPT_CLAIMS) if (payload[k] !== undefined) claims[k] = payload[k];
  const runId = payload.run_id as string;
  return {
    actor: payload.actor as string,
    repository: payload.repository as string,
    runId,
    tokenId:
      typeof payload.jti === 'string' ? payload.jti : `${runId}.${String(payload.run_attempt)}`,
    claims,
  };
}
