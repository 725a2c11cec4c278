/**
 * Incidents as issues on the FAKE GitHub (shaped after GitHub's REST API): opened once (a retry
 * finds the issue an interrupted pass opened), commented on when the failing checks change,
 * closed with the outage's duration.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubClient } from '../../src/github/github-client.ts';
import {
  formatDuration,
  GitHubIncidentIssues,
  INCIDENT_LABEL,
  type IncidentContext,
} from '../../src/monitor/incident-issues.ts';
import { gitHubBranchCi, Monitor } from '../../src/monitor/monitor.ts';
import { MONITOR_DEFAULTS } from '../../src/monitor/monitor-settings.ts';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { Incident } from '../../src/state/state-store.ts';
import { FakeGitHub } from '../fakes/github/fake-github.ts';

const TOKEN = 'ghp_incidentissuestoken0000000000000000';
let github: FakeGitHub;
let issues: GitHubIncidentIssues;

beforeEach(async () => {
  github = await FakeGitHub.start({ repository: 'acme/shop', token: TOKEN });
  issues = new GitHubIncidentIssues(
    new GitHubClient({ token: TOKEN, repository: 'acme/shop', baseUrl: github.url }),
  );
});
afterEach(async () => {
  await github.close();
});

const incident: Incident = {
  id: 4,
  environment: 'staging',
  cause: 'checks',
  status: 'open',
  startedAt: '2026-06-01T10:00:00.000Z',
  openedAt: '2026-06-01T10:01:00.000Z',
  resolvedAt: null,
  durationMs: null,
  failing: [{ service: 'web', check: 'health', message: 'GET /health → 502' }],
  releaseId: 'r7',
  issueNumber: null,
  issueUrl: null,
};
const context: IncidentContext = {
  project: 'shop',
  serving: { web: 'r7' },
  urls: { web: 'https://staging.shop.example' },
  lastDeployment: '#12 promote r7 succeeded',
  deploymentsUrl: 'https://github.com/acme/shop/deployments/staging',
  resolveAfter: 2,
};

describe('incident issues', () => {
  it('opens one issue, comments on a change, closes it with the outage', async () => {
    const opened = await issues.open(incident, context);
    // A pass interrupted after opening it retries: the same issue, not a second one.
    expect(await issues.open(incident, context)).toEqual(opened);
    const [issue] = github.issues(INCIDENT_LABEL);
    expect(github.issues()).toHaveLength(1);
    expect(opened).toEqual({ number: issue?.number, url: issue?.html_url });
    expect(issue?.body).toContain('| web | health | GET /health → 502 |');
    expect(issue?.body).toContain('Serving: web r7');
    expect(issue?.body).toContain('#12 promote r7 succeeded');

    const tracked = { ...incident, issueNumber: opened.number, issueUrl: opened.url };
    await issues.changed({
      ...tracked,
      failing: [{ service: 'web', check: 'version', message: 'expected r7, got r6' }],
    });
    expect(github.issueComments(opened.number).at(-1)?.body).toContain('| web | version |');

    await issues.resolved({
      ...tracked,
      status: 'resolved',
      resolvedAt: '2026-06-01T11:05:30.000Z',
      durationMs: 3_930_000,
    });
    const closed = github.issues(INCIDENT_LABEL)[0];
    expect(closed).toMatchObject({ state: 'closed', state_reason: 'completed', comments: 2 });
    expect(github.issueComments(opened.number).at(-1)?.body).toContain('Outage: 1 h 5 min');
  });

  it('needs issues: write, and says so', async () => {
    github.addToken('ghp_readonlytoken', { permissions: { issues: 'read' } });
    const readOnly = new GitHubIncidentIssues(
      new GitHubClient({
        token: 'ghp_readonlytoken',
        repository: 'acme/shop',
        baseUrl: github.url,
      }),
    );
    await expect(readOnly.open(incident, context)).rejects.toThrow(/issues: write/);
  });

  it('formats durations people read', () => {
    expect([12_000, 200_000, 3_930_000].map(formatDuration)).toEqual([
      '12 s',
      '3 min 20 s',
      '1 h 5 min',
    ]);
  });
});

describe('CI at the head of a branch', () => {
  it('red on two passes opens a ci incident and its issue; green resolves it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-monitor-ci-'));
    const store = await SqliteStateStore.open({ file: path.join(dir, 'state.db') });
    try {
      const client = new GitHubClient({
        token: TOKEN,
        repository: 'acme/shop',
        baseUrl: github.url,
      });
      let clock = Date.parse('2026-06-01T10:00:00.000Z');
      const ctx = {
        config: { project: 'shop', dir, pipeline: [], environments: {}, github: null },
        store,
        actor: 'monitor',
        host: 'test',
        pid: process.pid,
        now: () => new Date(clock),
        providerFor: () => {
          throw new Error('no environment is probed here');
        },
      } as unknown as AirlockContext;
      const monitor = new Monitor({
        ctx,
        settings: { ...MONITOR_DEFAULTS, ci: 'main' },
        issues,
        ci: gitHubBranchCi(client),
      });
      const red = github.createCommit();
      github.setBranch('main', red);
      github.addCheckRun(red, { name: 'test', conclusion: 'failure' });
      const first = await monitor.pass();
      expect(first.environments[0]?.samples).toEqual([
        expect.objectContaining({ environment: 'ci:main', check: 'ci', ok: false }),
      ]);
      clock += 60_000;
      const second = await monitor.pass();
      expect(second.opened).toEqual([
        expect.objectContaining({ environment: 'ci:main', cause: 'ci' }),
      ]);
      const [issue] = github.issues(INCIDENT_LABEL);
      expect(issue?.title).toBe('CI is red at the head of main (incident #1)');
      expect(issue?.body).toContain('CI is red: test');

      const green = github.createCommit();
      github.setBranch('main', green);
      github.addCheckRun(green, { name: 'test', conclusion: 'success' });
      for (let i = 0; i < 2; i++) {
        clock += 60_000;
        await monitor.pass();
      }
      expect(await store.listIncidents({ status: 'open', limit: 5 })).toEqual([]);
      expect(github.issues(INCIDENT_LABEL)[0]?.state).toBe('closed');
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
