/**
 * The API's actions: approve or reject a release's promotion (approvers and deployers), as the
 * signed-in principal, with prevent-self-review and the environment's approvers list applied
 * exactly as for `airlock approve`. A viewer is refused with 403; every action and refusal is
 * audited with the principal and the request's address.
 */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { recordApproval } from '../pipeline/approve.ts';
import { ApprovalRequestSchema, ApprovalSchema, ErrorSchema } from './api-schemas.ts';
import { actingContext, refuseAction } from './auth.ts';
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
}
