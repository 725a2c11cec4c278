/**
 * The JSON API under `/api`: the pipeline, environments' plans, releases, runs with their
 * steps, history (paginated) and incidents, with the shapes of `api-schemas.ts`, published as
 * OpenAPI 3.1 at `/api/openapi.json`. Reads need a signed-in viewer (or better); the action
 * routes are in `actions.ts`.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import { PACKAGE_VERSION } from '../package-paths.ts';
import { releaseNamed } from '../pipeline/decide.ts';
import {
  ApprovalSchema,
  DeploymentSchema,
  ErrorSchema,
  HistorySchema,
  IncidentSchema,
  PipelineSchema,
  PlanResultSchema,
  ReleaseSchema,
  RunSchema,
  RunStepSchema,
} from './api-schemas.ts';
import { candidateFor, pipelineView } from './pipeline-view.ts';
import type { ServerEnv } from './server-env.ts';
import { viewContext } from './view-context.ts';

const errors = {
  400: { description: 'Bad request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Not signed in', content: { 'application/json': { schema: ErrorSchema } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorSchema } } },
} as const;

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { 'application/json': { schema } } },
  ...errors,
});

const limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .openapi({ description: `How many (1–${max}, default ${fallback})` });

const pipelineRoute = createRoute({
  method: 'get',
  path: '/pipeline',
  summary:
    'The pipeline: per environment what serves, the candidate and every gate with its reason',
  responses: json(PipelineSchema, 'The pipeline'),
});

const planRoute = createRoute({
  method: 'get',
  path: '/environments/{environment}/plan',
  summary: 'What deploy or promote into the environment would do (as `airlock plan --json`)',
  request: { params: z.object({ environment: z.string() }) },
  responses: json(PlanResultSchema, 'The plan, or why there is none'),
});

const releasesRoute = createRoute({
  method: 'get',
  path: '/releases',
  summary: 'Built releases, newest first (as `airlock releases --json`)',
  request: { query: z.object({ limit: limit(500, 50) }) },
  responses: json(z.object({ releases: z.array(ReleaseSchema) }), 'Releases'),
});

const releaseRoute = createRoute({
  method: 'get',
  path: '/releases/{release}',
  summary: 'One release: its deployments and, per environment, its approvals',
  request: { params: z.object({ release: z.string() }) },
  responses: json(
    z
      .object({
        release: ReleaseSchema,
        deployments: z.array(DeploymentSchema),
        approvals: z.array(ApprovalSchema),
      })
      .openapi('ReleaseDetail'),
    'The release',
  ),
});

const runsRoute = createRoute({
  method: 'get',
  path: '/runs',
  summary: 'Runs, newest first',
  request: {
    query: z.object({ environment: z.string().optional(), limit: limit(200, 50) }),
  },
  responses: json(z.object({ runs: z.array(RunSchema) }), 'Runs'),
});

const runRoute = createRoute({
  method: 'get',
  path: '/runs/{run}',
  summary: 'One run and its steps (each transition as it was written)',
  request: { params: z.object({ run: z.coerce.number().int().min(1) }) },
  responses: json(
    z.object({ run: RunSchema, steps: z.array(RunStepSchema) }).openapi('RunDetail'),
    'The run',
  ),
});

const historyRoute = createRoute({
  method: 'get',
  path: '/history',
  summary: 'The audit log, newest first, a page at a time (as `airlock history --json`)',
  request: {
    query: z.object({
      environment: z.string().optional(),
      limit: limit(500, 50),
      before: z.coerce
        .number()
        .int()
        .min(1)
        .optional()
        .openapi({ description: 'Only events older than this id (the previous page’s `next`)' }),
    }),
  },
  responses: json(HistorySchema, 'A page of the audit log'),
});

const incidentsRoute = createRoute({
  method: 'get',
  path: '/incidents',
  summary: 'Incidents the monitor opened, newest first (as `airlock incidents --json`)',
  request: {
    query: z.object({
      environment: z.string().optional(),
      status: z.enum(['open', 'resolved']).optional(),
      limit: limit(500, 50),
    }),
  },
  responses: json(z.object({ incidents: z.array(IncidentSchema) }), 'Incidents'),
});

/** The read routes, mounted at `/api` by `createApp`. */
export function apiRoutes(): OpenAPIHono<ServerEnv> {
  const api = new OpenAPIHono<ServerEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        return c.json(
          {
            error: {
              kind: 'user' as const,
              code: 'USAGE',
              message: `${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
            },
          },
          400,
        );
      }
    },
  });

  api.openapi(pipelineRoute, async (c) => c.json(await pipelineView(c.var.ctx), 200));

  api.openapi(planRoute, async (c) => {
    const ctx = c.var.ctx;
    environmentNamed(ctx.config, c.req.valid('param').environment);
    const { plan, note } = await candidateFor(viewContext(ctx), c.req.valid('param').environment);
    const blocked = plan?.blocked ?? false;
    return c.json({ plan, blocked, exitCode: blocked ? 4 : 0, note }, 200);
  });

  api.openapi(releasesRoute, async (c) =>
    c.json({ releases: await c.var.ctx.store.listReleases(c.req.valid('query').limit) }, 200),
  );

  api.openapi(releaseRoute, async (c) => {
    const ctx = c.var.ctx;
    const release = await releaseNamed(ctx, c.req.valid('param').release);
    const [deployments, approvals] = await Promise.all([
      ctx.store.listDeployments({ releaseId: release.id, limit: 200 }),
      Promise.all(ctx.config.pipeline.map((e) => ctx.store.listApprovals(e, release.id))),
    ]);
    return c.json({ release, deployments, approvals: approvals.flat() }, 200);
  });

  api.openapi(runsRoute, async (c) => {
    const { environment, limit: n } = c.req.valid('query');
    return c.json(
      {
        runs: await c.var.ctx.store.listRuns({ ...(environment ? { environment } : {}), limit: n }),
      },
      200,
    );
  });

  api.openapi(runRoute, async (c) => {
    const id = c.req.valid('param').run;
    const run = await c.var.ctx.store.getRun(id);
    if (!run)
      throw new UserError('DEPLOYMENT_NOT_FOUND', `There is no run #${id}.`, {
        hint: 'List runs with GET /api/runs.',
      });
    return c.json({ run, steps: await c.var.ctx.store.listSteps(id) }, 200);
  });

  api.openapi(historyRoute, async (c) => {
    const { environment, limit: n, before } = c.req.valid('query');
    const events = await c.var.ctx.store.listAudit({
      limit: n + 1,
      ...(environment ? { environment } : {}),
      ...(before ? { beforeId: before } : {}),
    });
    const page = events.slice(0, n);
    return c.json(
      { events: page, next: events.length > n ? (page.at(-1)?.id ?? null) : null },
      200,
    );
  });

  api.openapi(incidentsRoute, async (c) => {
    const { environment, status, limit: n } = c.req.valid('query');
    return c.json(
      {
        incidents: await c.var.ctx.store.listIncidents({
          ...(environment ? { environment } : {}),
          ...(status ? { status } : {}),
          limit: n,
        }),
      },
      200,
    );
  });

  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Airlock API',
      version: PACKAGE_VERSION,
      description:
        'The pipeline, releases, runs, plans with their gates, the audit log and incidents, as `airlock serve` serves them.',
    },
  });
  return api;
}
