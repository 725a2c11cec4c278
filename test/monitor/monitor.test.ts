/**
 * `airlock monitor` against a real app behind the local runtime, stopped and started again,
 * with incidents tracked as issues on the FAKE GitHub. Passes are driven in process with a
 * clock that advances one interval (1 s) per pass, so the test does not sleep through them.
 */
import { afterEach, beforeEach, describe, expect, test as plain } from 'vitest';
import { GitHubClient } from '../../src/github/github-client.ts';
import { environmentHealth } from '../../src/monitor/health-summary.ts';
import { GitHubIncidentIssues, INCIDENT_LABEL } from '../../src/monitor/incident-issues.ts';
import { decideIncident } from '../../src/monitor/incident-rules.ts';
import { Monitor } from '../../src/monitor/monitor.ts';
import { monitorSettings } from '../../src/monitor/monitor-settings.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { planDeploy, promote } from '../../src/pipeline/operations.ts';
import { LocalRuntimeClient } from '../../src/providers/local/runtime-client.ts';
import { FakeGitHub } from '../fakes/github/fake-github.ts';
import { stagedProjectTestWith } from '../helpers/fixtures.ts';
import { REVIEWER, type TestProject } from '../helpers/project.ts';

const TOKEN = 'ghp_monitortesttoken000000000000000000';
let github: FakeGitHub;

beforeEach(async () => {
  github = await FakeGitHub.start({ repository: 'acme/notes', token: TOKEN });
});
afterEach(async () => {
  await github?.close();
});

const test = stagedProjectTestWith({
  config: (doc) => {
    doc.set('github', { repository: 'acme/notes', deployments: false });
    doc.set('monitor', { intervalMs: 1000 });
  },
});

/** A context whose clock is `clock.now`, advanced by the test. */
async function clocked(project: TestProject, clock: { now: number }): Promise<AirlockContext> {
  const { ctx } = await project.session();
  return { ...ctx, now: () => new Date(clock.now) };
}

function monitorFor(ctx: AirlockContext, token?: string): Monitor {
  const client = new GitHubClient({ token: TOKEN, repository: 'acme/notes', baseUrl: github.url });
  return new Monitor({
    ctx,
    settings: monitorSettings(ctx.config.raw),
    issues: new GitHubIncidentIssues(client),
    ...(token ? { token } : {}),
  });
}

/** Waits until `url` answers 200 (the runtime restores what served when it starts). */
async function answers(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not come back`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('airlock monitor', () => {
  test('opens an issue within two failing passes and closes it with the outage after recovery', async ({
    project,
  }) => {
    const clock = { now: Date.parse('2026-06-01T10:00:00.000Z') };
    const ctx = await clocked(project, clock);
    const monitor = monitorFor(ctx);
    const runtime = new LocalRuntimeClient({ home: ctx.home });
    const pass = async () => {
      const r = await monitor.pass();
      clock.now += 1000;
      return r;
    };

    const healthy = await pass();
    expect(healthy.environments.map((e) => e.environment)).toEqual(['staging']);
    expect(healthy.environments[0]?.samples).toEqual([
      expect.objectContaining({ service: 'notes', check: 'smoke', ok: true }),
    ]);
    expect(healthy.open).toEqual([]);

    await runtime.shutdown();
    const firstFailing = await pass();
    expect(firstFailing.environments[0]?.samples[0]?.ok).toBe(false);
    expect(firstFailing.opened).toEqual([]);
    expect(github.issues(INCIDENT_LABEL)).toHaveLength(0);

    const secondFailing = await pass();
    expect(secondFailing.opened).toHaveLength(1);
    const [issue] = github.issues(INCIDENT_LABEL);
    expect(issue?.state).toBe('open');
    expect(issue?.title).toContain('staging');
    expect(issue?.body).toContain('| notes | smoke |');
    expect(issue?.body).toContain('since 2026-06-01T10:00:01.000Z');
    expect(issue?.body).toContain('notes r1');
    expect(issue?.body).toContain(`http://127.0.0.1:${project.ports.staging}`);
    expect(issue?.body).toContain('https://github.com/acme/notes/deployments/staging');
    const [incident] = await ctx.store.listIncidents({ status: 'open', limit: 5 });
    expect(incident?.issueUrl).toBe(issue?.html_url);

    // Still down: the same incident, no second issue.
    await pass();
    expect(github.issues(INCIDENT_LABEL)).toHaveLength(1);

    // The health gate blocks promotions out of staging, naming the incident and its issue…
    const { ctx: reviewer } = await project.session(REVIEWER);
    await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
    const refused = await promote(ctx, 'production', {}).then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(refused?.code).toBe('GATE_BLOCKED');
    expect(refused?.message).toContain(`incident #${incident?.id}`);
    expect(refused?.message).toContain(issue?.html_url);
    // …unless the promotion fixes it (the override is recorded with the plan and audited).
    const fixing = await planDeploy(ctx, 'production', { fixes: incident?.id ?? 0 });
    expect(fixing.gates.find((g) => g.gate === 'health')).toMatchObject({
      status: 'holds',
      overridden: `fixes incident #${incident?.id}`,
    });

    await runtime.ensureStarted();
    await answers(`${project.url('staging')}/version`);
    const back = await pass();
    expect(back.resolved).toEqual([]);
    const recovered = await pass();
    expect(recovered.resolved).toHaveLength(1);
    // Down from the first failing pass (10:00:01) to the first passing one (10:00:04).
    expect(recovered.resolved[0]?.durationMs).toBe(3000);
    const closed = github.issues(INCIDENT_LABEL)[0];
    expect(closed?.state).toBe('closed');
    expect(closed?.state_reason).toBe('completed');
    const comments = github.issueComments(closed?.number ?? 0);
    expect(comments.at(-1)?.body).toContain('Outage: 3 s');
    expect(recovered.open).toEqual([]);

    const actions = (await ctx.store.listAudit({ environment: 'staging', limit: 20 })).map(
      (e) => e.action,
    );
    expect(actions).toEqual(expect.arrayContaining(['incident.opened', 'incident.resolved']));

    // What `airlock status` shows: 3 of 6 passes healthy, no incident open.
    const [health] = await environmentHealth(ctx.store, ctx.config.pipeline, new Date(clock.now));
    expect(health).toMatchObject({ environment: 'staging', uptime24h: 50, uptime7d: 50, open: [] });
    expect(health?.p95Ms).toEqual(expect.any(Number));

    // Recovered: the promotion goes through.
    const promoted = await promote(ctx, 'production', {});
    expect(promoted.status).toBe('succeeded');
  });

  test('two monitors racing raise one incident and one issue', async ({ project }) => {
    const clock = { now: Date.parse('2026-06-01T10:00:00.000Z') };
    const a = monitorFor(await clocked(project, clock));
    const b = monitorFor(await clocked(project, clock));
    const { ctx } = await project.session();
    await new LocalRuntimeClient({ home: ctx.home }).shutdown();
    for (let i = 0; i < 3; i++) {
      const results = await Promise.all([a.pass(), b.pass()]);
      expect(results.filter((r) => r.standby !== null)).toHaveLength(1);
      clock.now += 1000;
    }
    expect(await ctx.store.listIncidents({ limit: 10 })).toHaveLength(1);
    expect(github.issues(INCIDENT_LABEL).filter((i) => i.state === 'open')).toHaveLength(1);
    // The standby takes over once the holder lets go; still the one incident.
    await a.release();
    await b.release();
    const next = await b.pass();
    expect(next.standby).toBeNull();
    expect(next.opened).toEqual([]);
    expect(next.open).toHaveLength(1);
    // And the store itself refuses a second open incident for the same environment and cause.
    const again = await ctx.store.openIncident({
      environment: 'staging',
      cause: 'checks',
      startedAt: new Date(clock.now).toISOString(),
      openedAt: new Date(clock.now).toISOString(),
      failing: [],
      releaseId: null,
    });
    expect(again).toBeUndefined();
  });

  test('--once exits 0 when healthy, 1 while an incident is open, 2 on an error', async ({
    project,
  }) => {
    const healthy = await project.cli(['monitor', '--once', '--json']);
    expect(healthy.code, healthy.stderr).toBe(0);
    expect(JSON.parse(healthy.stdout).samples).toEqual([
      expect.objectContaining({ environment: 'staging', check: 'smoke', ok: true }),
    ]);
    const { ctx } = await project.session();
    await new LocalRuntimeClient({ home: ctx.home }).shutdown();
    expect((await project.cli(['monitor', '--once'])).code).toBe(0); // one failing pass: not yet
    const down = await project.cli(['monitor', '--once', '--json']);
    expect(down.code, down.stderr).toBe(1);
    expect(JSON.parse(down.stdout).opened).toHaveLength(1);
    const status = await project.cli(['status', '--json']);
    expect(JSON.parse(status.stdout).monitor).toEqual([
      expect.objectContaining({
        environment: 'staging',
        uptime24h: 33.33,
        open: [expect.objectContaining({ environment: 'staging', status: 'open' })],
      }),
    ]);
    const broken = await project.cli(['monitor', '--once'], {
      env: { AIRLOCK_STATE_URL: 'postgres://airlock@127.0.0.1:1/nowhere' },
    });
    expect(broken.code, broken.stderr).toBe(2);
  });
});

describe('incident rules', () => {
  const test = plain;
  const rules = { openAfter: 2, resolveAfter: 2 };
  const passes = (...oks: boolean[]) =>
    // newest first
    oks.map((ok, i) => ({ at: `2026-06-01T10:00:0${oks.length - i}.000Z`, ok }));
  const failing = [{ service: 'web', check: 'health', message: 'down' }];

  test('a flapping check (fail, pass, fail) within the thresholds opens none', () => {
    expect(decideIncident(passes(false, true, false), undefined, failing, rules)).toEqual({
      kind: 'none',
    });
    expect(decideIncident(passes(true, false, true, false), undefined, [], rules).kind).toBe(
      'none',
    );
  });

  test('N failing passes open, from the first failing one; M passing resolve with the outage', () => {
    expect(decideIncident(passes(false, false, true), undefined, failing, rules)).toEqual({
      kind: 'open',
      since: '2026-06-01T10:00:02.000Z',
    });
    const open = {
      id: 1,
      environment: 'staging',
      cause: 'checks',
      status: 'open' as const,
      startedAt: '2026-06-01T10:00:01.000Z',
      openedAt: '2026-06-01T10:00:02.000Z',
      resolvedAt: null,
      durationMs: null,
      failing,
      releaseId: 'r1',
      issueNumber: 1,
      issueUrl: null,
    };
    expect(decideIncident(passes(true, false, false), open, [], rules).kind).toBe('none');
    expect(decideIncident(passes(true, true, false, false), open, [], rules)).toEqual({
      kind: 'resolve',
      at: '2026-06-01T10:00:03.000Z',
      durationMs: 2000,
    });
    const other = [{ service: 'web', check: 'version', message: 'wrong release' }];
    expect(decideIncident(passes(false, false), open, other, rules).kind).toBe('change');
    expect(decideIncident(passes(false, false), open, failing, rules).kind).toBe('none');
  });
});
