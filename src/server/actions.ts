/**
 * The API's actions: approve or reject a release's promotion (approvers and deployers), promote
 * and roll back (deployers, `deploy-actions.ts`), as the
 * signed-in principal, with prevent-self-review and the environment's approvers list applied
 * exactly as for `airlock approve`. A viewer is refused with 403; every action and refusal is
 * audited with the principal and the request's address.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { recordApproval } from '../pipeline/approve.ts';
import {
  ApprovalRequestSchema,
  ApprovalSchema,
  DeployOutcomeSchema,
  ErrorSchema,
  PromoteRequestSchema,
  RollbackRequestSchema,
} from './api-schemas.ts';
import { actingContext, refuseAction } from './auth.ts';
import { promoteAs, rollbackAs } from './deploy-actions.ts';
import type { ServerEnv } from './server-env.ts';

const err = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
});

const approveRoute = createRoute({
  method: 'post',
  path: '/approvals',
  summary:
    'Approve or reject the release waiting for an environment, as the signed-in principal (approver or deployer token)',
  request: {
    body: { content: { 'application/json': { schema: ApprovalRequestSchema } }, required: true },
  },
  responses: {
    200: {
      description: 'Recorded',
      content: { 'application/json': { schema: z.object({ approval: ApprovalSchema }) } },
    },
    400: err('Bad request'),
    401: err('Not signed in'),
    403: err(
      'Not allowed: a viewer token, prevent-self-review, not an approver, or a missing CSRF token',
    ),
    404: err('Unknown environment or release'),
    409: err('Nothing to approve'),
  },
});

const deployResponses = {
  200: {
    description:
      'The run finished (check `status`: a failed run answers 200 too, with `failedStep` and what serves now)',
    content: { 'application/json': { schema: DeployOutcomeSchema } },
  },
  400: err('Bad request'),
  401: err('Not signed in'),
  403: err('Not allowed: not a deployer token, or a missing CSRF token (cookie sessions)'),
  404: err('Unknown environment or release'),
  409: err(
    'Refused: a gate does not hold (`GATE_BLOCKED`, `details.gates` has each gate and its reason), the environment is locked, nothing to promote or roll back, or the rollback is unsafe',
  ),
} as const;

const promoteRoute = createRoute({
  method: 'post',
  path: '/environments/{environment}/promote',
  summary:
    'Promote a release into the environment when its gate holds, as `airlock promote --release` does (deployer token); answers when the run has finished',
  request: {
    params: z.object({ environment: z.string() }),
    body: { content: { 'application/json': { schema: PromoteRequestSchema } }, required: true },
  },
  responses: deployResponses,
});

const rollbackRoute = createRoute({
  method: 'post',
  path: '/environments/{environment}/rollback',
  summary:
    'Serve an earlier release again, as `airlock rollback --to` does (deployer token); answers when the run has finished',
  request: {
    params: z.object({ environment: z.string() }),
    body: { content: { 'application/json': { schema: RollbackRequestSchema } }, required: true },
  },
  responses: deployResponses,
});

/** Adds the action routes to the API. */
export function actionRoutes(api: OpenAPIHono<ServerEnv>): void {
  api.openapi(approveRoute, async (c) => {
    const refusal = await refuseAction(c, 'approver', c.req.header('x-csrf-token'));
    if (refusal) return refusal as never;
    const body = c.req.valid('json');
    const user = c.var.user;
    const { approval } = await recordApproval(actingContext(c), {
      environment: body.environment,
      ...(body.release ? { release: body.release } : {}),
      decision: body.decision,
      ...(body.comment ? { comment: body.comment } : {}),
      proof: {
        kind: 'token',
        tokenId: user?.tokenId ?? '',
        principal: user?.principal ?? '',
        address: c.var.address,
      },
    });
    return c.json({ approval }, 200);
  });

  api.openapi(promoteRoute, async (c) => {
    const refusal = await refuseAction(c, 'deployer', c.req.header('x-csrf-token'));
    if (refusal) return refusal as never;
    const body = c.req.valid('json');
    return c.json(await promoteAs(c, c.req.valid('param').environment, body), 200);
  });

  api.openapi(rollbackRoute, async (c) => {
    const refusal = await refuseAction(c, 'deployer', c.req.header('x-csrf-token'));
    if (refusal) return refusal as never;
    const { release } = c.req.valid('json');
    return c.json(await rollbackAs(c, c.req.valid('param').environment, release), 200);
  });
}
