/**
 * The seed pipelines end to end, driven by the real `airlock` CLI (child processes) on the
 * real example app and the local target:
 * - manual (seeds 000, 002): two distinct approvers for `required: 2`, self-approval refused,
 *   a rejection with its reason, notifications to a real signed-webhook receiver;
 * - automatic (seed 001): CI green at the exact commit from a FAKE GitHub API (labelled
 *   fake: GitHub cannot be reached from here), promotion on green, a stop on red naming the
 *   failing gate, and every deployment reported to the Deployments API.
 * The staging-branch flow (seed 003) is driven from its generated workflow in test/ci.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { verifyWebhookSignature } from '../../src/notify/webhook-signature.ts';
import { FakeGitHub } from '../fakes/github/fake-github.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { DEVELOPER, exampleProject, liveVersion } from '../helpers/project.ts';
import { type Receiver, startReceiver } from '../notify/receiver.ts';

const ALICE = 'alice@airlock.demo';
const BOB = 'bob@airlock.demo';
const CAROL = 'carol@airlock.demo';
const SECRET = 'test-signing-secret-0123456789abcdef';

const head = (dir: string) =>
  execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();

/** Every event the receiver got, as `type environment release`. */
function received(receiver: Receiver): string[] {
  return receiver.requests.map((r) => {
    const e = JSON.parse(r.body) as { type: string; environment: string; release: { id: string } };
    return `${e.type} ${e.environment} ${e.release.id}`;
  });
}

/** Production needs two approvers; every step is sent to a signed webhook (a real receiver). */
const twoApproversTest = projectTestWith({
  config: (doc) => {
    doc.setIn(['environments', 'production', 'promotion', 'approval', 'required'], 2);
    doc.set(
      'notify',
      doc.createNode([{ kind: 'webhook', url: '${HOOK_URL}', secret: '${HOOK_SECRET}' }]),
    );
  },
  commitMessage: 'Two approvers for production; notify a webhook',
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
}).extend('receiver', async ({}, { onCleanup }): Promise<Receiver> => {
  const receiver = await startReceiver();
  onCleanup(() => receiver.close());
  return receiver;
});

describe('seeds 000/002: manual promotion with two approvers', () => {
  twoApproversTest(
    'needs two people other than the deployer and tells the team at each step; a rejection blocks with its reason until the reviewer changes their mind',
    async ({ project, receiver }) => {
      const env = { HOOK_URL: `${receiver.url}/airlock`, HOOK_SECRET: SECRET };
      const as = (actor: string) => ({ env: { ...env, AIRLOCK_ACTOR: actor } });
      const staged = await project.cli(['deploy', 'staging'], as(DEVELOPER));
      expect(staged.code, staged.stderr).toBe(0);
      expect(received(receiver)).toEqual([
        'deployment.started staging r1',
        'deployment.succeeded staging r1',
        'approval.requested production r1',
      ]);
      // Each delivery is signed with the shared secret over its timestamp and body, and carries
      // the audit chain's head (a copy outside the state database).
      for (const r of receiver.requests) {
        expect(JSON.parse(r.body).details.auditHead).toMatch(/^\d+:[0-9a-f]{16}$/);
        expect(
          verifyWebhookSignature({
            secret: SECRET,
            body: r.body,
            timestamp: String(r.headers['x-airlock-timestamp']),
            signature: String(r.headers['x-airlock-signature']),
          }),
        ).toEqual({ ok: true });
      }

      const early = await project.cli(['promote', 'production', '--yes'], as(DEVELOPER));
      expect(early.code).not.toBe(0);
      expect(early.stderr).toContain(
        'the approval gate is pending (2 more approvals needed (0/2) by someone other than dev@airlock.demo)',
      );

      const self = await project.cli(['approve', 'production'], as(DEVELOPER));
      expect(self.code).not.toBe(0);
      expect(self.stderr).toContain(
        'dev@airlock.demo deployed r1 to staging and cannot approve its promotion to production',
      );

      expect((await project.cli(['approve', 'production'], as(ALICE))).code).toBe(0);
      // The same person approving twice still counts once.
      expect((await project.cli(['approve', 'production'], as(ALICE))).code).toBe(0);
      const one = await project.cli(['promote', 'production', '--yes'], as(DEVELOPER));
      expect(one.code).not.toBe(0);
      expect(one.stderr).toContain('1 more approval needed (1/2)');

      expect((await project.cli(['approve', 'production', '-m', 'looks good'], as(BOB))).code).toBe(
        0,
      );
      const promoted = await project.cli(['promote', 'production', '--yes'], as(DEVELOPER));
      expect(promoted.code, promoted.stderr).toBe(0);
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
      expect(received(receiver)).toContain('promotion.succeeded production r1');

      // On the record: who approved, the refused self-approval, the refused promotions.
      const { ctx } = await project.session();
      const audit = await ctx.store.listAudit({ environment: 'production', limit: 50 });
      const actions = audit.map((a) => `${a.action} ${a.actor}`);
      expect(actions).toEqual(
        expect.arrayContaining([
          `approval.refused ${DEVELOPER}`,
          `approval.recorded ${ALICE}`,
          `approval.recorded ${BOB}`,
          `promotion.refused ${DEVELOPER}`,
          `promotion.succeeded ${DEVELOPER}`,
          'notification.delivered dev@airlock.demo',
        ]),
      );

      // A rejection blocks with its reason until the reviewer changes their mind.
      project.commit('2-pinned-notes');
      expect((await project.cli(['deploy', 'staging'], as(DEVELOPER))).code).toBe(0);
      expect((await project.cli(['approve', 'production'], as(ALICE))).code).toBe(0);
      const reject = await project.cli(
        ['approve', 'production', '--reject', '-m', 'pinning breaks the mobile layout'],
        as(CAROL),
      );
      expect(reject.code).toBe(0);
      const refused = await project.cli(['promote', 'production', '--yes'], as(DEVELOPER));
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(
        'r2 was rejected for production by carol@airlock.demo ("pinning breaks the mobile layout")',
      );
      expect(received(receiver)).toContain('gate.failed production r2');
      expect((await liveVersion(project.url('production'))).release).toBe('r1');

      // Carol approves after all: the latest word of each person counts.
      expect((await project.cli(['approve', 'production'], as(CAROL))).code).toBe(0);
      const promotedR2 = await project.cli(['promote', 'production', '--yes'], as(DEVELOPER));
      expect(promotedR2.code, promotedR2.stderr).toBe(0);
      expect((await liveVersion(project.url('production'))).release).toBe('r2');
    },
  );
});

const TOKEN = 'ghs_fakeTokenForTests0000000000000000';

/** Production follows automatically when CI is green at the exact commit, on a FAKE GitHub. */
const ciTest = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend('github', async ({}, { onCleanup }): Promise<FakeGitHub> => {
    const github = await FakeGitHub.start({ repository: 'acme/notes', token: TOKEN });
    onCleanup(() => github.close());
    return github;
  })
  .extend('project', async ({ github }, { onCleanup }) => {
    const project = await exampleProject({
      config: (doc) => {
        doc.set('github', doc.createNode({ repository: 'acme/notes', apiUrl: github.url }));
        doc.set('ci', doc.createNode({ github: { required: ['test'] } }));
        doc.setIn(
          ['environments', 'production', 'promotion'],
          doc.createNode({ policy: 'automatic', ci: true }),
        );
      },
      commitMessage: 'Promote automatically when CI is green (seed 001)',
    });
    onCleanup(() => project.cleanup());
    return project;
  });

describe('seed 001: automatic promotion when CI is green at the exact commit (FAKE GitHub)', () => {
  const env = { GITHUB_TOKEN: TOKEN, AIRLOCK_ACTOR: 'ci-bot@airlock.demo' };

  ciTest(
    'waits while CI runs, promotes on green, reports every deployment to GitHub; stops on red, naming the failing gate and check, and production keeps serving',
    async ({ project, github }) => {
      const sha = head(project.dir);
      github.setStatus(sha, { context: 'test', state: 'pending' });

      const staged = await project.cli(['deploy', 'staging'], { env });
      expect(staged.code, staged.stderr).toBe(0);
      expect(staged.stdout).toContain('Automatic promotion of r1 to production is waiting');
      expect(staged.stdout).toMatch(/ci\s.*CI is still running at/);

      const pending = await project.cli(['promote', 'production', '--auto', '--timeout', '0'], {
        env,
      });
      expect(pending.code).toBe(3);
      expect(pending.stdout).toContain('r1 is still waiting for ci');

      github.setStatus(sha, { context: 'test', state: 'success' });
      const promoted = await project.cli(['promote', 'production', '--auto'], { env });
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(promoted.stdout).toContain('Every gate holds for production (automatic policy)');
      expect((await liveVersion(project.url('production'))).release).toBe('r1');

      // GitHub Deployments: one per environment, in_progress → success, with the live URL.
      for (const environment of ['staging', 'production'] as const) {
        const [deployment] = github.deployments(environment);
        expect(deployment).toMatchObject({ sha, environment });
        const states = github.deploymentStatuses(deployment?.id as number).map((s) => s.state);
        expect(states.slice().sort()).toEqual(['in_progress', 'success']);
        const success = github
          .deploymentStatuses(deployment?.id as number)
          .find((s) => s.state === 'success');
        expect(success?.environment_url).toBe(project.url(environment));
        // The audit chain's head travels with the deployment, kept outside the state database.
        expect(deployment?.payload).toMatchObject({ auditHead: expect.stringMatching(/^\d+:/) });
        expect(success?.description).toMatch(/\(audit head \d+:[0-9a-f]{16}\)$/);
      }

      // Stops on red, naming the failing gate and check, and production keeps serving.
      project.commit('2-pinned-notes');
      const redSha = head(project.dir);
      github.setStatus(redSha, {
        context: 'test',
        state: 'failure',
        description: '2 tests failed',
      });

      const stagedRed = await project.cli(['deploy', 'staging'], { env });
      expect(stagedRed.code, stagedRed.stderr).toBe(0);
      expect(stagedRed.stdout).toMatch(/ci\s.*CI is red at .* \(test\)/);

      const auto = await project.cli(['promote', 'production', '--auto'], { env });
      expect(auto.code).toBe(1);
      expect(auto.stdout).toContain('r2 is not promoted to production: the ci gate failed.');
      expect((await liveVersion(project.url('production'))).release).toBe('r1');

      const { ctx } = await project.session();
      const [refused] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(refused).toMatchObject({ action: 'promotion.refused', releaseId: 'r2' });

      // Staging's new deployment succeeded on GitHub; the one before it is inactive now.
      const staging = github.deployments('staging');
      expect(staging).toHaveLength(2);
      const latestStates = (id: number) => github.deploymentStatuses(id).map((s) => s.state);
      const [older, newer] = [...staging].sort((a, b) => Number(a.id) - Number(b.id));
      expect(latestStates(newer?.id as number)).toContain('success');
      expect(latestStates(older?.id as number)).toContain('inactive');
    },
  );
});
