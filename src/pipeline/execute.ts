/**
 * Applying a plan: the only place a deployment, promotion or rollback has side effects.
 * Takes the environment lock, records the run and the deployment, runs the steps through the
 * engine (renewing the lock meanwhile), then records the outcome and an audit event — whatever
 * happens, the lock is released and the run is closed.
 */
import { UserError } from '../errors.ts';
import type {
  Deployment,
  DeploymentStatus,
  Run,
  RunStep,
  StoredCheckResult,
} from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';
import { runSteps, type Step, type StepOutcome } from './engine.ts';
import { acquireEnvironmentLock } from './lock.ts';
import { buildPlan, type Plan, type PlanFacts } from './plan.ts';
import { checkStep } from './steps/check-step.ts';
import { deployStep } from './steps/deploy-step.ts';
import type { DeploymentRun } from './steps/deployment-run.ts';
import { migrateStep } from './steps/migrate-step.ts';
import { rollbackStep } from './steps/rollback-step.ts';
import { verifyStep } from './steps/verify-step.ts';

export interface ExecuteOptions {
  /** Aborting (Ctrl-C) stops the current step; the previous release keeps serving. */
  signal?: AbortSignal;
}

export interface ExecuteResult {
  plan: Plan;
  run: Run;
  deployment: Deployment;
  status: 'succeeded' | 'failed' | 'errored';
  failedStep: { name: string; message: string | null; code?: string } | null;
  /** Release serving after the run, per service. */
  serving: Record<string, string | null>;
  /** True when an on-failure rollback put the previous release back. */
  rolledBack: boolean;
  urls: Record<string, string>;
  checks: StoredCheckResult[];
  /** Every step as recorded (timing in ms, outputs such as bootMs and switchMs). */
  steps: RunStep[];
  durationMs: number;
  outcomes: Record<string, StepOutcome>;
}

const AUDIT_ACTION: Record<Plan['action'], string> = {
  deploy: 'deployment',
  promote: 'promotion',
  rollback: 'rollback',
};

/** The error a blocked promotion is refused with, naming each gate that does not hold. */
export function gateBlockedError(plan: Plan): UserError {
  const blocking = plan.gates.filter((g) => g.status !== 'holds');
  const next = blocking.find((g) => g.next)?.next;
  return new UserError(
    'GATE_BLOCKED',
    `${plan.action === 'promote' ? 'promotion' : 'deployment'} of ${plan.release.id} to ${plan.environment} refused: ${blocking
      .map(
        (g) =>
          `the ${g.gate} gate ${g.status === 'pending' ? 'is pending' : 'fails'} (${g.reason.replace(/\.$/, '')})`,
      )
      .join('; ')}.`,
    {
      hint: next
        ? `Next: ${next}. See every gate with \`airlock plan ${plan.environment}\`.`
        : `See \`airlock plan ${plan.environment}\`.`,
      details: { gates: plan.gates },
    },
  );
}

function stepsFor(plan: Plan, d: DeploymentRun): Step[] {
  return plan.steps.map((s) => {
    const service = s.service as string;
    switch (s.kind) {
      case 'verify':
        return verifyStep(d, s.title);
      case 'migrate':
        return migrateStep(d, service, s.title);
      case 'deploy':
        return deployStep(d, service, s.title);
      case 'check':
        return checkStep(d, service, s.title);
      default:
        return rollbackStep(d, service, s.title);
    }
  });
}

/**
 * Applies a plan built from `facts`.
 * @throws UserError `GATE_BLOCKED` (audited as refused) and `LOCK_HELD`; step failures do not
 *   throw, they are in the result.
 */
export async function executePlan(
  ctx: AirlockContext,
  facts: PlanFacts,
  options: ExecuteOptions = {},
): Promise<ExecuteResult> {
  const plan = buildPlan(facts);
  const env = facts.environment;
  const release = facts.release;
  const audit = AUDIT_ACTION[plan.action];
  if (plan.blocked) {
    const error = gateBlockedError(plan);
    await ctx.store.appendAudit({
      at: ctx.now().toISOString(),
      actor: ctx.actor,
      action: `${audit}.refused`,
      environment: env.name,
      releaseId: release.id,
      runId: null,
      result: 'refused',
      detail: { gates: plan.gates.filter((g) => g.status !== 'holds') },
    });
    throw error;
  }

  const lock = await acquireEnvironmentLock(ctx, env.name, `${plan.action} ${release.id}`);
  const startedAt = ctx.now().toISOString();
  let run: Run | undefined;
  try {
    run = await ctx.store.createRun({
      kind: plan.action,
      environment: env.name,
      releaseId: release.id,
      actor: ctx.actor,
      pid: ctx.pid,
      host: ctx.host,
      startedAt,
    });
    const deployment = await ctx.store.createDeployment({
      runId: run.id,
      environment: env.name,
      releaseId: release.id,
      kind: plan.action,
      actor: ctx.actor,
      previousReleaseId: plan.current,
      startedAt,
    });
    await ctx.store.appendAudit({
      at: startedAt,
      actor: ctx.actor,
      action: `${audit}.started`,
      environment: env.name,
      releaseId: release.id,
      runId: run.id,
      result: 'ok',
      detail: { from: plan.current, lockFence: lock.fence },
    });

    const d: DeploymentRun = {
      ctx,
      env,
      release,
      kind: plan.action,
      runId: run.id,
      deploymentId: deployment.id,
      before: facts.serving,
      switched: new Set(),
      rolledBack: new Set(),
      urls: {},
    };

    // Keep the lease alive; if another process took it over, stop at once.
    const lost = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
    const runId = run.id;
    const heartbeat = setInterval(
      () => {
        void (async () => {
          if (!(await lock.renew())) lost.abort(new Error('the environment lock was taken over'));
          await ctx.store.updateRun(runId, { heartbeatAt: ctx.now().toISOString() });
        })().catch(() => {});
      },
      Math.max(250, Math.floor(ctx.lockTtlMs / 3)),
    );

    let result: Awaited<ReturnType<typeof runSteps>>;
    try {
      result = await runSteps({
        store: ctx.store,
        runId: run.id,
        title: `${plan.action} ${release.id} → ${env.name}`,
        steps: stepsFor(plan, d),
        sink: ctx.sink,
        signal,
        now: ctx.now,
      });
    } finally {
      clearInterval(heartbeat);
    }

    // Record the outcome.
    const finishedAt = ctx.now().toISOString();
    const checkOutcomes = [...result.outcomes.entries()].filter(([name]) =>
      name.startsWith('check:'),
    );
    const checksStatus =
      checkOutcomes.length === 0
        ? null
        : checkOutcomes.some(([, o]) => o.status === 'failed' || o.status === 'errored')
          ? 'failed'
          : 'passed';
    const rolledBack = d.rolledBack.size > 0;
    const status: DeploymentStatus =
      result.status === 'succeeded' ? 'succeeded' : rolledBack ? 'rolled_back' : 'failed';
    const failure = result.failedStep;
    const message = failure
      ? `${failure.name}: ${failure.message ?? failure.status}${rolledBack ? ` — rolled back to ${plan.current}` : ''}`
      : null;
    await ctx.store.updateDeployment(deployment.id, { status, finishedAt, checksStatus, message });
    if (plan.action === 'rollback' && result.status === 'succeeded') {
      for (const id of new Set(facts.serving.map((s) => s.deploymentId))) {
        await ctx.store.updateDeployment(id, { status: 'rolled_back' });
      }
    }
    await ctx.store.updateRun(run.id, { status: result.status, finishedAt, message });

    const serving: Record<string, string | null> = {};
    for (const record of await ctx.store.getServing(env.name))
      serving[record.service] = record.releaseId;
    const checks = await ctx.store.listCheckResults(deployment.id);
    await ctx.store.appendAudit({
      at: finishedAt,
      actor: ctx.actor,
      action: `${audit}.${result.status === 'succeeded' ? 'succeeded' : 'failed'}`,
      environment: env.name,
      releaseId: release.id,
      runId: run.id,
      result: result.status === 'succeeded' ? 'ok' : result.status,
      detail: {
        from: plan.current,
        durationMs: result.durationMs,
        checks: checks.map((c) => ({ service: c.service, name: c.name, status: c.status })),
        ...(failure ? { failedStep: failure.name, reason: failure.message } : {}),
        ...(rolledBack ? { rolledBackTo: plan.current } : {}),
        serving,
      },
    });
    return {
      plan,
      run: { ...run, status: result.status, finishedAt, message },
      deployment: { ...deployment, status, finishedAt, checksStatus, message },
      status: result.status,
      failedStep: failure
        ? {
            name: failure.name,
            message: failure.message,
            ...(failure.code ? { code: failure.code } : {}),
          }
        : null,
      serving,
      rolledBack,
      urls: d.urls,
      checks,
      steps: await ctx.store.listSteps(run.id),
      durationMs: result.durationMs,
      outcomes: Object.fromEntries(result.outcomes),
    };
  } catch (error) {
    if (run) {
      await ctx.store
        .updateRun(run.id, {
          status: 'errored',
          finishedAt: ctx.now().toISOString(),
          message: String((error as Error).message),
        })
        .catch(() => {});
    }
    throw error;
  } finally {
    await lock.release();
  }
}
