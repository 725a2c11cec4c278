/**
 * The JSON API's contract, through `app.request` (no socket): one real project (the notes
 * example, r1 deployed to staging for real) shared by every case, its answers parsed with the
 * published schemas, and the OpenAPI document validated against the OpenAPI 3.1 schema.
 */

import { spawn } from 'node:child_process';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import {
  HistorySchema,
  PipelineSchema,
  PlanResultSchema,
  ReleaseSchema,
  RunSchema,
  RunStepSchema,
} from '../../src/server/api-schemas.ts';
import { createApp } from '../../src/server/app.ts';
import { BIN, type TestProject } from '../helpers/project.ts';
import { type ServerFixture, serverProject } from './server-fixture.ts';

let project: TestProject;
let session: Session;
let app: ReturnType<typeof createApp>;
/** Tokens by role: alice deploys (and deployed r1), bob approves, vera views. */
let tokens: ServerFixture['tokens'];

beforeAll(async () => {
  ({ project, session, tokens } = await serverProject());
  app = createApp({
    ctx: session.ctx,
    addressOf: (request) => request.headers.get('x-test-address') ?? '127.0.0.9',
  });
});
afterAll(async () => project?.cleanup());

async function get(
  path: string,
  token: string = tokens.viewer,
  // biome-ignore lint/suspicious/noExplicitAny: each case checks the answer with the published schemas or field by field
): Promise<{ status: number; body: any }> {
  const res = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

function approve(token: string, headers: Record<string, string> = {}) {
  return app.request('/api/approvals', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({
      environment: 'production',
      decision: 'approved',
      comment: 'looks good',
    }),
  });
}

describe('the JSON API', () => {
  test('pipeline: both environments, what serves staging, the candidate and its waiting gate', async () => {
    const { status, body } = await get('/api/pipeline');
    expect(status).toBe(200);
    const pipeline = PipelineSchema.parse(body);
    expect(pipeline.environments.map((e) => e.environment)).toEqual(['staging', 'production']);
    const [staging, production] = pipeline.environments;
    expect(staging?.serving.map((s) => s.releaseId)).toEqual(['r1']);
    expect(production?.serving).toEqual([]);
    expect(production?.candidate.plan?.release.id).toBe('r1');
    const approval = production?.candidate.plan?.gates.find((g) => g.gate === 'approval');
    // Pending until bob approves in another case (cases run in a random order).
    expect(approval?.reason).toMatch(
      approval?.status === 'pending' ? /approval needed/ : /approved by bob/,
    );
  });

  test('plan: the shape `airlock plan --json` prints', async () => {
    const { status, body } = await get('/api/environments/production/plan');
    expect(status).toBe(200);
    const api = PlanResultSchema.parse(body);
    const cli = await project.cli(['plan', 'production', '--json']);
    const printed = JSON.parse(cli.stdout);
    expect(api.blocked).toBe(printed.blocked);
    expect(api.exitCode).toBe(printed.exitCode);
    expect(api.plan?.gates).toEqual(printed.plan.gates);
    expect(api.plan?.release).toEqual(printed.plan.release);
  });

  test('releases, one release, runs and a run with its steps', async () => {
    const releases = await get('/api/releases');
    expect(releases.status).toBe(200);
    const [r1] = releases.body.releases.map((r: unknown) => ReleaseSchema.parse(r));
    expect(r1?.id).toBe('r1');
    const cli = JSON.parse((await project.cli(['releases', '--json'])).stdout);
    expect(releases.body.releases).toEqual(cli.releases);

    const one = await get('/api/releases/r1');
    expect(one.body.deployments.map((d: { environment: string }) => d.environment)).toEqual([
      'staging',
    ]);
    const runs = await get('/api/runs?environment=staging');
    const run = RunSchema.parse(runs.body.runs[0]);
    const detail = await get(`/api/runs/${run.id}`);
    const steps = detail.body.steps.map((s: unknown) => RunStepSchema.parse(s));
    expect(steps.length).toBeGreaterThan(2);
    expect(
      steps.every((s: { status: string }) => s.status === 'succeeded' || s.status === 'skipped'),
    ).toBe(true);
  });

  test('history pages through the audit log without gaps or repeats', async () => {
    const all = HistorySchema.parse((await get('/api/history?limit=500')).body).events;
    expect(all.length).toBeGreaterThan(3);
    const seen: number[] = [];
    let before: number | null = null;
    do {
      const page = HistorySchema.parse(
        (await get(`/api/history?limit=2${before ? `&before=${before}` : ''}`)).body,
      );
      seen.push(...page.events.map((e) => e.id));
      before = page.next;
    } while (before !== null);
    expect(seen).toEqual(all.map((e) => e.id));
    const cli = JSON.parse(
      (await project.cli(['history', '--json', '--steps', '-n', '500'])).stdout,
    );
    expect(all).toEqual(cli.events);
  });

  test('incidents, and errors in one shape', async () => {
    expect((await get('/api/incidents?status=open')).body).toEqual({ incidents: [] });
    const missing = await get('/api/releases/r99');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: 'RELEASE_NOT_FOUND' });
    const env = await get('/api/environments/qa/plan');
    expect(env.status).toBe(404);
    expect(env.body.error.code).toBe('UNKNOWN_ENVIRONMENT');
    const bad = await get('/api/history?limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'USAGE' });
    expect(bad.body.error.message).toMatch(/^limit:/);
  });

  test('the OpenAPI document is valid OpenAPI 3.1 and lists every route', async () => {
    const { status, body } = await get('/api/openapi.json', '');
    expect(status).toBe(200);
    const result = await new Validator().validate(body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(body.paths).sort()).toEqual(
      [
        '/environments/{environment}/plan',
        '/environments/{environment}/promote',
        '/environments/{environment}/rollback',
        '/history',
        '/incidents',
        '/pipeline',
        '/releases',
        '/releases/{release}',
        '/runs',
        '/runs/{run}',
        '/approvals',
      ].sort(),
    );
  });
});

describe('tokens, sign-in and actions', () => {
  test('reads need a token; a viewer reads but may not approve (403, audited)', async () => {
    expect((await app.request('/api/pipeline')).status).toBe(401);
    expect((await get('/api/pipeline', 'alk_0000000000000000_xxx')).status).toBe(401);
    const refused = await approve(tokens.viewer);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(
      /viewer token/,
    );
    const [event] = await session.ctx.store.listAudit({ limit: 1 });
    expect(event).toMatchObject({
      action: 'dashboard.action-refused',
      actor: 'vera',
      detail: { reason: 'role', address: '127.0.0.9' },
    });
    // The viewer's pipeline page has no forms that act.
    const page = await app.request('/', { headers: { authorization: `Bearer ${tokens.viewer}` } });
    const text = await page.text();
    expect(text).toContain('approval');
    expect(text).not.toContain('action="/actions/approve"');
  });

  test("the deployer's token cannot approve the release it deployed (prevent self-review)", async () => {
    const res = await approve(tokens.deployer);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SELF_APPROVAL');
    const [event] = await session.ctx.store.listAudit({ environment: 'production', limit: 1 });
    expect(event).toMatchObject({
      action: 'approval.refused',
      actor: 'alice',
      detail: { reason: 'self-approval', tokenId: expect.any(String), address: '127.0.0.9' },
    });
  });

  test('sign-in sets a strict HttpOnly cookie; a form without the CSRF token is refused; with it the approval is recorded and `airlock plan` shows it', async () => {
    const signIn = await app.request('/signin', {
      method: 'POST',
      body: new URLSearchParams({ token: tokens.approver }),
      headers: { 'x-test-address': '10.0.0.7' },
    });
    expect(signIn.status).toBe(303);
    const setCookie = signIn.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^airlock_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    const cookie = setCookie.split(';')[0] as string;
    const page = await (await app.request('/', { headers: { cookie } })).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(csrf).toBeTruthy();
    expect(page).toContain('action="/actions/approve"');

    const form = { environment: 'production', release: 'r1', decision: 'approved', comment: 'ok' };
    const forged = await app.request('/actions/approve', {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams(form),
    });
    expect(forged.status).toBe(403);
    const wrong = await app.request('/actions/approve', {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ ...form, csrf: 'x'.repeat(32) }),
    });
    expect(wrong.status).toBe(403);
    expect((await session.ctx.store.listApprovals('production', 'r1')).length).toBe(0);

    const ok = await app.request('/actions/approve', {
      method: 'POST',
      headers: { cookie, 'x-test-address': '10.0.0.7' },
      body: new URLSearchParams({ ...form, csrf: csrf as string }),
    });
    expect(ok.status).toBe(303);
    const [approval] = await session.ctx.store.listApprovals('production', 'r1');
    expect(approval).toMatchObject({
      actor: 'bob',
      identity: 'token',
      evidence: { kind: 'token', principal: 'bob', address: '10.0.0.7' },
    });
    const plan = JSON.parse((await project.cli(['plan', 'production', '--json'])).stdout);
    const gate = plan.plan.gates.find((g: { gate: string }) => g.gate === 'approval');
    expect(gate.status).toBe('holds');
    expect(gate.reason).toContain('bob');
  });

  test('sign-in is rate limited per address, and a revoked token signs in no more', async () => {
    const attempt = (token: string, address: string) =>
      app.request('/signin', {
        method: 'POST',
        body: new URLSearchParams({ token }),
        headers: { 'x-test-address': address },
      });
    for (let i = 0; i < 10; i++) expect((await attempt('nope', '10.9.9.9')).status).toBe(401);
    const made = await project.cli([
      'token',
      'create',
      '--principal',
      'vera',
      '--role',
      'viewer',
      '--expires',
      '1h',
      '--json',
    ]);
    const token: string = JSON.parse(made.stdout).token;
    // A viewer needs no key; an approver does.
    const viewer = await project.cli([
      'token',
      'create',
      '--principal',
      'guest',
      '--role',
      'viewer',
    ]);
    expect(viewer.code, viewer.stderr).toBe(0);
    const approver = await project.cli([
      'token',
      'create',
      '--principal',
      'guest',
      '--role',
      'approver',
    ]);
    expect(approver.code).toBe(2);
    expect(approver.stderr).toContain('guest is not a principal of the allowed-signers file');
    expect((await attempt(token, '10.9.9.9')).status).toBe(429);
    expect((await attempt(token, '10.9.9.10')).status).toBe(303);

    const id = token.split('_')[1] as string;
    const revoked = await project.cli(['token', 'revoke', id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await attempt(token, '10.9.9.11')).status).toBe(401);
    expect((await get('/api/pipeline', token)).status).toBe(401);
    const list = JSON.parse((await project.cli(['token', 'list', '--json'])).stdout);
    expect(JSON.stringify(list)).not.toContain(tokens.approver.split('_').slice(2).join('_'));
    expect(list.tokens.find((t: { id: string }) => t.id === id).state).toBe('revoked');
  });
});

test('`airlock serve` listens, answers /healthz and /readyz, logs each request as JSON and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    cwd: project.dir,
    env: { ...process.env, NO_COLOR: '1', CI: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    await expect
      .poll(() => /http:\/\/127\.0\.0\.1:\d+/.exec(stdout)?.[0], { timeout: 60_000 })
      .toBeTruthy();
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(stdout)?.[0] as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ok: true });
    expect((await fetch(`${url}/api/pipeline`)).status).toBe(401);
    await expect.poll(() => stderr.split('\n').filter((l) => l.startsWith('{')).length).toBe(3);
    const log = JSON.parse(stderr.split('\n').find((l) => l.includes('/api/pipeline')) as string);
    expect(log).toMatchObject({
      method: 'GET',
      path: '/api/pipeline',
      status: 401,
      address: '127.0.0.1',
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // It says what stopping a server does, not what stopping a deployment does.
    expect(stderr).toContain(
      'Interrupting (SIGTERM): the server stops taking requests; a deployment it started finishes first.',
    );
    expect(stderr).not.toContain('as if it failed');
  } finally {
    child.kill('SIGKILL');
  }
});
