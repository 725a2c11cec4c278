/**
 * Restore: what a new local runtime does after a restart (the daemon was killed, the machine
 * rebooted). It re-adopts what `<home>/local/state.json` says was serving: first it stops app
 * processes a previous runtime left alive, then relaunches each service on its proxy port
 * through the usual launch and switch. A service that fails to boot stays desired and is
 * retried by the crash supervisor.
 */
import { hasCode, type SerializedError, toAirlockError } from '../../errors.ts';
import type { ProcessDeployment } from '../provider.ts';
import type { CrashSupervisor } from './crash-supervisor.ts';
import { type DeploySequence, validateDeployment } from './deploy-sequence.ts';
import {
  isProcessAlive,
  isRuntimeProcess,
  type RuntimeStateFile,
  readStateFile,
  type ServiceRecord,
  signalProcessGroup,
  waitForExit,
} from './runtime-files.ts';
import type { RuntimeContext, ServiceSlot } from './service-slot.ts';

/** What `LocalRuntime.restore` did. */
export interface RestoreResult {
  /** `<environment>/<service>@<release>` relaunched and serving. */
  restored: string[];
  /** Services that could not be relaunched now (they are retried with backoff when possible). */
  failed: { environment: string; service: string; release: string; error: SerializedError }[];
  /** Pids of app processes left over from a previous runtime that were stopped. */
  killedStale: number[];
}

/** What {@link restoreServices} works with. */
export interface RestoreParts {
  ctx: RuntimeContext;
  deploys: DeploySequence;
  supervisor: CrashSupervisor;
  /** The slot of `d`'s (environment, service), its proxy listening on `d.port`. */
  slotFor(d: ProcessDeployment): Promise<ServiceSlot>;
  /** Keeps a record that got no slot, so state.json does not forget it. */
  orphan(record: ServiceRecord): void;
}

/**
 * Brings back what state.json says was serving (see the module comment), then writes state.json.
 * A service a deploy already took over is left alone. Never throws for one service: its error is
 * in `failed` (and reported as a `deploy.failed` event with `phase: 'restore'`).
 */
export async function restoreServices(parts: RestoreParts): Promise<RestoreResult> {
  const { ctx, deploys, supervisor } = parts;
  const state = await readStateFile(ctx.paths.home);
  const owned = new Set([...ctx.live.keys()].map((proc) => proc.pid));
  const killedStale = await stopStaleProcesses(state, owned, ctx.paths.home);

  const result: RestoreResult = { restored: [], failed: [], killedStale };
  await Promise.all(
    state.services.map(async (record) => {
      const d = record.deployment;
      const fail = (error: unknown) => {
        const serialized = toAirlockError(error).toJSON();
        result.failed.push({
          environment: record.environment,
          service: record.service,
          release: d?.release?.id ?? 'unknown',
          error: serialized,
        });
        if (d?.release) {
          ctx.emit('deploy.failed', d, undefined, { phase: 'restore', error: serialized });
        }
      };
      let slot: ServiceSlot;
      try {
        validateDeployment(d);
        slot = await parts.slotFor(d);
      } catch (error) {
        parts.orphan(record);
        fail(error);
        return;
      }
      await slot.lock.run(async () => {
        if (slot.serving || slot.restart || slot.closed) return;
        const signal = AbortSignal.any([slot.abort.signal, ctx.closing]);
        try {
          const { proc, bootMs } = await deploys.launch(slot, d, signal, () => {}, 'restore');
          await deploys.switch(slot, proc, d, { reusedWarm: false, bootMs }, () => {}, null);
          slot.since = record.since ?? slot.since;
          result.restored.push(`${d.environment}/${d.service}@${d.release.id}`);
        } catch (error) {
          fail(error);
          // Kept desired (state.json keeps it); retried like a crash unless retrying is pointless.
          slot.desired = d;
          if (signal.aborted || hasCode(error, 'BUILD_OUTPUT_MISSING')) return;
          supervisor.scheduleRestart(slot, supervisor.nextBackoff(slot));
        }
      });
    }),
  );
  await ctx.persist();
  return result;
}

/**
 * Stops the app processes state.json lists that are still alive and ours (their
 * `/proc/<pid>/environ` holds `AIRLOCK_RUNTIME_HOME=<home>`; a recycled pid of another program is
 * never touched) and not in `owned`: SIGTERM to the group, SIGKILL after its grace period.
 * @returns the pids it stopped.
 */
async function stopStaleProcesses(
  state: RuntimeStateFile,
  owned: Set<number>,
  home: string,
): Promise<number[]> {
  const stale = new Map<number, number>();
  for (const record of state.processes) stale.set(record.pid, record.stopTimeoutMs);
  for (const record of state.services) {
    if (record.pid !== null) stale.set(record.pid, record.deployment.stopTimeoutMs);
  }
  const killedStale: number[] = [];
  await Promise.all(
    [...stale].map(async ([pid, graceMs]) => {
      if (owned.has(pid) || !isProcessAlive(pid) || !isRuntimeProcess(pid, home)) {
        return;
      }
      signalProcessGroup(pid, 'SIGTERM');
      if (!(await waitForExit(pid, Number.isFinite(graceMs) ? graceMs : 5_000))) {
        signalProcessGroup(pid, 'SIGKILL');
        await waitForExit(pid, 2_000);
      }
      killedStale.push(pid);
    }),
  );
  return killedStale;
}
