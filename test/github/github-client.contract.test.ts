/**
 * The GitHubClient contract: one spec, run against every backend (DESIGN.md principle 6). Here
 * that is the fake; the real API runs the same spec when AIRLOCK_GITHUB_CONTRACT_* is set (see
 * github-backends.ts), and is skipped otherwise, saying so in its name.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubClient } from '../../src/github/github-client.ts';
import { GitHubApiError } from '../../src/github/github-error.ts';
import { fakeBackend, type GitHubBackend, realBackend } from './github-backends.ts';

async function thrown(promise: Promise<unknown>): Promise<GitHubApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(GitHubApiError);
    return error as GitHubApiError;
  }
  throw new Error('expected the call to fail');
}

/** Every way an error could be shown, logged or serialised. */
function everyRendering(error: unknown): string {
  const e = error as Error & { details?: unknown; cause?: unknown };
  return [
    String(e),
    e.message,
    e.stack ?? '',
    JSON.stringify(e),
    JSON.stringify(e.details ?? {}),
    inspect(e, { depth: 20, showHidden: true }),
    String(e.cause ?? ''),
  ].join('\n');
}

const DIGEST = 'a'.repeat(64);

for (const factory of [fakeBackend(), realBackend(process.env)]) {
  const title = `GitHubClient contract against ${factory.name}${factory.skip ? ` — skipped: ${factory.skip}` : ''}`;
  describe.skipIf(factory.skip !== null)(title, () => {
    let backend: GitHubBackend;
    let client: GitHubClient;
    const withChecks = it.skipIf(!factory.checkRuns);
    const env = () => `contract-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      backend = await factory.start();
      client = new GitHubClient({
        token: backend.token,
        repository: backend.repository,
        ...(backend.baseUrl ? { baseUrl: backend.baseUrl } : {}),
      });
    });
    afterAll(async () => {
      await backend?.close();
    });

    describe('ciStatus', () => {
      it('is none when nothing reported on the commit', async () => {
        const sha = await backend.newCommit();
        const ci = await client.ciStatus(sha);
        expect(ci).toMatchObject({ sha, state: 'none', contexts: [], missing: [] });
        expect(ci.summary).toBe('no status or check run was reported');
      });

      withChecks('is success when every status and check run passed', async () => {
        const sha = await backend.newCommit();
        await backend.setStatus(sha, {
          context: 'ci/build',
          state: 'success',
          targetUrl: 'https://ci.example.com/build/1',
        });
        await backend.addCheckRun(sha, { name: 'test', conclusion: 'success' });
        await backend.addCheckRun(sha, { name: 'docs', conclusion: 'skipped' });
        const ci = await client.ciStatus(sha);
        expect(ci.state).toBe('success');
        expect(ci.contexts).toEqual(
          expect.arrayContaining([
            {
              name: 'ci/build',
              state: 'success',
              detail: 'success',
              url: 'https://ci.example.com/build/1',
              source: 'status',
            },
            expect.objectContaining({ name: 'test', state: 'success', source: 'check-run' }),
            expect.objectContaining({ name: 'docs', state: 'success', detail: 'skipped' }),
          ]),
        );
        expect(ci.contexts).toHaveLength(3);
        expect(ci.contexts.find((c) => c.name === 'test')?.url).toMatch(/^https?:\/\//);
        expect(ci.summary).toMatch(/^3 checks passed: /);
      });

      withChecks('is failure when any context failed, even with others pending', async () => {
        const sha = await backend.newCommit();
        await backend.setStatus(sha, { context: 'ci/build', state: 'success' });
        await backend.setStatus(sha, { context: 'ci/lint', state: 'pending' });
        await backend.addCheckRun(sha, { name: 'e2e', conclusion: 'timed_out' });
        const ci = await client.ciStatus(sha);
        expect(ci.state).toBe('failure');
        expect(ci.summary).toContain('e2e (timed_out)');
      });

      it('counts a commit status error as a failure', async () => {
        const sha = await backend.newCommit();
        await backend.setStatus(sha, { context: 'ci/build', state: 'error' });
        const ci = await client.ciStatus(sha);
        expect(ci.state).toBe('failure');
        expect(ci.contexts).toEqual([
          expect.objectContaining({ name: 'ci/build', state: 'failure', detail: 'error' }),
        ]);
      });

      withChecks('is pending while a status or check run has not finished', async () => {
        const sha = await backend.newCommit();
        await backend.setStatus(sha, { context: 'ci/build', state: 'success' });
        await backend.addCheckRun(sha, { name: 'test', status: 'in_progress' });
        const ci = await client.ciStatus(sha);
        expect(ci.state).toBe('pending');
        expect(ci.contexts.find((c) => c.name === 'test')).toMatchObject({
          state: 'pending',
          detail: 'in_progress',
        });
        await backend.setStatus(sha, { context: 'ci/build', state: 'pending' });
        expect((await client.ciStatus(sha)).state).toBe('pending');
      });

      withChecks(
        'with required contexts, counts only those; a missing one is pending',
        async () => {
          const sha = await backend.newCommit();
          await backend.setStatus(sha, { context: 'ci/build', state: 'success' });
          await backend.addCheckRun(sha, { name: 'flaky-optional', conclusion: 'failure' });
          const required = ['ci/build', 'deploy-check'];
          const pending = await client.ciStatus(sha, { required });
          expect(pending).toMatchObject({ state: 'pending', missing: ['deploy-check'] });
          expect(pending.contexts.map((c) => c.name)).toEqual(['ci/build']);
          expect(pending.summary).toContain('deploy-check');

          await backend.addCheckRun(sha, { name: 'deploy-check', conclusion: 'success' });
          const green = await client.ciStatus(sha, { required });
          expect(green).toMatchObject({ state: 'success', missing: [] });
          // Without `required`, the optional failure counts.
          expect((await client.ciStatus(sha)).state).toBe('failure');
        },
      );

      withChecks('reads every page of check runs', async () => {
        const sha = await backend.newCommit();
        // The failure is reported first, so newest-first listings put it on the last page.
        await backend.addCheckRun(sha, { name: 'check-000', conclusion: 'failure' });
        for (let i = 1; i <= 130; i++) {
          await backend.addCheckRun(sha, {
            name: `check-${String(i).padStart(3, '0')}`,
            conclusion: 'success',
          });
        }
        const ci = await client.ciStatus(sha);
        expect(ci.contexts).toHaveLength(131);
        expect(new Set(ci.contexts.map((c) => c.name)).size).toBe(131);
        expect(ci.state).toBe('failure');
        expect(ci.summary).toContain('check-000');
      });

      it('reads every page of commit statuses', async () => {
        const sha = await backend.newCommit();
        await backend.setStatus(sha, { context: 'status-000', state: 'pending' });
        for (let i = 1; i <= 104; i++) {
          await backend.setStatus(sha, {
            context: `status-${String(i).padStart(3, '0')}`,
            state: 'success',
          });
        }
        const ci = await client.ciStatus(sha);
        expect(ci.contexts).toHaveLength(105);
        expect(ci.state).toBe('pending');
      });

      it('fails with GitHub’s answer for a commit the repository does not have', async () => {
        const sha = randomBytes(20).toString('hex');
        const error = await thrown(client.ciStatus(sha));
        expect([404, 422]).toContain(error.status);
        expect(['not-found', 'invalid']).toContain(error.failure);
        expect(error.message).toContain(sha.slice(0, 7));
        expect(error.details.githubMessage).toEqual(expect.any(String));
      });
    });

    describe('deployments', () => {
      it('moves a deployment queued → in_progress → success, with its URLs', async () => {
        const sha = await backend.newCommit();
        // Airlock evaluates its own gate: a red commit status must not stop GitHub recording it.
        await backend.setStatus(sha, { context: 'ci/unrelated', state: 'failure' });
        const environment = env();
        const { id } = await client.createDeployment({
          ref: sha,
          environment,
          description: 'Airlock: r7 to staging',
          payload: { release: 'r7', digest: DIGEST },
          productionEnvironment: false,
        });
        expect(id).toEqual(expect.any(Number));
        const logUrl = 'https://airlock.example.com/runs/42';
        const environmentUrl = 'https://staging.example.com';
        await client.setDeploymentStatus(id, {
          state: 'queued',
          description: 'Waiting for the lock',
        });
        await client.setDeploymentStatus(id, {
          state: 'in_progress',
          description: 'Deploying r7',
          logUrl,
        });
        await client.setDeploymentStatus(id, {
          state: 'success',
          description: 'r7 serves on staging',
          environmentUrl,
          logUrl,
        });

        const statuses = await client.deploymentStatuses(id);
        expect(statuses.map((s) => s.state)).toEqual(['success', 'in_progress', 'queued']);
        expect(statuses[0]).toMatchObject({
          environmentUrl,
          logUrl,
          description: 'r7 serves on staging',
        });
        expect(statuses[1]).toMatchObject({ logUrl, description: 'Deploying r7' });

        const [deployment] = await client.listDeployments(environment);
        expect(deployment).toMatchObject({
          id,
          sha,
          ref: sha,
          environment,
          description: 'Airlock: r7 to staging',
          payload: { release: 'r7', digest: DIGEST },
          transientEnvironment: false,
          productionEnvironment: false,
        });
      });

      it('records a failure, and fits a long description into GitHub’s 140 characters', async () => {
        const sha = await backend.newCommit();
        const { id } = await client.createDeployment({
          ref: sha,
          environment: env(),
          description: 'Airlock: r8 to staging',
          payload: { release: 'r8', digest: DIGEST },
        });
        await client.setDeploymentStatus(id, { state: 'in_progress', description: 'Deploying r8' });
        const long = `check:web failed: ${'GET /health answered 503 '.repeat(10)}`;
        await client.setDeploymentStatus(id, {
          state: 'failure',
          description: long,
          logUrl: 'https://airlock.example.com/runs/43',
        });
        const [latest] = await client.deploymentStatuses(id, 1);
        expect(latest?.state).toBe('failure');
        expect(latest?.description).toHaveLength(140);
        expect(latest?.description.startsWith('check:web failed: GET /health')).toBe(true);
      });

      it('marks older deployments of the environment inactive, once', async () => {
        const environment = env();
        const other = env();
        const deploy = async (release: string, state?: 'success' | 'in_progress' | 'failure') => {
          const { id } = await client.createDeployment({
            ref: await backend.newCommit(),
            environment: release === 'elsewhere' ? other : environment,
            description: `Airlock: ${release}`,
            payload: { release, digest: DIGEST },
            productionEnvironment: true,
          });
          if (state) await client.setDeploymentStatus(id, { state, description: release });
          return id;
        };
        const elsewhere = await deploy('elsewhere', 'success');
        const r1 = await deploy('r1', 'success');
        const r2 = await deploy('r2', 'in_progress'); // a run that died
        const r3 = await deploy('r3', 'failure');
        const r4 = await deploy('r4'); // never got a status
        const r5 = await deploy('r5', 'success');
        const latest = async (id: number) => (await client.deploymentStatuses(id, 1))[0]?.state;

        expect(await client.markOlderInactive(environment, r5)).toEqual({
          inactivated: [r1, r2, r4],
        });
        expect(await latest(r1)).toBe('inactive');
        expect(await latest(r2)).toBe('inactive');
        expect(await latest(r3)).toBe('failure');
        expect(await latest(r4)).toBe('inactive');
        expect(await latest(r5)).toBe('success');
        expect(await latest(elsewhere)).toBe('success');
        // Idempotent: nothing left to do, nothing written.
        expect(await client.markOlderInactive(environment, r5)).toEqual({ inactivated: [] });
        expect((await client.deploymentStatuses(r1)).map((s) => s.state)).toEqual([
          'inactive',
          'success',
        ]);
      });

      it('fails with GitHub’s message for a ref the repository does not have', async () => {
        const ref = `airlock-contract-no-such-ref-${randomUUID().slice(0, 8)}`;
        const error = await thrown(
          client.createDeployment({
            ref,
            environment: env(),
            description: 'Airlock: nowhere',
            payload: { release: 'r9', digest: DIGEST },
          }),
        );
        expect(error).toMatchObject({ status: 422, failure: 'invalid', kind: 'provider' });
        expect(error.message).toContain(`No ref found for: ${ref}`);
        expect(error.hint).toEqual(expect.any(String));
      });

      it('fails with not-found for a deployment that does not exist', async () => {
        const error = await thrown(
          client.setDeploymentStatus(2_000_000_000, { state: 'success', description: 'x' }),
        );
        expect(error).toMatchObject({ status: 404, failure: 'not-found' });
        expect(error.message).toContain('deployment 2000000000');
      });
    });

    describe('authentication', () => {
      it('answers 401 without a token, and says to set GITHUB_TOKEN', async () => {
        const anonymous = new GitHubClient({
          token: '',
          repository: backend.repository,
          ...(backend.baseUrl ? { baseUrl: backend.baseUrl } : {}),
        });
        const error = await thrown(
          anonymous.createDeployment({
            ref: await backend.newCommit(),
            environment: env(),
            description: 'Airlock: anonymous',
            payload: { release: 'r1', digest: DIGEST },
          }),
        );
        expect(error).toMatchObject({ status: 401, failure: 'unauthorized' });
        expect(error.message).toMatch(/requires a token/);
        expect(error.hint).toContain('Set GITHUB_TOKEN');
        expect(error.hint).toContain('deployments: write');
      });

      it('answers 401 for a wrong token and never lets the token out', async () => {
        const token = `ghp_${randomBytes(18).toString('hex')}`;
        const wrong = new GitHubClient({
          token,
          repository: backend.repository,
          ...(backend.baseUrl ? { baseUrl: backend.baseUrl } : {}),
        });
        const sha = await backend.newCommit();
        // One call at a time: a rejection that settles while an earlier call is awaited would
        // be unhandled until its turn.
        for (const call of [
          () => wrong.ciStatus(sha),
          () =>
            wrong.createDeployment({
              ref: sha,
              environment: env(),
              description: 'Airlock: wrong token',
              payload: { release: 'r1', digest: DIGEST },
            }),
          () => wrong.markOlderInactive(env(), 1),
        ]) {
          const error = await thrown(call());
          expect(error).toMatchObject({ status: 401, failure: 'unauthorized' });
          expect(error.message).toMatch(/rejected the token/);
          expect(error.details.githubMessage).toBe('Bad credentials');
          expect(error.cause).toBeUndefined();
          expect(everyRendering(error)).not.toContain(token);
          expect(everyRendering(error)).not.toContain(token.slice(4, 20));
        }
        expect(inspect(wrong, { depth: 20, showHidden: true })).not.toContain(token);
        expect(JSON.stringify(wrong)).not.toContain(token);
      });
    });
  });
}
