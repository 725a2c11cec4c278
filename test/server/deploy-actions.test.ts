/**
 * Promote and roll back through the API and the dashboard (deployer tokens only), through
 * `app.request` against one real project (the notes example): the same pipeline operations as
 * the CLI, so the production gate (an approval by someone other than the deployer) applies, and
 * `airlock status` shows what the request did. The cases tell one story, in order.
 */

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { DeployOutcomeSchema } from '../../src/server/api-schemas.ts';
import { createApp } from '../../src/server/app.ts';
import { startServer } from '../../src/server/serve.ts';
import type { TestProject } from '../helpers/project.ts';
import { type ServerFixture, serverProject } from './server-fixture.ts';

let project: TestProject;
let session: Session;
let app: ReturnType<typeof createApp>;
/** alice deploys (and deployed r1 to staging), bob approves, vera views. */
let tokens: ServerFixture['tokens'];

beforeAll(async () => {
  ({ project, session, tokens } = await serverProject());
  app = createApp({ ctx: session.ctx, addressOf: () => '10.1.2.3' });
});
afterAll(async () => project?.cleanup());

async function post(
  route: string,
  token: string,
  body: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: each case checks the answer field by field or with the schema
): Promise<{ status: number; body: any }> {
  const res = await app.request(route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** What `airlock status --json` says production serves, per service, and whether it answers. */
async function productionServes(): Promise<Array<{ release: string | null; healthy: boolean }>> {
  const status = await project.cli(['status', '--json']);
  expect(status.code, status.stderr).toBe(0);
  const production = JSON.parse(status.stdout).environments.find(
    (e: { environment: string }) => e.environment === 'production',
  );
  return production.services.map((s: { release: string | null; healthy: boolean }) => ({
    release: s.release,
    healthy: s.healthy,
  }));
}

async function serving(environment: string): Promise<string[]> {
  return (await session.ctx.store.getServing(environment)).map((s) => s.releaseId);
}

async function signIn(token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await app.request('/signin', {
    method: 'POST',
    body: new URLSearchParams({ token }),
  });
  expect(res.status).toBe(303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
  const page = await (await app.request('/', { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] as string;
  expect(csrf).toBeTruthy();
  return { cookie, csrf };
}

describe('promote and roll back as a deployer', { shuffle: false }, () => {
  test('a promotion whose gate does not hold is refused with the gate and its reason (409), and nothing changes', async () => {
    const { status, body } = await post('/api/environments/production/promote', tokens.deployer, {
      release: 'r1',
    });
    expect(status).toBe(409);
    expect(body.error.code).toBe('GATE_BLOCKED');
    const approval = body.error.details.gates.find((g: { gate: string }) => g.gate === 'approval');
    expect(approval.status).toBe('pending');
    expect(approval.reason).toMatch(/approval needed/);
    expect(await serving('production')).toEqual([]);
    const [refused] = await session.ctx.store.listAudit({ environment: 'production', limit: 1 });
    expect(refused).toMatchObject({ actor: 'alice', result: 'refused' });
  });

  test('a viewer and an approver get 403 (audited as refused); the pipeline page shows them no deploy buttons', async () => {
    for (const [role, principal] of [
      ['viewer', 'vera'],
      ['approver', 'bob'],
    ] as const) {
      for (const route of ['promote', 'rollback']) {
        const res = await post(`/api/environments/production/${route}`, tokens[role], {
          release: 'r1',
        });
        expect(res.status).toBe(403);
        expect(res.body.error.message).toContain(
          `${principal}'s token is ${role === 'approver' ? 'an' : 'a'} ${role} token; this needs deployer`,
        );
        const [event] = await session.ctx.store.listAudit({ limit: 1 });
        expect(event).toMatchObject({
          action: 'dashboard.action-refused',
          actor: principal,
          detail: { reason: 'role', path: `/api/environments/production/${route}` },
        });
      }
      const page = await (
        await app.request('/', { headers: { authorization: `Bearer ${tokens[role]}` } })
      ).text();
      expect(page).not.toContain('/confirm/');
    }
    expect(await serving('production')).toEqual([]);
  });

  test('bob approves; alice promotes r1 through the API and `airlock status` shows production serving it', async () => {
    const approved = await post('/api/approvals', tokens.approver, {
      environment: 'production',
      release: 'r1',
      decision: 'approved',
    });
    expect(approved.status).toBe(200);
    const { status, body } = await post('/api/environments/production/promote', tokens.deployer, {
      release: 'r1',
    });
    expect(status, JSON.stringify(body)).toBe(200);
    const outcome = DeployOutcomeSchema.parse(body);
    expect(outcome).toMatchObject({ action: 'promote', releaseId: 'r1', status: 'succeeded' });
    expect(await serving('production')).toEqual(['r1']);
    expect(await productionServes()).toEqual([{ release: 'r1', healthy: true }]);
    const run = await session.ctx.store.getRun(outcome.runId);
    expect(run?.environment).toBe('production');
    const events = await session.ctx.store.listAudit({ environment: 'production', limit: 50 });
    expect(events.find((e) => e.action === 'promotion.succeeded')?.actor).toBe('alice');
    expect(events.find((e) => e.action === 'dashboard.promote-requested')).toMatchObject({
      actor: 'alice',
      releaseId: 'r1',
      detail: { principal: 'alice', address: '10.1.2.3' },
    });
  });

  test('a cookie session needs the CSRF token: without it 403; the dashboard confirms, then promotes r2', async () => {
    project.commitFiles(
      {
        'CHANGELOG.md': 'r2\n',
        // An additive migration: rolling production back to r1 later runs r1 on a newer schema.
        'migrations/0003_add_tags.sql': 'CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);\n',
      },
      'A second release',
    );
    const staged = await deploy(session.ctx, 'staging', {});
    expect(staged.plan.release.id).toBe('r2');
    expect(staged.status).toBe('succeeded');
    expect(
      (
        await post('/api/approvals', tokens.approver, {
          environment: 'production',
          release: 'r2',
          decision: 'approved',
        })
      ).status,
    ).toBe(200);

    const { cookie, csrf } = await signIn(tokens.deployer);
    const forged = await app.request('/api/environments/production/promote', {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ release: 'r2' }),
    });
    expect(forged.status).toBe(403);
    const form = await app.request('/actions/promote', {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ environment: 'production', release: 'r2' }),
    });
    expect(form.status).toBe(403);
    expect(await serving('production')).toEqual(['r1']);

    const page = await (await app.request('/', { headers: { cookie } })).text();
    expect(page).toContain('href="/confirm/promote/production?release=r2"');
    const confirm = await (
      await app.request('/confirm/promote/production?release=r2', { headers: { cookie } })
    ).text();
    expect(confirm).toContain('Promote r2 to production?');
    expect(confirm).toContain('action="/actions/promote"');
    expect(confirm).toContain('name="release" value="r2"');

    const done = await app.request('/actions/promote', {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ environment: 'production', release: 'r2', csrf }),
    });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toMatch(/^\/runs\/\d+$/);
    expect(await serving('production')).toEqual(['r2']);
  });

  test('rollback: the confirmation names r1, and the API puts r1 back on production', async () => {
    const confirm = await (
      await app.request('/confirm/rollback/production', {
        headers: { authorization: `Bearer ${tokens.deployer}` },
      })
    ).text();
    expect(confirm).toContain('Roll production back to r1?');
    expect(confirm).toContain('name="release" value="r1"');
    // The warning `airlock rollback` gives first.
    expect(confirm).toContain(
      'notes: production&#39;s schema is ahead of r1 (it has 0003_add_tags.sql, which r1 does not carry).',
    );

    const { status, body } = await post('/api/environments/production/rollback', tokens.deployer, {
      release: 'r1',
    });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(DeployOutcomeSchema.parse(body)).toMatchObject({
      action: 'rollback',
      releaseId: 'r1',
      status: 'succeeded',
    });
    expect(await serving('production')).toEqual(['r1']);
    expect(await productionServes()).toEqual([{ release: 'r1', healthy: true }]);
    const again = await post('/api/environments/production/rollback', tokens.deployer, {
      release: 'r1',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('NOTHING_TO_ROLL_BACK');
  });

  test('over a real socket: a client that gives up does not stop the promotion, and shutdown waits for it to end', async () => {
    const server = await startServer({ ctx: session.ctx, port: 0, host: '127.0.0.1' });
    const client = new AbortController();
    // The rollback voided bob's approval of r2 (as for the CLI): he approves it again.
    const approved = await post('/api/approvals', tokens.approver, {
      environment: 'production',
      release: 'r2',
      decision: 'approved',
    });
    expect(approved.status).toBe(200);
    const request = fetch(`${server.url}/api/environments/production/promote`, {
      method: 'POST',
      signal: client.signal,
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${tokens.deployer}`,
      },
      body: JSON.stringify({ release: 'r2' }),
    }).catch((error: Error) => error);
    await expect
      .poll(
        async () => (await session.ctx.store.listRuns({ environment: 'production', limit: 1 }))[0],
        { timeout: 30_000, interval: 20 },
      )
      .toMatchObject({ status: 'running', releaseId: 'r2' });
    client.abort();
    expect(await request).toBeInstanceOf(Error);
    await server.close(0);
    const [run] = await session.ctx.store.listRuns({ environment: 'production', limit: 1 });
    expect(run).toMatchObject({ status: 'succeeded', releaseId: 'r2' });
    expect(await serving('production')).toEqual(['r2']);
  });
});
