/**
 * Promotion policies on the real example (in process, real builds, processes and checks):
 * the automatic policy waiting out a soak time while a newer release supersedes the one it
 * waited for, watch mode, a freeze with an audited override, stale checks re-verified on
 * staging before promoting, and a release waiting for approval never replaced silently.
 * Time moves through `ctx.now`; the waits between evaluations are the test's own `sleep`.
 */
import { describe, expect } from 'vitest';
import { environmentNamed } from '../../src/config/environments.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { autoPromote } from '../../src/pipeline/auto-promote.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { deploy, planDeploy, rollback } from '../../src/pipeline/operations.ts';
import {
  projectTestWith,
  promotedProjectTest,
  stageAndApprove,
  stagedProjectTestWith,
} from '../helpers/fixtures.ts';
import type { ExampleProjectOptions } from '../helpers/project.ts';
import { liveVersion, REVIEWER } from '../helpers/project.ts';

const MINUTE = 60_000;

/** A context whose clock the test moves forward. */
function withClock(ctx: AirlockContext): { ctx: AirlockContext; advance(ms: number): void } {
  let offset = 0;
  return {
    ctx: { ...ctx, now: () => new Date(Date.now() + offset) },
    advance: (ms) => {
      offset += ms;
    },
  };
}

/** Production follows staging automatically, once a release has soaked there for 10 minutes. */
const soakTest = projectTestWith({
  config: (doc) => {
    doc.setIn(
      ['environments', 'production', 'promotion'],
      doc.createNode({ policy: 'automatic', soak: '10m' }),
    );
  },
  commitMessage: 'Automatic promotion after 10 minutes on staging',
});

describe('automatic policy with a soak time', () => {
  soakTest(
    'waits for the soak; a newer release supersedes the one waiting, and it is promoted instead',
    async ({ project }) => {
      const clock = withClock((await project.session()).ctx);
      const { ctx } = clock;
      expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded');
      const seen: string[] = [];
      let sleeps = 0;
      const outcome = await autoPromote(ctx, 'production', {
        timeoutMs: 60 * MINUTE,
        intervalMs: 1000,
        onEvaluate: (plan) =>
          seen.push(
            `${plan.release.id} ${plan.gates.map((g) => `${g.gate}:${g.status}`).join(' ')}`,
          ),
        onSuperseded: (older, newer) => seen.push(`${newer} supersedes ${older}`),
        sleep: async () => {
          sleeps += 1;
          if (sleeps === 1) {
            // While r1 soaks, r2 reaches staging.
            project.commit('2-pinned-notes');
            expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded');
          } else clock.advance(11 * MINUTE);
        },
      });
      expect(outcome.status).toBe('promoted');
      expect(seen).toEqual([
        'r1 deployed:holds checks:holds migrations:holds drift:holds parity:holds soak:pending approval:holds',
        'r2 supersedes r1',
        'r2 deployed:holds checks:holds migrations:holds drift:holds parity:holds soak:pending approval:holds',
        'r2 deployed:holds checks:holds migrations:holds drift:holds parity:holds soak:holds approval:holds',
      ]);
      expect((await liveVersion(project.url('production'))).release).toBe('r2');
      const audit = await ctx.store.listAudit({ environment: 'production', limit: 20 });
      expect(audit.find((a) => a.action === 'promotion.superseded')).toMatchObject({
        releaseId: 'r1',
        detail: { by: 'r2', policy: 'automatic' },
      });
    },
  );

  soakTest(
    '--watch promotes each new release once its gate holds, and stops when asked',
    async ({ project }) => {
      const clock = withClock((await project.session()).ctx);
      const { ctx } = clock;
      const stop = new AbortController();
      const promoted: string[] = [];
      let sleeps = 0;
      await autoPromote(ctx, 'production', {
        watch: true,
        timeoutMs: 0,
        intervalMs: 1000,
        signal: stop.signal,
        onPromoted: (result) => {
          promoted.push(`${result.plan.release.id} ${result.status}`);
          if (promoted.length === 2) stop.abort();
        },
        sleep: async () => {
          sleeps += 1;
          clock.advance(11 * MINUTE);
          if (sleeps === 1 || sleeps === 3) {
            project.commitFiles({ 'CHANGELOG.md': `change ${sleeps}\n` }, `Change ${sleeps}`);
            expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded');
          }
        },
      });
      expect(promoted).toEqual(['r1 succeeded', 'r2 succeeded']);
      expect((await liveVersion(project.url('production'))).release).toBe('r2');
    },
  );

  soakTest('--auto is refused on an environment promoted by hand', async ({ project }) => {
    const { ctx } = await project.session();
    const manual = {
      ...ctx,
      config: {
        ...ctx.config,
        environments: {
          ...ctx.config.environments,
          production: {
            ...environmentNamed(ctx.config, 'production'),
            promotion: {
              ...environmentNamed(ctx.config, 'production').promotion,
              policy: 'manual' as const,
            },
          },
        },
      },
    };
    await expect(
      autoPromote(manual, 'production', { timeoutMs: 0, intervalMs: 1 }),
    ).rejects.toMatchObject({
      code: 'USAGE',
      message: 'production is promoted by hand (promotion: manual), so --auto does not apply.',
    });
  });
});

/** Production is frozen for launch week, and staging's checks older than an hour are re-run. */
const freeze: ExampleProjectOptions = {
  config: (doc) => {
    const from = new Date(Date.now() - 60 * MINUTE).toISOString();
    const to = new Date(Date.now() + 24 * 60 * MINUTE).toISOString();
    doc.setIn(
      ['environments', 'production', 'promotion'],
      doc.createNode({
        policy: 'manual',
        approval: { required: 1 },
        checksMaxAge: '1h',
        // The re-check step is what these tests exercise (a stopped staging fails it); the
        // live look at staging in the deployed gate has its own test (live-previous.test.ts).
        livePrevious: false,
        freeze: [{ from, to, reason: 'launch week' }],
      }),
    );
  },
  commitMessage: 'Freeze production for launch week; re-check stale staging checks',
};
const freezeTest = projectTestWith(freeze);
const stagedFreezeTest = stagedProjectTestWith(freeze);

describe('manual policy: freeze, stale checks, approvals never dropped silently', () => {
  freezeTest(
    'a freeze blocks with its reason; an override with a reason lets the promotion through, audited',
    async ({ project }) => {
      const dev = await stageAndApprove(project);
      const plan = await planDeploy(dev, 'production', {});
      expect(plan.gates.find((g) => g.gate === 'window')).toMatchObject({
        status: 'fails',
        reason: expect.stringMatching(/^production is frozen until .*: launch week\.$/),
      });
      await expect(deploy(dev, 'production', {})).rejects.toMatchObject({ code: 'GATE_BLOCKED' });

      const result = await deploy(dev, 'production', { windowOverride: 'hotfix for #42' });
      expect(result.status).toBe('succeeded');
      const audit = await dev.store.listAudit({ environment: 'production', limit: 20 });
      expect(audit.find((a) => a.action === 'gate.overridden')).toMatchObject({
        releaseId: 'r1',
        runId: result.run.id,
        detail: { gate: 'window', reason: 'hotfix for #42' },
      });
    },
  );

  stagedFreezeTest(
    'deploying over a release that awaits approval says so and records it',
    async ({ project }) => {
      const dev = (await project.session()).ctx;
      project.commit('2-pinned-notes');
      expect((await deploy(dev, 'staging', {})).status).toBe('succeeded');
      await recordApproval((await project.session(REVIEWER)).ctx, {
        environment: 'production',
        decision: 'approved',
      });
      project.commitFiles({ 'CHANGELOG.md': 'r3\n' }, 'A newer change');
      const warnings: string[] = [];
      const r3 = await deploy(
        dev,
        'staging',
        {},
        {
          beforeApply: async (plan) => {
            warnings.push(...plan.warnings);
          },
        },
      );
      expect(r3.status).toBe('succeeded');
      expect(warnings).toContain(
        `r2 is approved for production (${REVIEWER}) but not promoted yet. Once r3 replaces it on staging, r2 can no longer be promoted, and its approvals do not carry over to r3.`,
      );
      const audit = await dev.store.listAudit({ environment: 'production', limit: 20 });
      expect(audit.find((a) => a.action === 'approval.superseded')).toMatchObject({
        releaseId: 'r2',
        detail: { by: 'r3', on: 'staging', approvals: [REVIEWER], required: 1 },
      });
    },
  );

  stagedFreezeTest(
    're-runs checks older than checksMaxAge on staging first, and stops there when they fail',
    async ({ project }) => {
      const clock = withClock((await project.session()).ctx);
      const dev = clock.ctx;
      const reviewer = { ...(await project.session(REVIEWER)).ctx, now: dev.now };
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      clock.advance(2 * 60 * MINUTE);
      const plan = await planDeploy(dev, 'production', { windowOverride: 'launch fix' });
      expect(plan.blocked).toBe(false);
      expect(plan.steps.map((s) => s.name).slice(0, 2)).toEqual(['verify', 'recheck:notes']);
      const result = await deploy(dev, 'production', { windowOverride: 'launch fix' });
      expect(result.status).toBe('succeeded');
      const recheck = result.steps.find((s) => s.name === 'recheck:notes');
      expect(recheck).toMatchObject({ status: 'succeeded' });
      expect(recheck?.message).toMatch(/^2 passed \(smoke \d+ ms, e2e \d+ ms\)$/);

      // The next release's staging checks go stale too, and staging stops serving it meanwhile:
      // the promotion fails at the re-check, before production changes.
      project.commitFiles({ 'CHANGELOG.md': 'r2\n' }, 'Another change');
      expect((await deploy(dev, 'staging', {})).status).toBe('succeeded');
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      clock.advance(2 * 60 * MINUTE);
      await dev.providerFor(environmentNamed(dev.config, 'staging')).stopEnvironment('staging');
      const failed = await deploy(dev, 'production', { windowOverride: 'launch fix' });
      expect(failed.status).toBe('failed');
      expect(failed.failedStep).toMatchObject({ name: 'recheck:notes' });
      expect(failed.failedStep?.message).toContain('staging no longer serves r2');
      expect((await liveVersion(project.url('production'))).release).toBe('r1');
    },
  );
});

describe('a release rolled back from the next environment', () => {
  promotedProjectTest(
    'is not reported as approved but not promoted; approved again, the warning says it was rolled back',
    async ({ project }) => {
      project.commit('2-pinned-notes');
      const dev = await stageAndApprove(project);
      expect((await deploy(dev, 'production', {})).status).toBe('succeeded');
      expect((await rollback(dev, 'production', 'r1')).status).toBe('succeeded');

      // r2 served production and was rolled back from it: its approval no longer counts.
      project.commitFiles({ 'CHANGELOG.md': 'r3\n' }, 'A newer change');
      const warnings: string[] = [];
      const beforeApply = async (plan: { warnings: string[] }) => {
        warnings.push(...plan.warnings);
      };
      expect((await deploy(dev, 'staging', {}, { beforeApply })).status).toBe('succeeded');
      expect(warnings.filter((w) => w.includes('r2'))).toEqual([]);

      // Back on staging and approved again since the rollback: replacing it strands that.
      expect((await rollback(dev, 'staging', 'r2')).status).toBe('succeeded');
      await recordApproval((await project.session(REVIEWER)).ctx, {
        environment: 'production',
        decision: 'approved',
      });
      warnings.length = 0;
      expect((await deploy(dev, 'staging', {}, { beforeApply })).status).toBe('succeeded');
      expect(warnings).toContain(
        `r2 was rolled back from production (to r1) and is approved for production again (${REVIEWER}) but not promoted yet. Once r3 replaces it on staging, r2 can no longer be promoted, and its approvals do not carry over to r3.`,
      );
    },
  );
});
