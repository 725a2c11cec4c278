/**
 * The rollback rehearsal: after a release that changed an environment's schema passed its
 * checks there, the environment is switched back to the release the next environment serves
 * (what it would roll back to after the promotion; else what served here before) — old code,
 * new schema — that release's checks run, and the candidate is switched forward again and
 * checked again. Its outcome is the step's output (`RehearsalOutput`), which the `rehearsal`
 * gate of the next environment reads. A rollback is thus tried on staging before production
 * ever needs one.
 */
import { migrationLabel } from '../../migrations/migration-name.ts';
import { carries, contractsNotCarried } from '../contract.ts';
import type { Step, StepOutcome } from '../engine.ts';
import { runServiceChecks } from './check-step.ts';
import { type DeploymentRun, switchService } from './deployment-run.ts';

/**
 * What a rehearsal found, kept as the step's output. `passed`: the previous release ran on the
 * new schema and passed its checks, and the candidate passed again. `failed`: either did not.
 * `not-needed`: the schema holds nothing the previous release does not carry (or nothing served
 * before). `contract`: the schema holds a contract migration the previous release does not
 * carry, so a rollback to it is refused by design (fix-forward only).
 */
export interface RehearsalOutput {
  result: 'passed' | 'failed' | 'not-needed' | 'contract';
  /** The release rehearsed as the rollback target. */
  previous: string | null;
  /** Migrations applied here that `previous` does not carry (filenames or versions). */
  migrations: string[];
  contracts?: string[];
  /** Wall time of the drill (ms): switch back, its checks, switch forward, checks again. */
  durationMs?: number;
  back?: string;
  forward?: string;
}

const rehearsed = (
  status: StepOutcome['status'],
  message: string,
  output: RehearsalOutput,
): StepOutcome => ({ status, message, output: { ...output } });

/**
 * The rehearsal step of one service (see the module comment). Fails when the previous release
 * does not start or fails its checks on the new schema, or the candidate fails after switching
 * forward; the candidate serves again in either case (a failure to switch forward errors).
 * Perf checks are left out of the drill (they compare releases, not correctness).
 */
export function rehearseStep(d: DeploymentRun, service: string, title: string): Step {
  return {
    name: `rehearse:${service}`,
    title,
    when: 'on-success',
    async run(ctx) {
      const { ctx: actx, env, release } = d;
      const database = env.services[service]?.database;
      const before = d.before.find((s) => s.service === service);
      // The rollback target: what the next environment serves (what it would roll back to once
      // this release is promoted); else what served here before (or, redeploying the release
      // that served, what served before that).
      const onNext = env.next
        ? (await actx.store.getServing(env.next)).find((s) => s.service === service)?.releaseId
        : undefined;
      let previousId = onNext && onNext !== release.id ? onNext : (before?.releaseId ?? null);
      if (before && previousId === release.id)
        previousId =
          (await actx.store.getDeployment(before.deploymentId))?.previousReleaseId ?? null;
      const previous =
        previousId && previousId !== 'mixed' && previousId !== release.id
          ? await actx.store.findRelease(previousId)
          : undefined;
      if (!database || !previous) {
        return rehearsed(
          'succeeded',
          `not needed: ${database ? `no earlier release to roll back to` : `${service} has no database`}`,
          { result: 'not-needed', previous: previous?.id ?? null, migrations: [] },
        );
      }
      const ledger = await actx.databases.readLedger(database);
      const ahead = ledger.filter((e) => !carries(previous.services[service], e));
      const migrations = ahead.map((e) => migrationLabel(e.version, e.name));
      if (ahead.length === 0) {
        return rehearsed(
          'succeeded',
          `not needed: ${env.name}'s schema holds no migration ${previous.id} does not carry, so rolling back to it meets the schema it ran on`,
          { result: 'not-needed', previous: previous.id, migrations },
        );
      }
      const contracts = await contractsNotCarried(actx, service, ledger, previous, [
        release,
        previous,
      ]);
      if (contracts.length > 0) {
        const files = contracts.map((c) => c.filename);
        return rehearsed(
          'succeeded',
          `not rehearsed: ${files.join(', ')} ${files.length === 1 ? 'is a contract migration' : 'are contract migrations'} ${previous.id} does not carry, so a rollback to it is refused by design — ${release.id} is fix-forward only`,
          { result: 'contract', previous: previous.id, migrations, contracts: files },
        );
      }
      const started = performance.now();
      const url = () => d.urls[service] as string;
      ctx.progress(`switching ${service} back to ${previous.id} (on ${migrations.join(', ')})`);
      let back: StepOutcome;
      try {
        await switchService(d, previous, service, before?.deploymentId ?? d.deploymentId, {
          ...ctx,
          rollback: true,
        });
        back = await runServiceChecks(actx, env, previous, service, url(), d.deploymentId, ctx, {
          record: false,
          skip: ['perf'],
        });
      } catch (error) {
        back = {
          status: 'failed',
          message: `${previous.id} did not start: ${(error as Error).message.replace(/\.$/, '')}`,
        };
      }
      ctx.progress(`switching ${service} forward to ${release.id}`);
      await switchService(d, release, service, d.deploymentId, ctx);
      await d.leases?.settle(service, true);
      const forward = await runServiceChecks(
        actx,
        env,
        release,
        service,
        url(),
        d.deploymentId,
        ctx,
        { record: false, skip: ['perf'] },
      );
      const output: RehearsalOutput = {
        result: back.status === 'succeeded' && forward.status === 'succeeded' ? 'passed' : 'failed',
        previous: previous.id,
        migrations,
        durationMs: Math.round(performance.now() - started),
        back: back.message ?? back.status,
        forward: forward.message ?? forward.status,
      };
      if (back.status !== 'succeeded') {
        d.rehearsalFailed ??= new Set();
        d.rehearsalFailed.add(service);
        return rehearsed(
          'failed',
          `rollback rehearsal failed: ${previous.id} on the new schema (${migrations.join(', ')}) — ${back.message}; ${release.id} serves again${forward.status === 'succeeded' ? ' and passes its checks' : ` but fails its checks: ${forward.message}`}`,
          output,
        );
      }
      if (forward.status !== 'succeeded') {
        return rehearsed(
          'failed',
          `rollback rehearsal: ${previous.id} passed on the new schema, but ${release.id} failed its checks after switching forward again — ${forward.message}`,
          output,
        );
      }
      return rehearsed(
        'succeeded',
        `rollback rehearsed in ${output.durationMs} ms: ${previous.id} passed its checks on the new schema (${migrations.join(', ')}), then ${release.id} again`,
        output,
      );
    },
  };
}
