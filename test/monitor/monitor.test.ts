/**
 * `airlock monitor` against a real app behind the local runtime, stopped and started again,
 * with incidents tracked as issues on the FAKE GitHub. Passes are driven in process with a
 * clock that advances one interval (1 s) per pass, so the test does not sleep through them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  test as plain,
} from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import { GitHubClient } from '../../src/github/github-client.ts';
import { environmentHealth } from '../../src/monitor/health-summary.ts';
import { GitHubIncidentIssues, INCIDENT_LABEL } from '../../src/monitor/incident-issues.ts';
import { decideIncident } from '../../src/monitor/incident-rules.ts';
import { Monitor } from '../../src/monitor/monitor.ts';
import { monitorSettings } from '../../src/monitor/monitor-settings.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { planDeploy, promote } from '../../src/pipeline/operations.ts';
import { LocalRuntimeClient } from '../../src/providers/local/runtime-client.ts';
import { FakeGitHub } from '../fakes/github/fake-github.ts';
import { stagedProjectTestWith } from '../helpers/fixtures.ts';
import { REVIEWER, type TestProject } from '../helpers/project.ts';

const TOKEN = 'ghp_monitortesttoken000000000000000000';
let github: FakeGitHub;
/** A webhook receiver: every notification delivered to it. */
const hook = { server: null as Server | null, events: [] as Array<{ type: string }> };

beforeAll(async () => {
  hook.server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      hook.events.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.server?.listen(0, '127.0.0.1', r));
  const { port } = hook.server.address() as AddressInfo;
  process.env.MONITOR_TEST_HOOK_URL = `http://127.0.0.1:${port}/hook`;
  process.env.MONITOR_TEST_HOOK_SECRET = 'monitor-test-hook-secret';
});
afterAll(async () => {
  await new Promise((r) => hook.server?.close(r));
});

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
    doc.set('notify', [
      {
        kind: 'webhook',
        url: '${MONITOR_TEST_HOOK_URL}',
        secret: '${MONITOR_TEST_HOOK_SECRET}',
        events: ['incident.opened', 'incident.resolved'],
      },
    ]);
  },
});

/** A session whose clock is `clock.now`, advanced by the test. */
async function clocked(project: TestProject, clock: { now: number }): Promise<Session> {
  const session = await project.session();
  return { ...session, ctx: { ...session.ctx, now: () => new Date(clock.now) } };
}

/** A monitor with the session's notifications, and issues on the fake GitHub. */
function monitorFor({ ctx, integrations }: Session): Monitor {
  const client = new GitHubClient({ token: TOKEN, repository: 'acme/notes', baseUrl: github.url });
  return new Monitor({
    ctx,
    settings: monitorSettings(ctx.config.raw),
    issues: new GitHubIncidentIssues(client),
    ...(integrations.notify ? { notify: integrations.notify } : {}),
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
    const session = await clocked(project, clock);
    const { ctx } = session;
    const monitor = monitorFor(session);
    hook.events.length = 0;
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

    // Notified (and each delivery recorded in the audit log).
    await session.integrations.flush();
    expect(hook.events.map((e) => e.type)).toEqual(['incident.opened', 'incident.resolved']);
    const events = await ctx.store.listAudit({ environment: 'staging', limit: 20 });
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['incident.opened', 'incident.resolved']),
    );
    expect(
      events
        .filter((e) => e.action === 'notification.delivered')
        .map((e) => e.detail.event)
        .sort(),
    ).toEqual(['incident.opened', 'incident.resolved']);

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
    const sessions = [await clocked(project, clock), await clocked(project, clock)];
    const [a, b] = sessions.map(monitorFor) as [Monitor, Monitor];
    hook.events.length = 0;
    const { ctx } = await project.session();
    await new LocalRuntimeClient({ home: ctx.home }).shutdown();
    for (let i = 0; i < 3; i++) {
      const results = await Promise.all([a.pass(), b.pass()]);
      expect(results.filter((r) => r.standby !== null)).toHaveLength(1);
      clock.now += 1000;
    }
    expect(await ctx.store.listIncidents({ limit: 10 })).toHaveLength(1);
    expect(github.issues(INCIDENT_LABEL).filter((i) => i.state === 'open')).toHaveLength(1);
    for (const s of sessions) await s.integrations.flush();
    expect(hook.events.filter((e) => e.type === 'incident.opened')).toHaveLength(1);
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
    const session = await project.session();
    await new LocalRuntimeClient({ home: session.ctx.home }).shutdown();
    // One failing pass (in process, to keep the test short): no incident yet.
    const inProcess = monitorFor(session);
    expect((await inProcess.pass()).open).toEqual([]);
    await inProcess.release();
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
