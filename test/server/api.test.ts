/**
 * The JSON API's contract, through `app.request` (no socket): one real project (the notes
 * example, r1 deployed to staging for real) shared by every case, its answers parsed with the
 * published schemas, and the OpenAPI document validated against the OpenAPI 3.1 schema.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Session } from '../../src/cli/session.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import {
  HistorySchema,
  PipelineSchema,
  PlanResultSchema,
  ReleaseSchema,
  RunSchema,
  RunStepSchema,
} from '../../src/server/api-schemas.ts';
import { createApp } from '../../src/server/app.ts';
import { exampleProject, type TestProject } from '../helpers/project.ts';

let project: TestProject;
let session: Session;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  project = await exampleProject();
  session = await project.session();
  const staged = await deploy(session.ctx, 'staging', {});
  expect(staged.status, staged.failedStep?.message ?? '').toBe('succeeded');
  app = createApp({ ctx: session.ctx });
});
afterAll(async () => project?.cleanup());

// biome-ignore lint/suspicious/noExplicitAny: each case checks the answer with the published schemas or field by field
async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await app.request(path);
  return { status: res.status, body: await res.json() };
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
    expect(approval).toMatchObject({ status: 'pending' });
    expect(approval?.reason).toMatch(/approval needed/);
  });

  test('plan: the shape `airlock plan --json` prints', async () => {
    const { status, body } = await get('/api/environments/production/plan');
    expect(status).toBe(200);
    const api = PlanResultSchema.parse(body);
    const cli = await project.cli(['plan', 'production', '--json']);
    const printed = JSON.parse(cli.stdout);
    expect(api.blocked).toBe(true);
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
    const cli = JSON.parse((await project.cli(['history', '--json', '-n', '500'])).stdout);
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
    const { status, body } = await get('/api/openapi.json');
    expect(status).toBe(200);
    const result = await new Validator().validate(body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(body.paths).sort()).toEqual(
      [
        '/environments/{environment}/plan',
        '/history',
        '/incidents',
        '/pipeline',
        '/releases',
        '/releases/{release}',
        '/runs',
        '/runs/{run}',
      ].sort(),
    );
  });
});
