/**
 * Restore: what a new local runtime does after a restart (the daemon was killed, the machine
 * rebooted). It takes back what `<home>/local/state.json` says was serving. An app process the
 * previous daemon left alive — ours (`AIRLOCK_RUNTIME_HOME` in its environment), serving or
 * warm, and answering its health path — is adopted as it is: the proxy points at it again
 * without a boot, so a killed daemon's environments serve again as soon as the new one listens.
 * Other leftovers are stopped, and services with nothing to adopt are relaunched through the
 * usual launch and switch. A service that fails to boot stays desired and is retried by the
 * crash supervisor. A pending checks lease carries on where it was (see checks-lease.ts).
 */
import { hasCode, type SerializedError, toAirlockError } from '../../errors.ts';
import type { ProcessDeployment } from '../provider.ts';
import { AppProcess, probeHttp } from './app-process.ts';
import type { ChecksLeases } from './checks-lease.ts';
import type { CrashSupervisor } from './crash-supervisor.ts';
import { type DeploySequence, validateDeployment } from './deploy-sequence.ts';
import {
  isProcessAlive,
  isRuntimeProcess,
  type ProcessRecord,
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
  /** Pids of app processes of a previous runtime taken over as they were (serving or warm). */
  adopted: number[];
}

/** What {@link restoreServices} works with. */
export interface RestoreParts {
  ctx: RuntimeContext;
  deploys: DeploySequence;
  supervisor: CrashSupervisor;
  leases: ChecksLeases;
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
  const adoptable = await adoptableProcesses(state, owned, ctx.paths.home);
  for (const record of adoptable) owned.add(record.pid);
  const killedStale = await stopStaleProcesses(state, owned, ctx.paths.home);

  const result: RestoreResult = { restored: [], failed: [], killedStale, adopted: [] };
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
      const mine = adoptable.filter(
        (p) => p.environment === record.environment && p.service === record.service,
      );
      await slot.lock.run(async () => {
        if (slot.serving || slot.restart || slot.closed) {
          await Promise.all(mine.map((p) => stopPid(p.pid, p.stopTimeoutMs)));
          return;
        }
        const signal = AbortSignal.any([slot.abort.signal, ctx.closing]);
        const adopt = (p: AdoptableProcess) => {
          const proc = AppProcess.adopt({
            deployment: p.deployment,
            home: ctx.paths.home,
            port: p.port,
            pid: p.pid,
            logOffset: p.logOffset ?? 0,
            logFile: ctx.paths.appLogFile(d.environment, d.service, p.release),
            now: ctx.now,
          });
          supervisor.watch(slot, proc);
          result.adopted.push(p.pid);
          return proc;
        };
        const serving = mine.find((p) => p.role === 'serving' && p.release === d.release.id);
        for (const p of mine) {
          if (p === serving) continue;
          if (p.role === 'warm') deploys.keepWarmAdopted(slot, adopt(p));
          else await stopPid(p.pid, p.stopTimeoutMs);
        }
        slot.previous = record.previous ?? null;
        try {
          if (serving) {
            await deploys.switch(
              slot,
              adopt(serving),
              d,
              { reusedWarm: true, bootMs: 0 },
              () => {},
              null,
            );
          } else {
            const { proc, bootMs } = await deploys.launch(slot, d, signal, () => {}, 'restore');
            await deploys.switch(slot, proc, d, { reusedWarm: false, bootMs }, () => {}, null);
          }
          slot.previous = record.previous ?? slot.previous;
          slot.since = record.since ?? slot.since;
          result.restored.push(`${d.environment}/${d.service}@${d.release.id}`);
          if (record.lease) parts.leases.restore(slot, record.lease);
        } catch (error) {
          fail(error);
          // Kept desired (state.json keeps it); retried like a crash unless retrying is pointless.
          slot.desired = d;
          if (record.lease) parts.leases.restore(slot, record.lease);
          if (signal.aborted || hasCode(error, 'BUILD_OUTPUT_MISSING')) return;
          supervisor.scheduleRestart(slot, supervisor.nextBackoff(slot));
        }
      });
    }),
  );
  await ctx.persist();
  return result;
}

/** A live app process of a previous runtime that can be taken over as it is. */
type AdoptableProcess = ProcessRecord & {
  port: number;
  deployment: ProcessDeployment;
  role: 'serving' | 'warm';
};

/**
 * The serving and warm processes state.json lists that are alive, ours (see
 * `isRuntimeProcess`), not in `owned`, and answer their health path within 1 s.
 */
async function adoptableProcesses(
  state: RuntimeStateFile,
  owned: Set<number>,
  home: string,
): Promise<AdoptableProcess[]> {
  const candidates = state.processes.filter(
    (p): p is AdoptableProcess =>
      (p.role === 'serving' || p.role === 'warm') &&
      typeof p.port === 'number' &&
      !!p.deployment?.health &&
      !owned.has(p.pid) &&
      isProcessAlive(p.pid) &&
      isRuntimeProcess(p.pid, home),
  );
  const healthy = await Promise.all(
    candidates.map(async (p) => (await probeHttp(p.port, p.deployment.health.path, 1_000)) === 200),
  );
  return candidates.filter((_, index) => healthy[index]);
}

/** SIGTERM to a process group, SIGKILL after `graceMs`. */
async function stopPid(pid: number, graceMs: number): Promise<void> {
  signalProcessGroup(pid, 'SIGTERM');
  if (!(await waitForExit(pid, Number.isFinite(graceMs) ? graceMs : 5_000))) {
    signalProcessGroup(pid, 'SIGKILL');
    await waitForExit(pid, 2_000);
  }
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
      await stopPid(pid, graceMs);
      killedStale.push(pid);
    }),
  );
  return killedStale;
}
