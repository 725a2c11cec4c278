/**
 * How a failed GitHub API call is reported: a `GitHubApiError` (a `ProviderError`) carrying the
 * HTTP status, GitHub's own message and, for 401/403, the token permission that is missing.
 * The token never appears in it: the Octokit error is not kept as the cause, and every string
 * taken from a response or a network error is scrubbed of the token first.
 */
import { type ErrorCode, ProviderError } from '../errors.ts';
import { redact } from '../secrets/redact.ts';

/** What went wrong, for callers to branch on (never on the message text). */
export type GitHubFailure =
  /** No HTTP answer: DNS, refused connection, TLS. Retry later. */
  | 'unreachable'
  /** No answer within the client's timeout. Retry later. */
  | 'timeout'
  /** GitHub answered 5xx. Retry later. */
  | 'server-error'
  /** Primary or secondary rate limit (403/429 with rate-limit headers). Retry after `retryAfterMs`. */
  | 'rate-limited'
  /** 401: no token, or a bad, expired or revoked one. */
  | 'unauthorized'
  /** 403: the token lacks a permission (named in `permission`). */
  | 'forbidden'
  /** 404: no such repository, commit or deployment, or the token cannot see the repository. */
  | 'not-found'
  /** 409: GitHub refused because of the repository's state. */
  | 'conflict'
  /** 422 and other 4xx: GitHub rejected the request (unknown ref, invalid field). */
  | 'invalid'
  /** A 2xx that was not what the API promises. */
  | 'unexpected';

/**
 * The stable codes of GitHub failures: `GITHUB_AUTH` (the token lacks access), `GITHUB_API`
 * (GitHub refused the request), and `PROVIDER_UNAVAILABLE` for faults a retry can fix;
 * `failure` tells them apart in more detail.
 */
const AUTH_CODE: ErrorCode = 'GITHUB_AUTH';
const API_CODE: ErrorCode = 'GITHUB_API';
const UNAVAILABLE_CODE: ErrorCode = 'PROVIDER_UNAVAILABLE';

/** A repository permission, as a fine-grained token or a workflow's `permissions:` block names it. */
export type GitHubPermission =
  | 'statuses: read'
  | 'checks: read'
  | 'deployments: read'
  | 'deployments: write'
  | 'issues: write';

/** The classic personal-access-token scope that grants each permission. */
const CLASSIC_SCOPE: Record<GitHubPermission, string> = {
  'statuses: read': 'repo:status',
  'checks: read': 'repo',
  'deployments: read': 'repo_deployment',
  'deployments: write': 'repo_deployment',
  'issues: write': 'repo',
};

/** One call the client makes, described for messages. */
export interface GitHubOperation {
  /** What Airlock was doing, completing "while trying to …", e.g. `read the check runs of abc1234`. */
  action: string;
  permission: GitHubPermission;
}

export interface GitHubApiErrorOptions {
  failure: GitHubFailure;
  status: number | null;
  hint: string;
  details: Record<string, unknown>;
}

/** A GitHub API call failed. `code` is stable; `failure` says how. */
export class GitHubApiError extends ProviderError {
  override name = 'GitHubApiError';
  readonly failure: GitHubFailure;
  /** The HTTP status GitHub answered with; null when there was no answer. */
  readonly status: number | null;

  constructor(code: ErrorCode, message: string, options: GitHubApiErrorOptions) {
    super(code, message, {
      hint: options.hint,
      details: { ...options.details, failure: options.failure, status: options.status },
    });
    this.failure = options.failure;
    this.status = options.status;
  }
}

function header(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** GitHub's `message` and `documentation_url`, and a validation error's `errors`. */
function githubBody(data: unknown): { message: string | null; documentationUrl: string | null } {
  if (typeof data === 'string')
    return { message: data.slice(0, 300) || null, documentationUrl: null };
  if (typeof data !== 'object' || data === null) return { message: null, documentationUrl: null };
  const body = data as { message?: unknown; documentation_url?: unknown; errors?: unknown };
  let message = typeof body.message === 'string' ? body.message : null;
  if (message && Array.isArray(body.errors) && body.errors.length > 0) {
    const errors = body.errors.map((e) =>
      typeof e === 'string'
        ? e
        : typeof e === 'object' && e !== null && 'message' in e && typeof e.message === 'string'
          ? e.message
          : JSON.stringify(e),
    );
    message = `${message}: ${errors.join('; ')}`;
  }
  return {
    message,
    documentationUrl: typeof body.documentation_url === 'string' ? body.documentation_url : null,
  };
}

/** `deployments=write` (GitHub's `x-accepted-github-permissions`) → `deployments: write`. */
function acceptedPermission(value: string | undefined): string | null {
  if (!value) return null;
  return value
    .split(/[;,]/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => p.replace('=', ': '))
    .join(' or ');
}

function retryAfterMs(headers: Record<string, unknown> | undefined, now: number): number | null {
  const retryAfter = Number(header(headers, 'retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now);
  return null;
}

function isRateLimited(status: number, headers: Record<string, unknown> | undefined): boolean {
  if (status === 429) return true;
  if (status !== 403) return false;
  return (
    header(headers, 'x-ratelimit-remaining') === '0' || header(headers, 'retry-after') !== undefined
  );
}

/** The HTTP answer an Octokit `RequestError` carries, if there was one. */
function responseOf(
  error: unknown,
): { status: number; headers: Record<string, unknown>; data: unknown } | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = error.response;
  if (typeof response !== 'object' || response === null) return undefined;
  if (!('status' in response) || typeof response.status !== 'number') return undefined;
  const headers =
    'headers' in response && typeof response.headers === 'object' && response.headers !== null
      ? (response.headers as Record<string, unknown>)
      : {};
  return { status: response.status, headers, data: 'data' in response ? response.data : undefined };
}

export interface GitHubErrorContext {
  operation: GitHubOperation;
  repository: string;
  token: string;
  /** Whether a token was sent at all. */
  authenticated: boolean;
  timeoutMs: number;
  now?: () => number;
}

/**
 * Turns anything a GitHub call threw into a `GitHubApiError`. Keeps the status, GitHub's message
 * and documentation link, and the request id; drops the Octokit error (whose request options
 * carry the headers) so that nothing derived from the token can travel with it.
 */
export function toGitHubError(error: unknown, context: GitHubErrorContext): GitHubApiError {
  const { operation, repository, token } = context;
  const scrub = (text: string) => redact(text, [token]);
  const doing = `while trying to ${operation.action} in ${repository}`;
  const grant = `\`${operation.permission}\` (fine-grained token or a workflow's \`permissions:\`) or the \`${CLASSIC_SCOPE[operation.permission]}\` scope (classic token)`;

  const response = responseOf(error);
  if (!response) {
    // No HTTP answer: a network fault, a timeout, or a token fetch would not even send.
    const cause = error instanceof Error ? error.cause : undefined;
    const names = [error, cause].map((e) => (e instanceof Error ? e.name : ''));
    const timedOut = names.includes('TimeoutError') || names.includes('AbortError');
    // Octokit already puts the network error's own cause (ECONNREFUSED …) in its message.
    const reason = (error instanceof Error ? error.message : String(error)).replace(/\.+$/, '');
    return new GitHubApiError(
      UNAVAILABLE_CODE,
      scrub(
        timedOut
          ? `GitHub did not answer within ${context.timeoutMs} ms ${doing}.`
          : `GitHub could not be reached ${doing}: ${reason}.`,
      ),
      {
        failure: timedOut ? 'timeout' : 'unreachable',
        status: null,
        hint: 'Check the network (and `baseUrl` for GitHub Enterprise), then run the command again.',
        details: { operation: operation.action, repository },
      },
    );
  }

  const status = response.status;
  const headers = response.headers;
  const body = githubBody(response.data);
  const githubMessage = body.message ? scrub(body.message) : null;
  const said = githubMessage ? ` (${status} ${githubMessage})` : ` (${status})`;
  const details: Record<string, unknown> = {
    operation: operation.action,
    repository,
    ...(githubMessage ? { githubMessage } : {}),
    ...(body.documentationUrl ? { documentationUrl: scrub(body.documentationUrl) } : {}),
    ...(header(headers, 'x-github-request-id')
      ? { requestId: header(headers, 'x-github-request-id') }
      : {}),
  };

  if (isRateLimited(status, headers)) {
    const wait = retryAfterMs(headers, (context.now ?? Date.now)());
    return new GitHubApiError(UNAVAILABLE_CODE, `GitHub's rate limit was hit ${doing}${said}.`, {
      failure: 'rate-limited',
      status,
      hint:
        wait === null
          ? 'Wait a few minutes and run the command again.'
          : `Run the command again in ${Math.ceil(wait / 1000)} s.`,
      details: { ...details, ...(wait === null ? {} : { retryAfterMs: wait }) },
    });
  }
  if (status === 401) {
    return new GitHubApiError(
      AUTH_CODE,
      context.authenticated
        ? `GitHub rejected the token ${doing}${said}.`
        : `GitHub requires a token ${doing}${said}.`,
      {
        failure: 'unauthorized',
        status,
        hint: context.authenticated
          ? `The token in GITHUB_TOKEN is invalid, expired or revoked: create a new one with ${grant}, and set GITHUB_TOKEN to it.`
          : `Set GITHUB_TOKEN to a token with ${grant}.`,
        details: { ...details, permission: operation.permission },
      },
    );
  }
  if (status === 403) {
    const accepted = acceptedPermission(header(headers, 'x-accepted-github-permissions'));
    const scopes = header(headers, 'x-accepted-oauth-scopes');
    const permission = accepted ?? operation.permission;
    return new GitHubApiError(
      AUTH_CODE,
      `GitHub refused access ${doing}: the token lacks \`${permission}\`${said}.`,
      {
        failure: 'forbidden',
        status,
        hint: `Grant the token \`${permission}\` (fine-grained token or a workflow's \`permissions:\`) or the \`${scopes?.split(',')[0]?.trim() || CLASSIC_SCOPE[operation.permission]}\` scope (classic token), then run the command again.`,
        details: { ...details, permission },
      },
    );
  }
  if (status === 404) {
    return new GitHubApiError(API_CODE, `GitHub found nothing ${doing}${said}.`, {
      failure: 'not-found',
      status,
      hint: `Check that ${repository} exists and the token can see it (a private repository answers 404 to a token without access), and that the commit or deployment exists there.`,
      details,
    });
  }
  if (status >= 500) {
    return new GitHubApiError(UNAVAILABLE_CODE, `GitHub failed ${doing}${said}.`, {
      failure: 'server-error',
      status,
      hint: 'GitHub is having trouble (see https://www.githubstatus.com); run the command again in a minute.',
      details,
    });
  }
  return new GitHubApiError(API_CODE, `GitHub rejected the request ${doing}${said}.`, {
    failure: status === 409 ? 'conflict' : 'invalid',
    status,
    hint: 'Check the commit, environment and repository named in the message; if they are right, this is a bug in Airlock — report it with the request id.',
    details,
  });
}

/** A 2xx answer that is not what the API promises (e.g. 202 instead of a created deployment). */
export function unexpectedGitHubResponse(
  context: GitHubErrorContext,
  what: string,
): GitHubApiError {
  return new GitHubApiError(
    API_CODE,
    redact(
      `GitHub answered unexpectedly while trying to ${context.operation.action} in ${context.repository}: ${what}.`,
      [context.token],
    ),
    {
      failure: 'unexpected',
      status: null,
      hint: 'This is a bug in Airlock or a change in the GitHub API; report it with this message.',
      details: { operation: context.operation.action, repository: context.repository },
    },
  );
}
