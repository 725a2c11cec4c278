/**
 * What the dashboard and the API show of the pipeline: per environment (in pipeline order) what
 * serves and since when, the last deployment, the lock, and the candidate waiting to be
 * promoted into it with every gate's state and reason (the plan `airlock plan <env>` prints).
 * Reads only: the state store, and git for the gates that need it.
 */
import { environmentNamed } from '../config/environments.ts';
import { AirlockError } from '../errors.ts';
import type { AirlockContext } from '../pipeline/context.ts';
import { planDeploy } from '../pipeline/operations.ts';
import type { Plan } from '../pipeline/plan.ts';
import { recordedEnvironments } from '../pipeline/status.ts';
import type { Deployment } from '../state/state-store.ts';
import { viewContext } from './view-context.ts';

export interface PipelineEnvironment {
  environment: string;
  provider: string;
  protected: boolean;
  previous: string | null;
  serving: Array<{
    service: string;
    releaseId: string;
    commit: string | null;
    deploymentId: number;
    since: string;
  }>;
  lastDeployment: Deployment | null;
  lock: { holder: string; kind: 'run' | 'manual'; message: string; acquiredAt: string } | null;
  /** Ids of interrupted runs waiting for `airlock resume`. */
  interrupted: number[];
  candidate: { plan: Plan | null; note: string | null };
  openIncidents: number;
}

export interface PipelineView {
  project: string;
  environments: PipelineEnvironment[];
}

/** The plan of the promotion into `environment` (or the deploy into the first), or why there is none. */
export async function candidateFor(
  ctx: AirlockContext,
  environment: string,
): Promise<{ plan: Plan | null; note: string | null }> {
  const env = environmentNamed(ctx.config, environment);
  try {
    const plan = await planDeploy(ctx, environment, {});
    // A release that serves here with migrations not run yet (a contract held back while an
    // older release served) still waits: its promotion applies them.
    const left = Object.values(plan.migrations).flat().length;
    if (env.previous && plan.current === plan.release.id && left === 0)
      return {
        plan: null,
        note: `${plan.release.id} already serves ${environment}; nothing waits to be promoted.`,
      };
    return { plan, note: null };
  } catch (error) {
    if (!(error instanceof AirlockError) || error.kind === 'internal') throw error;
    return { plan: null, note: error.message };
  }
}

/**
 * The pipeline, one entry per environment. A fixed number of queries per environment, plus one
 * plan per environment; the records and the plans share their reads (`viewContext`).
 */
export async function pipelineView(request: AirlockContext): Promise<PipelineView> {
  const ctx = viewContext(request);
  const [recorded, incidents] = await Promise.all([
    recordedEnvironments(ctx.store, ctx.config.pipeline),
    ctx.store.listIncidents({ status: 'open', limit: 500 }),
  ]);
  const now = ctx.now().toISOString();
  const environments = await Promise.all(
    recorded.map(async (rec): Promise<PipelineEnvironment> => {
      const env = environmentNamed(ctx.config, rec.environment);
      const lock = rec.lock;
      return {
        environment: rec.environment,
        provider: env.provider,
        protected: env.protected,
        previous: env.previous ?? null,
        serving: rec.serving.map((s) => ({
          service: s.service,
          releaseId: s.releaseId,
          commit: rec.releases.get(s.releaseId)?.commit ?? null,
          deploymentId: s.deploymentId,
          since: s.since,
        })),
        lastDeployment: rec.lastDeployment,
        lock:
          lock && (lock.kind === 'manual' || lock.expiresAt > now)
            ? {
                holder: lock.holder,
                kind: lock.kind,
                message: lock.message,
                acquiredAt: lock.acquiredAt,
              }
            : null,
        interrupted: rec.interrupted.map((r) => r.id),
        candidate: env.previous
          ? await candidateFor(ctx, rec.environment)
          : {
              plan: null,
              note: `Releases are deployed into ${rec.environment} with \`airlock deploy ${rec.environment}\`.`,
            },
        openIncidents: incidents.filter((i) => i.environment === rec.environment).length,
      };
    }),
  );
  return { project: ctx.config.project, environments };
}
