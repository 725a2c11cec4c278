/**
 * Promote and roll back from the dashboard or the API (deployer tokens only): the same pipeline
 * operations `airlock promote` and `airlock rollback` run, as the signed-in principal, so gates
 * (approvals, prevent-self-review), locks and the audit log apply exactly as from the CLI.
 *
 * The request returns when the run has finished. The operation is given no abort signal: a
 * browser that closes the page or a client that times out does not stop a deployment half way
 * (it runs to its end under the environment's lock, as a CLI run does), and the caller gets the
 * outcome, or the refusal with the gate's reasons, in one answer. Watch it meanwhile on
 * `/live/<environment>`. Stopping the server waits for operations in progress to end.
 */
import type { Context } from 'hono';
import { environmentNamed } from '../config/environments.ts';
import type { ExecuteResult } from '../pipeline/execute.ts';
import { promote, rollback } from '../pipeline/operations.ts';
import { audit } from '../state/audit.ts';
import { actingContext } from './auth.ts';
import type { ServerEnv } from './server-env.ts';

/** What a finished promotion or rollback answers (`DeployOutcome` in the OpenAPI document). */
export interface DeployOutcome {
  action: 'promote' | 'rollback';
  environment: string;
  releaseId: string;
  status: 'succeeded' | 'failed' | 'errored';
  runId: number;
  deploymentId: number;
  failedStep: { name: string; message: string | null; hint?: string } | null;
  rolledBack: boolean;
  serving: Record<string, string | null>;
  /** Wall time of the run (ms). */
  durationMs: number;
}

function outcomeOf(action: 'promote' | 'rollback', result: ExecuteResult): DeployOutcome {
  const failed = result.failedStep;
  return {
    action,
    environment: result.plan.environment,
    releaseId: result.plan.release.id,
    status: result.status,
    runId: result.run.id,
    deploymentId: result.deployment.id,
    failedStep: failed
      ? {
          name: failed.name,
          message: failed.message,
          ...(failed.hint ? { hint: failed.hint } : {}),
        }
      : null,
    rolledBack: result.rolledBack,
    serving: result.serving,
    durationMs: result.durationMs,
  };
}

/** Runs `work`, listed in the server's operations until it settles (shutdown waits for it). */
async function tracked<T>(c: Context<ServerEnv>, work: Promise<T>): Promise<T> {
  const operations = c.var.operations;
  operations.add(work);
  try {
    return await work;
  } finally {
    operations.delete(work);
  }
}

/** Who asked, from where (the audit's evidence for a dashboard request). */
async function auditRequest(
  c: Context<ServerEnv>,
  action: 'promote' | 'rollback',
  environment: string,
  release: string,
): Promise<void> {
  environmentNamed(c.var.ctx.config, environment);
  const user = c.var.user;
  await audit(actingContext(c), `dashboard.${action}-requested`, {
    environment,
    releaseId: release,
    detail: {
      tokenId: user?.tokenId ?? null,
      principal: user?.principal ?? null,
      address: c.var.address,
    },
  });
}

/**
 * Promotes `release` into `environment` as the signed-in principal (the caller checked the role
 * and CSRF token). A release named explicitly is deployed even when it serves already.
 * @throws UserError `GATE_BLOCKED` (details.gates: every gate with its reason; audited as
 *   refused), `LOCK_HELD`, `NOTHING_TO_PROMOTE`, `RELEASE_NOT_FOUND`, `UNKNOWN_ENVIRONMENT`.
 */
export async function promoteAs(
  c: Context<ServerEnv>,
  environment: string,
  request: { release: string; fixForward?: string; overrideWindow?: string },
): Promise<DeployOutcome> {
  await auditRequest(c, 'promote', environment, request.release);
  const outcome = await tracked(
    c,
    promote(actingContext(c), environment, {
      release: request.release,
      ...(request.fixForward ? { fixForward: request.fixForward } : {}),
      ...(request.overrideWindow ? { windowOverride: request.overrideWindow } : {}),
    }),
  );
  // A named release is always deployed again (never `unchanged`).
  if (outcome.status === 'unchanged') throw new Error('a named promotion cannot end unchanged');
  return outcomeOf('promote', outcome);
}

/**
 * Rolls `environment` back to the earlier `release` as the signed-in principal (the caller
 * checked the role and CSRF token). The rollback guard applies (no `--force` here).
 * @throws UserError `NOTHING_TO_ROLL_BACK`, `ROLLBACK_UNSAFE` (audited), `LOCK_HELD`,
 *   `RELEASE_NOT_FOUND`, `UNKNOWN_ENVIRONMENT`.
 */
export async function rollbackAs(
  c: Context<ServerEnv>,
  environment: string,
  release: string,
): Promise<DeployOutcome> {
  await auditRequest(c, 'rollback', environment, release);
  return outcomeOf('rollback', await tracked(c, rollback(actingContext(c), environment, release)));
}
