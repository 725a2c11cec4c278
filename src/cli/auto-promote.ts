import ms from 'ms';
import { UserError } from '../errors.ts';
import { autoPromote } from '../pipeline/auto-promote.ts';
import { releaseNamed } from '../pipeline/decide.ts';
import type { CommandIO } from './command-io.ts';
import type { PromoteOptions } from './commands/promote.ts';
import { reportOutcome } from './deploy.ts';
import { withSession } from './session.ts';
import { parseDuration, waitHooks } from './wait.ts';

/** Exit status of `promote --auto` when a gate is still pending at `--timeout`. */
export const EXIT_PENDING = 3;

/**
 * `airlock promote <env> --auto [--watch]`: the automatic policy. Exit 0 when promoted (or
 * nothing to do), 1 when a gate fails or the promotion fails, 3 when a gate is still pending
 * at `--timeout`.
 */
export async function autoPromoteCommand(
  io: CommandIO,
  environment: string,
  opts: PromoteOptions,
): Promise<number> {
  const timeoutMs = parseDuration('--timeout', opts.timeout, { zero: true });
  const intervalMs = parseDuration('--interval', opts.interval);
  return withSession(
    io,
    async ({ ctx }) => {
      const reporter = io.reporter;
      if (opts.watch)
        reporter.info(
          `Watching ${environment}: each release that passes its gate is promoted (Ctrl-C stops).`,
        );
      if (opts.release && opts.watch)
        throw new UserError(
          'USAGE',
          '--watch promotes every new release; it does not take --release.',
          {
            hint: `Drop --release, or use \`airlock promote ${environment} --auto --release ${opts.release}\`.`,
          },
        );
      const release = opts.release ? await releaseNamed(ctx, opts.release) : undefined;
      const outcome = await autoPromote(ctx, environment, {
        ...(release ? { release } : {}),
        signal: io.signal,
        timeoutMs,
        intervalMs,
        ...(opts.watch ? { watch: true } : {}),
        ...(opts.overrideWindow ? { windowOverride: opts.overrideWindow } : {}),
        ...(opts.changed ? { changed: true } : {}),
        ...waitHooks(reporter, opts.wait),
        onEvaluate: (plan) => {
          if (plan.blocked) {
            const pending = plan.gates.every((g) => g.status !== 'fails');
            reporter.info(
              pending
                ? `${plan.release.id} → ${environment}: waiting for ${plan.gates
                    .filter((g) => g.status === 'pending')
                    .map((g) => g.gate)
                    .join(', ')} (checking every ${ms(intervalMs)}):`
                : `${plan.release.id} → ${environment}: blocked:`,
            );
            reporter.gates(plan.gates);
          } else {
            reporter.info(
              `Every gate holds for ${environment} (automatic policy): promoting ${plan.release.id}.`,
            );
          }
        },
        onSuperseded: (older, newer) =>
          reporter.info(`${newer} superseded ${older}, which was waiting for ${environment}.`),
        onPromoted: (result) => reportOutcome(reporter, result),
      });
      switch (outcome.status) {
        case 'promoted':
        case 'stopped':
          return 0;
        case 'unchanged':
          reporter.success(
            outcome.hint
              ? `${outcome.reason}; nothing to promote yet.`
              : `${environment} already serves ${outcome.release.id}; nothing to promote.`,
          );
          if (outcome.hint) reporter.info(`  → ${outcome.hint}`);
          reporter.result({
            action: 'promote',
            environment,
            status: 'unchanged',
            release: outcome.release.id,
            ...(outcome.hint ? { reason: outcome.reason, hint: outcome.hint } : {}),
          });
          return 0;
        case 'failed':
          return 1;
        case 'superseded':
          reporter.success(
            `${outcome.release.id} is superseded: ${outcome.by.id} reached the previous environment after it, so ${outcome.release.id} is not promoted (${outcome.by.id}'s own run promotes it).`,
          );
          reporter.result({
            action: 'promote',
            environment,
            status: 'superseded',
            release: outcome.release.id,
            by: outcome.by.id,
          });
          return 0;
        case 'blocked': {
          const failing = outcome.plan.gates.filter((g) => g.status === 'fails');
          reporter.info(
            `✖ ${outcome.plan.release.id} is not promoted to ${environment}: the ${failing.map((g) => g.gate).join(', ')} gate${failing.length === 1 ? '' : 's'} failed.`,
          );
          reporter.result({
            action: 'promote',
            environment,
            status: 'blocked',
            gates: outcome.plan.gates,
          });
          return 1;
        }
        case 'pending': {
          const pending = outcome.plan.gates.filter((g) => g.status === 'pending');
          reporter.info(
            `⏳ ${outcome.plan.release.id} is still waiting for ${pending.map((g) => g.gate).join(', ')} after ${ms(timeoutMs, { long: true })}; run \`airlock promote ${environment} --auto\` again later.`,
          );
          reporter.result({
            action: 'promote',
            environment,
            status: 'pending',
            gates: outcome.plan.gates,
          });
          return EXIT_PENDING;
        }
      }
    },
    { environments: [environment] },
  );
}
