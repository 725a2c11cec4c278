/**
 * What only the fake can show: faults GitHub cannot be asked to produce (5xx, rate limits,
 * a token without a permission, a network that does not answer), plus the options and the
 * fake's own fidelity. The behaviour both share is in github-client.contract.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasCode, UserError } from '../../src/errors.ts';
import { GitHubClient, gitHubClientOptionsFromEnv } from '../../src/github/github-client.ts';
import { GitHubApiError } from '../../src/github/github-error.ts';
import { FakeGitHub } from '../fakes/github/fake-github.ts';

const TOKEN = 'ghp_faultsuitetoken0123456789abcdef';
const DIGEST = 'b'.repeat(64);

async function thrown(promise: Promise<unknown>): Promise<GitHubApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GitHubApiError);
    return error as GitHubApiError;
  }
  throw new Error('expected the call to fail');
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

let fake: FakeGitHub;
let client: GitHubClient;

beforeAll(async () => {
  fake = await FakeGitHub.start({ repository: 'acme/shop', token: TOKEN });
  client = new GitHubClient({ token: TOKEN, repository: 'acme/shop', baseUrl: fake.url });
});
afterAll(async () => {
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

describe('GitHubClient faults', () => {
  it('names the missing permission when the token lacks one (403)', async () => {
    const limited = 'ghp_limited0123456789';
    fake.addToken(limited, { permissions: { checks: 'none', deployments: 'read' } });
    const c = new GitHubClient({ token: limited, repository: 'acme/shop', baseUrl: fake.url });
    const sha = fake.createCommit();

    const ci = await thrown(c.ciStatus(sha));
    expect(ci).toMatchObject({ status: 403, failure: 'forbidden' });
    expect(ci.message).toContain('the token lacks `checks: read`');
    expect(ci.details.permission).toBe('checks: read');

    const deploy = await thrown(
      c.createDeployment({
        ref: sha,
        environment: 'staging',
        description: 'x',
        payload: { release: 'r1', digest: DIGEST },
      }),
    );
    expect(deploy.message).toContain('the token lacks `deployments: write`');
    expect(deploy.hint).toContain('`repo_deployment` scope (classic token)');
    expect(deploy.message).not.toContain(limited);
  });

  it('reports a GitHub 5xx as PROVIDER_UNAVAILABLE', async () => {
    fake.failNext({ status: 502, path: '/deployments' });
    const error = await thrown(
      client.createDeployment({
        ref: fake.createCommit(),
        environment: 'staging',
        description: 'x',
        payload: { release: 'r1', digest: DIGEST },
      }),
    );
    expect(error).toMatchObject({ status: 502, failure: 'server-error', kind: 'provider' });
    expect(hasCode(error, 'PROVIDER_UNAVAILABLE')).toBe(true);
    expect(error.message).toContain('502 Server Error');
  });

  it('reports the rate limit with when to retry', async () => {
    fake.failNext({ status: 403, rateLimited: true, path: '/check-runs' });
    const error = await thrown(client.ciStatus(fake.createCommit()));
    expect(error).toMatchObject({ status: 403, failure: 'rate-limited' });
    expect(error.details.retryAfterMs).toBeGreaterThan(0);
    expect(error.hint).toMatch(/again in \d+ s/);
  });

  it('reports an unreachable GitHub without a status', async () => {
    const server = createServer();
    const url = await listen(server);
    await close(server);
    const c = new GitHubClient({ token: TOKEN, repository: 'acme/shop', baseUrl: url });
    const error = await thrown(c.ciStatus('a'.repeat(40)));
    expect(error).toMatchObject({ status: null, failure: 'unreachable' });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(TOKEN);
  });

  it('gives up on a GitHub that does not answer', async () => {
    const server = createServer(() => {}); // accepts, never answers
    const url = await listen(server);
    try {
      const c = new GitHubClient({
        token: TOKEN,
        repository: 'acme/shop',
        baseUrl: url,
        timeoutMs: 150,
      });
      const started = Date.now();
      const error = await thrown(c.ciStatus('a'.repeat(40)));
      expect(error).toMatchObject({ failure: 'timeout', status: null });
      expect(error.message).toContain('within 150 ms');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await close(server);
    }
  });

  it('stops when the caller aborts, with the caller’s reason', async () => {
    const server = createServer(() => {});
    const url = await listen(server);
    try {
      const c = new GitHubClient({ token: TOKEN, repository: 'acme/shop', baseUrl: url });
      const controller = new AbortController();
      const pending = c.ciStatus('a'.repeat(40), { signal: controller.signal });
      const reason = new Error('interrupted');
      setTimeout(() => controller.abort(reason), 20);
      await expect(pending).rejects.toBe(reason);
    } finally {
      await close(server);
    }
  });

  it('keeps a token that cannot even be sent out of the error', async () => {
    const token = 'ghp_has\nnewline0123456789';
    const c = new GitHubClient({ token, repository: 'acme/shop', baseUrl: fake.url });
    const error = await thrown(c.ciStatus('a'.repeat(40)));
    const rendered = [error.message, error.stack, JSON.stringify(error), inspect(error)].join();
    expect(rendered).not.toContain(token);
    expect(rendered).not.toContain('newline0123456789');
    expect(error.message).toContain('***');
  });
});

describe('GitHubClient requests', () => {
  it('pages check runs 100 at a time and asks for the latest of each', async () => {
    const sha = fake.createCommit();
    for (let i = 0; i < 150; i++) fake.addCheckRun(sha, { name: `c${i}` });
    expect((await client.ciStatus(sha)).contexts).toHaveLength(150);
    const pages = fake.requests.filter((r) => r.path.includes('/check-runs'));
    expect(pages.map((r) => new URL(r.path, 'http://x').searchParams.get('page'))).toEqual([
      null,
      '2',
    ]);
    expect(pages.every((r) => r.path.includes('filter=latest') && r.auth === 'token')).toBe(true);
  });

  it('creates deployments that do not ask GitHub to check CI or merge', async () => {
    const sha = fake.createCommit();
    fake.setStatus(sha, { context: 'ci/build', state: 'failure' });
    const { id } = await client.createDeployment({
      ref: sha,
      environment: 'production',
      description: 'Airlock: r3 to production',
      payload: { release: 'r3', digest: DIGEST },
    });
    const [stored] = fake.deployments('production');
    expect(stored).toMatchObject({
      id,
      sha,
      task: 'deploy',
      payload: { release: 'r3', digest: DIGEST },
      production_environment: true,
      transient_environment: false,
      creator: { login: 'airlock-bot' },
    });
  });

  it('sends every request through the given fetch', async () => {
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(String(input));
      return fetch(input, init);
    };
    const c = new GitHubClient({
      token: TOKEN,
      repository: 'acme/shop',
      baseUrl: fake.url,
      fetch: counting,
    });
    await c.ciStatus(fake.createCommit(), { signal: new AbortController().signal });
    expect(seen).toHaveLength(2);
    expect(seen.every((url) => url.startsWith(`${fake.url}/repos/acme/shop/commits/`))).toBe(true);
  });

  it('rejects a ref that is not a full commit SHA before calling GitHub', async () => {
    await expect(client.ciStatus('main')).rejects.toSatisfy((e) => hasCode(e, 'USAGE'));
    await expect(client.ciStatus('abc1234')).rejects.toBeInstanceOf(UserError);
    expect(fake.requests).toEqual([]);
  });

  it('rejects a repository that is not owner/name', () => {
    expect(() => new GitHubClient({ token: TOKEN, repository: 'shop' })).toThrow(UserError);
    expect(() => new GitHubClient({ token: TOKEN, repository: 'a/b/c' })).toThrow(
      /not a GitHub repository/,
    );
  });
});

describe('gitHubClientOptionsFromEnv', () => {
  it('reads GITHUB_TOKEN, GITHUB_REPOSITORY and GITHUB_API_URL', () => {
    expect(
      gitHubClientOptionsFromEnv({
        GITHUB_TOKEN: ' t0ken\n',
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_API_URL: 'https://ghe.example.com/api/v3',
      }),
    ).toEqual({
      token: 't0ken',
      repository: 'acme/shop',
      baseUrl: 'https://ghe.example.com/api/v3',
    });
    expect(
      gitHubClientOptionsFromEnv({ GITHUB_TOKEN: 't', GITHUB_REPOSITORY: 'x/y' }, 'acme/api'),
    ).toMatchObject({ repository: 'acme/api' });
  });

  it('says what to set when the token or repository is missing', () => {
    expect(() => gitHubClientOptionsFromEnv({ GITHUB_REPOSITORY: 'acme/shop' })).toThrow(
      'GITHUB_TOKEN is not set.',
    );
    expect(() => gitHubClientOptionsFromEnv({ GITHUB_TOKEN: 't' })).toThrow(
      /repository is not known/,
    );
  });
});

describe('FakeGitHub fidelity', () => {
  it('answers like GitHub: 401 bodies, Bearer tokens, Link pagination, 409 on red CI', async () => {
    const sha = fake.createCommit();
    const url = `${fake.url}/repos/acme/shop/commits/${sha}/check-runs`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({
      message: 'Requires authentication',
      documentation_url: 'https://docs.github.com/rest',
      status: '401',
    });
    const bad = await fetch(url, { headers: { authorization: 'token nope' } });
    expect(((await bad.json()) as { message: string }).message).toBe('Bad credentials');

    for (let i = 0; i < 3; i++) fake.addCheckRun(sha, { name: `c${i}` });
    const bearer = await fetch(`${url}?per_page=2`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(bearer.status).toBe(200);
    expect(bearer.headers.get('link')).toContain('page=2>; rel="next"');
    expect(((await bearer.json()) as { total_count: number }).total_count).toBe(3);

    // Without required_contexts GitHub itself checks CI (Airlock always sends []).
    fake.setStatus(sha, { context: 'ci/build', state: 'failure' });
    const conflict = await fetch(`${fake.url}/repos/acme/shop/deployments`, {
      method: 'POST',
      headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ref: sha, environment: 'staging' }),
    });
    expect(conflict.status).toBe(409);
  });

  it('auto-inactivates prior successful non-production deployments, as GitHub does', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${fake.url}/repos/acme/shop${path}`, {
        method: 'POST',
        headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<{ id: number }>);
    const ids: number[] = [];
    for (let i = 0; i < 2; i++) {
      const d = await post('/deployments', {
        ref: fake.createCommit(),
        environment: 'preview-auto',
        required_contexts: [],
      });
      await post(`/deployments/${d.id}/statuses`, { state: 'success' });
      ids.push(d.id);
    }
    expect(fake.deploymentStatuses(ids[0] as number).map((s) => s.state)).toEqual([
      'inactive',
      'success',
    ]);
    expect(fake.deploymentStatuses(ids[1] as number).map((s) => s.state)).toEqual(['success']);
  });
});
