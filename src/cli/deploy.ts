import { environmentNamed } from '../config/environments.ts';
import { AirlockError, UserError } from '../errors.ts';
import type { GateResult } from '../gates/gate.ts';
import { applyCommand, type ContractHold } from '../pipeline/contract.ts';
import type { ExecuteResult } from '../pipeline/execute.ts';
import { deploy, followAutomaticPromotions, promote } from '../pipeline/operations.ts';
import { summarize } from '../pipeline/plan.ts';
import type { StoredCheckResult } from '../state/state-store.ts';
import { buildProgressPrinter } from './build.ts';
import type { CommandIO } from './command-io.ts';
import { confirmChange } from './confirm.ts';
import { gcAfterDeploy } from './gc.ts';
import type { Reporter } from './reporter.ts';
import { formatDuration } from './reporter.ts';
import { withSession } from './session.ts';
import { waitHooks } from './wait.ts';

/** The last lines a command check printed (stored masked), or null. */
function outputTailOf(check: { details: Record<string, unknown> }): string | null {
  const tail = check.details.outputTail;
  return typeof tail === 'string' && tail.trim() !== '' ? tail : null;
}

type ReportedCheck = Pick<
  StoredCheckResult,
  'service' | 'name' | 'status' | 'durationMs' | 'message' | 'details'
>;

/** Prints the last lines of every failed command check (secrets already masked). */
export function reportFailedCheckOutput(reporter: Reporter, checks: ReportedCheck[]): void {
  for (const check of checks) {
    const tail = check.status === 'failed' ? outputTailOf(check) : null;
    if (!tail) continue;
    reporter.info(
      `  ${check.service}/${check.name} output (last ${tail.split('\n').length} lines, secrets masked):`,
    );
    reporter.info(tail.replace(/^/gm, '    │ '));
  }
}

/** A check as `--json` shows it: a failed command check carries its `outputTail`. */
export function checkJson(check: ReportedCheck) {
  const { service, name, status, durationMs, message } = check;
  const tail = status === 'failed' ? outputTailOf(check) : null;
  return { service, name, status, durationMs, message, ...(tail ? { outputTail: tail } : {}) };
}

/**
 * One summary line (and the JSON fields) for a finished deployment, promotion or rollback; a
 * failed command check's last lines follow it (`checks[].outputTail` in `--json`).
 */
export function reportOutcome(reporter: Reporter, result: ExecuteResult): void {
  const { plan, status } = result;
  const verb =
    plan.action === 'promote'
      ? 'promoted to'
      : plan.action === 'rollback'
        ? 'rolled back on'
        : 'deployed to';
  const urls = Object.values(result.urls).join(', ');
  const unchanged = Object.entries(plan.unchanged ?? {});
  if (status === 'succeeded') {
    reporter.success(
      `${plan.release.id} ${verb} ${plan.environment} in ${formatDuration(result.durationMs)}${urls ? ` → ${urls}` : ''}`,
    );
    if (unchanged.length > 0)
      reporter.info(
        `  Skipped, unchanged (same artifact as the release serving them): ${unchanged.map(([s, r]) => `${s} (${r})`).join(', ')}.`,
      );
    reportHeldBack(reporter, result);
  } else {
    const where = result.failedStep
      ? ` at ${result.failedStep.name}: ${result.failedStep.message}`
      : '';
    reporter.info(
      `✖ ${plan.action} of ${plan.release.id} to ${plan.environment} ${status}${where}`,
    );
    if (result.failedStep?.hint) reporter.info(`  → ${result.failedStep.hint}`);
    // An app that exited or never got healthy: the last lines it wrote (details.logTail: repeats
    // collapsed, and the first line of the error they belong to kept; see log-tail.ts).
    const failedOutput = result.steps.find((s) => s.name === result.failedStep?.name)?.output;
    const logTail = failedOutput?.logTail;
    if (typeof logTail === 'string' && logTail.trim() !== '') {
      reporter.info(`  The end of ${String(failedOutput?.logFile ?? 'its log')}:`);
      reporter.info(logTail.replace(/\s+$/, '').replace(/^/gm, '    │ '));
    }
    reportFailedCheckOutput(reporter, result.checks);
    const serving = Object.entries(result.serving)
      .map(([s, r]) => `${s} → ${r ?? 'nothing'}`)
      .join(', ');
    reporter.info(
      result.rolledBack
        ? `  Rolled back automatically: ${plan.environment} serves ${serving}.`
        : `  ${plan.environment} serves ${serving || 'nothing'}.`,
    );
  }
  reporter.result({
    action: plan.action,
    environment: plan.environment,
    release: plan.release,
    status,
    runId: result.run.id,
    deploymentId: result.deployment.id,
    failedStep: result.failedStep,
    rolledBack: result.rolledBack,
    serving: result.serving,
    urls: result.urls,
    ...(plan.unchanged ? { unchanged: plan.unchanged } : {}),
    checks: result.checks.map(checkJson),
    durationMs: result.durationMs,
    startedAt: result.run.startedAt,
    finishedAt: result.run.finishedAt,
    steps: result.steps.map(({ name, status, startedAt, durationMs, message, output }) => ({
      name,
      status,
      startedAt,
      durationMs,
      message,
      output,
    })),
  });
}

/**
 * After a run that succeeded, the contract migrations its migrate steps held back, and the
 * command that applies them now that the release serves (see pipeline/contract.ts).
 */
function reportHeldBack(reporter: Reporter, result: ExecuteResult): void {
  const { plan } = result;
  const command = applyCommand({ name: plan.environment, previous: plan.previous });
  for (const step of result.steps) {
    const hold = step.output?.held as ContractHold | undefined;
    if (step.status !== 'succeeded' || !hold) continue;
    const service = step.name.replace(/^migrate:/, '');
    const others = hold.heldBack.length - 1;
    const what =
      others > 0
        ? `${hold.contract.filename} and the ${others} migration${others === 1 ? '' : 's'} after it were held back: the first is`
        : `${hold.contract.filename} was held back: it is`;
    reporter.info(
      `ℹ ${service}: ${what} a contract migration, and ${hold.serving} served ${plan.environment} when it would have run. Now that ${plan.release.id} serves there, run \`${command}\` again to apply ${others > 0 ? 'them' : 'it'} (afterwards, rolling ${plan.environment} back to ${hold.serving} is refused).`,
    );
  }
}

/** `airlock deploy <env>` and `airlock promote <env>`. */
export async function deployCommand(
  io: CommandIO,
  environment: string,
  opts: {
    release?: string;
    commit?: string;
    follow: boolean;
    wait?: string;
    overrideWindow?: string;
    fixForward?: string;
    fixes?: string;
    changed?: boolean;
  },
  verb: 'deploy' | 'promote',
): Promise<number> {
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const reporter = io.reporter;
      const env = environmentNamed(ctx.config, environment);
      let result: ExecuteResult;
      try {
        const choice = {
          ...(opts.release ? { release: opts.release } : {}),
          ...(opts.commit ? { commit: opts.commit } : {}),
          ...(opts.overrideWindow ? { windowOverride: opts.overrideWindow } : {}),
          ...(opts.fixes !== undefined ? { fixes: incidentId(opts.fixes) } : {}),
          ...(opts.fixForward ? { fixForward: opts.fixForward } : {}),
          ...(opts.changed ? { changed: true } : {}),
        };
        const outcome = await (verb === 'promote' ? promote : deploy)(ctx, environment, choice, {
          signal: io.signal,
          ...waitHooks(reporter, opts.wait),
          onBuild: buildProgressPrinter(reporter),
          beforeApply: async (plan) => {
            for (const w of plan.warnings) reporter.warn(w);
            if (env.protected) {
              await confirmChange(
                io,
                `${plan.action === 'promote' ? 'Promote' : 'Deploy'} ${plan.release.id} to ${env.name} (protected)?`,
                env.name,
              );
            }
          },
        });
        if (outcome.status === 'unchanged') {
          // Promotion is idempotent: the candidate already serving here is not deployed again.
          reporter.success(`${outcome.reason}; nothing to promote${outcome.hint ? ' yet' : ''}.`);
          if (outcome.hint) reporter.info(`  → ${outcome.hint}`);
          reporter.result({
            action: 'promote',
            environment: env.name,
            release: summarize(outcome.choice.release),
            status: 'unchanged',
            ...(outcome.hint ? { reason: outcome.reason, hint: outcome.hint } : {}),
          });
          return 0;
        }
        result = outcome;
      } catch (error) {
        if (error instanceof AirlockError && error.code === 'GATE_BLOCKED') {
          reporter.info(`Gate for ${environment}:`);
          reporter.gates((error.details.gates as GateResult[]) ?? []);
        }
        throw error;
      }
      reportOutcome(reporter, result);
      if (result.status !== 'succeeded') return 1;
      await gcAfterDeploy(ctx, reporter);
      if (opts.follow) {
        const follow = await followAutomaticPromotions(
          ctx,
          environment,
          (await ctx.store.findRelease(result.plan.release.id))!,
          {
            signal: io.signal,
            ...waitHooks(reporter, opts.wait),
            onPlan: (p) => {
              if (!p.plan) {
                reporter.info(
                  `Automatic promotion to ${p.environment} is left to a process that can reach it: ${p.unavailable} Run \`airlock promote ${p.environment} --auto\` there.`,
                );
              } else if (p.plan.blocked) {
                reporter.info(
                  `Automatic promotion of ${p.plan.release.id} to ${p.environment} is waiting:`,
                );
                reporter.gates(p.plan.gates);
              } else {
                reporter.info(
                  `Every gate holds for ${p.environment} (automatic policy): promoting ${p.plan.release.id}.`,
                );
              }
            },
          },
        );
        for (const f of follow) if (f.result) reportOutcome(reporter, f.result);
        reporter.result({
          automatic: follow.map((f) => ({
            environment: f.environment,
            status: f.result?.status ?? (f.plan ? 'waiting' : 'unavailable'),
            gates: f.plan?.gates ?? [],
          })),
        });
        if (follow.some((f) => f.result && f.result.status !== 'succeeded')) return 1;
      }
      return 0;
    },
    { environments: [environment] },
  );
}

/** `--fixes 3` or `--fixes #3`. @throws UserError `USAGE` for anything else. */
export function incidentId(text: string): number {
  const id = Number(text.replace(/^#/, ''));
  if (!Number.isInteger(id) || id < 1)
    throw new UserError(
      'USAGE',
      `--fixes expects an incident number (see \`airlock incidents\`), got "${text}".`,
    );
  return id;
}
