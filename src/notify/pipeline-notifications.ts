/**
 * Which notification a deployment event becomes (deploy started, succeeded or failed;
 * approval requested; promoted; rolled back; gate failed). Pure.
 */
import type { DeploymentEvent } from '../pipeline/deployment-events.ts';
import { type NotificationEventInput, refusalEventType } from './notification-event.ts';

const SUCCEEDED = {
  deploy: 'deployment.succeeded',
  promote: 'promotion.succeeded',
  rollback: 'rollback.succeeded',
} as const;

/** The notification for `event`, or null when there is none. */
export function notificationFor(
  event: DeploymentEvent,
  project: string,
): NotificationEventInput | null {
  const plan = event.type === 'finished' ? event.result.plan : event.plan;
  const base = {
    at: event.at,
    project,
    environment: plan.environment,
    release: plan.release,
    actor: event.actor,
  };
  switch (event.type) {
    case 'refused': {
      const blocking = plan.gates.filter((g) => g.status !== 'holds');
      return {
        ...base,
        type: refusalEventType(plan.gates),
        details: {
          action: plan.action,
          from: plan.previous,
          gates: blocking,
          reason: blocking.map((g) => `${g.gate}: ${g.reason.replace(/\.$/, '')}`).join('; '),
        },
      };
    }
    case 'awaiting-approval':
      return {
        ...base,
        type: 'approval.requested',
        details: { from: plan.previous, gates: plan.gates.filter((g) => g.status !== 'holds') },
      };
    case 'started':
      return {
        ...base,
        type: 'deployment.started',
        details: {
          action: plan.action,
          runId: event.runId,
          from: plan.current,
          ...(event.resumes ? { resumes: event.resumes } : {}),
        },
      };
    case 'finished': {
      const { result } = event;
      const url = Object.values(result.urls)[0] ?? null;
      const checks = result.checks.map((c) => ({
        service: c.service,
        name: c.name,
        status: c.status,
      }));
      if (result.status === 'succeeded') {
        return {
          ...base,
          type: SUCCEEDED[plan.action],
          url,
          details: { action: plan.action, runId: result.run.id, from: plan.current, checks },
        };
      }
      return {
        ...base,
        type: 'deployment.failed',
        url,
        ...(result.run.message
          ? {
              summary: `${plan.action} of ${plan.release.id} to ${plan.environment} failed: ${result.run.message}`,
            }
          : {}),
        details: {
          action: plan.action,
          runId: result.run.id,
          failedStep: result.failedStep?.name ?? null,
          reason: result.failedStep?.message ?? result.status,
          ...(result.rolledBack ? { rolledBackTo: plan.current } : {}),
          checks,
          urls: result.urls,
        },
      };
    }
  }
}
