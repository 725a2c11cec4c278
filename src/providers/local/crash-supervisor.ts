/**
 * The local runtime's crash supervisor: watches every app process it starts, and when the
 * serving one exits on its own, relaunches the same deployment with exponential backoff
 * (200 ms doubling to 5 s, reset after 30 s of uptime), the way process supervisors do
 * (systemd's `Restart=` with `RestartSec`, supervisord's `startretries`). Meanwhile the proxy
 * answers 503 with `Retry-After` (see reverse-proxy.ts). Exits of warm, draining and booting
 * processes are not crashes: they are reported, or left to the deploy that watches them.
 *
 * A restart starts from the release's copy only if it still verifies (`copy-verify.ts`, in the
 * launch). A copy that changed is never started again: the release that served before it serves
 * instead (its own copy verified the same way), and `restart.refused` says why.
 */
import { toAirlockError } from '../../errors.ts';
import type { ProcessDeployment } from '../provider.ts';
import type { AppProcess, ExitInfo } from './app-process.ts';
import type { RuntimeContext, ServiceSlot } from './service-slot.ts';

/** First restart delay (ms) after a crash; doubles on each crash in a row. */
export const BACKOFF_START_MS = 200;
const BACKOFF_MAX_MS = 5_000;
/** A process that served this long (ms) before crashing restarts after the first delay again. */
const BACKOFF_RESET_UPTIME_MS = 30_000;

/** A pending restart of a slot's crashed process. */
export interface RestartState {
  controller: AbortController;
  /** Wall-clock ms (runtime clock) of the next attempt. */
  retryAt: number;
  timer: NodeJS.Timeout | undefined;
  task: Promise<void> | null;
}

/**
 * Starts `d` in `slot` and resolves once it is healthy (the deploy sequence's launch).
 * @throws ProviderError as `DeploySequence.launch` does.
 */
export type Relaunch = (
  slot: ServiceSlot,
  d: ProcessDeployment,
  signal: AbortSignal,
) => Promise<AppProcess>;

/**
 * Starts `previous` in `slot` (verified, healthy) and switches traffic to it, as a deployment
 * without a lease.
 * @throws ProviderError as `DeploySequence.launch` does.
 */
export type FallBack = (
  slot: ServiceSlot,
  previous: ProcessDeployment,
  signal: AbortSignal,
) => Promise<void>;

/** Restarts crashed serving processes; see the module comment. */
export class CrashSupervisor {
  readonly #ctx: RuntimeContext;
  readonly #relaunch: Relaunch;
  readonly #fallBack: FallBack;

  constructor(ctx: RuntimeContext, relaunch: Relaunch, fallBack: FallBack) {
    this.#ctx = ctx;
    this.#relaunch = relaunch;
    this.#fallBack = fallBack;
  }

  /** Tracks `proc` as live in `slot` until it exits, then handles the exit. */
  watch(slot: ServiceSlot, proc: AppProcess): void {
    this.#ctx.live.set(proc, slot);
    void proc.exited.then((info) => {
      this.#ctx.live.delete(proc);
      this.#onExit(slot, proc, info);
      void this.#ctx.persist();
    });
  }

  /** The next restart delay of `slot` (ms); the one after it doubles, up to 5 s. */
  nextBackoff(slot: ServiceSlot): number {
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(delay * 2, BACKOFF_MAX_MS);
    return delay;
  }

  /** Relaunches `slot.desired` after `delayMs`, unless the slot or the runtime is closing. */
  scheduleRestart(slot: ServiceSlot, delayMs: number): void {
    if (slot.closed || this.#ctx.closing.aborted || !slot.desired) return;
    const state: RestartState = {
      controller: new AbortController(),
      retryAt: this.#ctx.now() + delayMs,
      timer: undefined,
      task: null,
    };
    state.timer = setTimeout(() => {
      state.task = this.#restartNow(slot, state);
    }, delayMs);
    slot.restart = state;
  }

  /** Cancels the slot's pending (or running) restart; returns it so its task can be awaited. */
  cancelRestart(slot: ServiceSlot): RestartState | null {
    const state = slot.restart;
    if (!state) return null;
    slot.restart = null;
    clearTimeout(state.timer);
    state.controller.abort();
    return state;
  }

  #onExit(slot: ServiceSlot, proc: AppProcess, info: ExitInfo): void {
    if (proc.stopping) return;
    if (slot.serving === proc) {
      this.#onCrash(slot, proc, info);
      return;
    }
    const warm = slot.warm.find((entry) => entry.proc === proc);
    if (warm) slot.takeWarm(warm);
    if (warm || slot.draining.has(proc)) {
      this.#ctx.emit('process.stopped', proc.deployment, proc.pid, {
        reason: warm ? 'exited while warm' : 'exited while draining',
        exitCode: info.exitCode,
        signal: info.signal,
      });
    }
    // Candidates: the deploy's health wait sees the exit and reports APP_EXITED.
  }

  #onCrash(slot: ServiceSlot, proc: AppProcess, info: ExitInfo): void {
    const at = new Date(this.#ctx.now()).toISOString();
    slot.lastCrash = { at, release: proc.release, exitCode: info.exitCode, signal: info.signal };
    slot.serving = null;
    const uptimeMs = this.#ctx.now() - proc.startedAt;
    if (uptimeMs >= BACKOFF_RESET_UPTIME_MS) slot.backoffMs = BACKOFF_START_MS;
    const delay = this.nextBackoff(slot);
    this.#ctx.emit('process.crashed', proc.deployment, proc.pid, {
      exitCode: info.exitCode,
      signal: info.signal,
      uptimeMs,
      restartInMs: delay,
    });
    this.scheduleRestart(slot, delay);
  }

  async #restartNow(slot: ServiceSlot, state: RestartState): Promise<void> {
    const d = slot.desired;
    if (slot.restart !== state || !d) return;
    try {
      const proc = await this.#relaunch(slot, d, state.controller.signal);
      if (slot.restart !== state) {
        await this.#ctx.stop(proc, 'superseded by a deployment');
        return;
      }
      slot.restart = null;
      slot.serving = proc;
      slot.restarts += 1;
      this.#ctx.emit('process.restarted', d, proc.pid, { restarts: slot.restarts });
      await this.#ctx.persist();
    } catch (error) {
      if (slot.restart !== state) return;
      const airlockError = toAirlockError(error);
      const pid =
        typeof airlockError.details.pid === 'number' ? airlockError.details.pid : undefined;
      if (airlockError.code === 'APP_EXITED') {
        slot.lastCrash = {
          at: new Date(this.#ctx.now()).toISOString(),
          release: d.release.id,
          exitCode: (airlockError.details.exitCode as number | null | undefined) ?? null,
          signal: (airlockError.details.signal as string | null | undefined) ?? null,
        };
      }
      // A missing build output or a changed copy will not come back by waiting: stay down
      // until the next deploy.
      const retry =
        airlockError.code !== 'BUILD_OUTPUT_MISSING' && airlockError.code !== 'DIGEST_MISMATCH';
      const delay = retry ? this.nextBackoff(slot) : null;
      this.#ctx.emit('process.crashed', d, pid, {
        phase: 'restart',
        code: airlockError.code,
        message: airlockError.message,
        restartInMs: delay,
      });
      if (airlockError.code === 'DIGEST_MISMATCH') {
        await this.#refuse(slot, state, d, airlockError.message);
        return;
      }
      slot.restart = null;
      if (delay !== null) this.scheduleRestart(slot, delay);
    }
  }

  /** The copy of `d` changed: serve the release that served before it, and say why. */
  async #refuse(
    slot: ServiceSlot,
    state: RestartState,
    d: ProcessDeployment,
    reason: string,
  ): Promise<void> {
    const previous = slot.previous;
    let fallBackError: string | null = null;
    if (previous && previous.release.id !== d.release.id) {
      try {
        await this.#fallBack(slot, previous, state.controller.signal);
      } catch (error) {
        fallBackError = toAirlockError(error).message;
      }
    }
    if (slot.restart === state) slot.restart = null;
    const fellBack =
      !!previous && fallBackError === null && slot.serving?.release === previous.release.id;
    this.#ctx.emit('restart.refused', d, undefined, {
      reason,
      previousRelease: previous?.release.id ?? null,
      fellBack,
      ...(fallBackError ? { fallBackError } : {}),
    });
    await this.#ctx.persist();
  }
}
