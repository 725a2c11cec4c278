/**
 * The engine: runs a list of steps, persisting every transition as it happens, so history is
 * exact and a killed process leaves a precise record of where it stopped. Steps are data with a
 * small contract (Kargo `pkg/promotion`): `run(ctx) -> { status, message, output, retryAfterMs }`.
 * `failed` is a business outcome (a check failed); `errored` is a technical fault (a thrown
 * error). After the first failure the remaining `on-success` steps are skipped and the
 * `on-failure` steps (e.g. an automatic rollback) run.
 */
import { type AirlockError, toAirlockError } from '../errors.ts';
import { audit } from '../state/audit.ts';
import type { RunStep, StateStore, StepStatus } from '../state/state-store.ts';
import type { ProgressSink, StepInfo } from './events.ts';

export interface StepContext {
  runId: number;
  /** Aborted when the user interrupts or the environment lock is lost. */
  signal: AbortSignal;
  /** A progress line for the live view. */
  progress(message: string): void;
  /** Outcomes of the steps that ran before this one, by step name. */
  results: ReadonlyMap<string, StepOutcome>;
}

export interface StepOutcome {
  status: 'succeeded' | 'failed' | 'errored' | 'skipped' | 'running';
  message?: string;
  output?: Record<string, unknown>;
  /** With status `running`: call `run` again after this many ms (a step that waits). */
  retryAfterMs?: number;
}

export interface Step extends StepInfo {
  run(ctx: StepContext): Promise<StepOutcome>;
  /**
   * Called instead of `run` when an earlier, interrupted run already completed this step (see
   * `RunStepsOptions.completed`), with that run's output, so shared state can be rebuilt.
   */
  adopt?(output: Record<string, unknown> | null): Promise<void> | void;
}

export interface RunStepsOptions {
  store: StateStore;
  runId: number;
  title: string;
  steps: Step[];
  sink: ProgressSink;
  signal: AbortSignal;
  /**
   * Signal for `on-failure` steps. They clean up after an interruption, so by default they get
   * one that is not already aborted.
   */
  cleanupSignal?: AbortSignal;
  now?: () => Date;
  /** Writes an audit event (`step.succeeded`, `step.failed`, …) with every finished step, atomically. */
  audit?: { actor: string; environment: string; releaseId: string | null };
  /**
   * Steps an interrupted run already completed (name → its run id and output): they are not
   * run again but adopted (`Step.adopt`) and recorded as skipped.
   */
  completed?: ReadonlyMap<string, { runId: number; output: Record<string, unknown> | null }>;
  /**
   * Fault injection for tests: awaited at every step boundary (`before:<step>`, `after:<step>`,
   * the latter once the step's outcome is persisted). The CLI wires it to AIRLOCK_FAULT_PAUSE.
   */
  pause?: (boundary: string) => Promise<void>;
}

export interface RunStepsResult {
  status: 'succeeded' | 'failed' | 'errored';
  /** The first step that did not succeed, if any. */
  failedStep: {
    name: string;
    status: StepStatus;
    message: string | null;
    code?: string;
    /** What to do next, from the error that stopped the step (`AirlockError.hint`). */
    hint?: string;
  } | null;
  outcomes: Map<string, StepOutcome>;
  durationMs: number;
}

/** Provider faults that are the release's own doing (it does not boot), not a platform fault. */
const RELEASE_FAULTS = new Set(['HEALTH_TIMEOUT', 'APP_EXITED', 'DIGEST_MISMATCH']);

/** `failed` (the release or the user's input is at fault) versus `errored` (a technical fault). */
export function isBusinessFailure(error: AirlockError): boolean {
  if (error.kind === 'user' || error.kind === 'config') return true;
  return error.kind === 'provider' && RELEASE_FAULTS.has(error.code);
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Runs the steps in order. Never throws for a step's failure; a store failure does propagate. */
export async function runSteps(options: RunStepsOptions): Promise<RunStepsResult> {
  const { store, runId, steps, sink, signal } = options;
  const now = options.now ?? (() => new Date());
  const started = performance.now();
  const outcomes = new Map<string, StepOutcome>();
  let failedStep: RunStepsResult['failedStep'] = null;
  let technical = false;
  const cleanup = options.cleanupSignal ?? new AbortController().signal;

  const records: RunStep[] = steps.map((s, index) => ({
    runId,
    index,
    name: s.name,
    title: s.title,
    status: 'pending',
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    message: null,
    output: null,
  }));
  for (const r of records) await store.saveStep(r);
  /** Persists a finished step and its audit event in one transaction. */
  const finish = (record: RunStep) =>
    store.transaction(async (tx) => {
      await tx.saveStep(record);
      // A finished step is succeeded, failed or errored (a step that reports skipped is not audited).
      const status = record.status;
      if (
        options.audit &&
        (status === 'succeeded' || status === 'failed' || status === 'errored')
      ) {
        await audit({ store: tx, actor: options.audit.actor, now }, `step.${status}`, {
          at: record.finishedAt ?? now().toISOString(),
          environment: options.audit.environment,
          releaseId: options.audit.releaseId,
          runId,
          result: status === 'succeeded' ? 'ok' : status,
          detail: {
            step: record.name,
            durationMs: record.durationMs,
            ...(record.message ? { message: record.message } : {}),
          },
        });
      }
    });
  sink.emit({
    type: 'run.started',
    runId,
    title: options.title,
    steps: steps.map(({ name, title, when }) => ({ name, title, when })),
  });

  for (const [index, step] of steps.entries()) {
    const record = records[index] as RunStep;
    const shouldRun = failedStep ? step.when === 'on-failure' : step.when === 'on-success';
    const earlier = shouldRun && !failedStep ? options.completed?.get(step.name) : undefined;
    const skip = async (message: string) => {
      record.status = 'skipped';
      record.message = message;
      await store.saveStep(record);
      sink.emit({
        type: 'step.finished',
        runId,
        step: step.name,
        title: step.title,
        status: 'skipped',
        durationMs: 0,
        message,
      });
    };
    if (earlier) {
      await step.adopt?.(earlier.output);
      outcomes.set(step.name, { status: 'succeeded', output: earlier.output ?? {} });
      record.output = earlier.output;
      await skip(`completed by run #${earlier.runId}`);
      continue;
    }
    if (!shouldRun) {
      await skip(failedStep ? `skipped: ${failedStep.name} did not succeed` : 'not needed');
      continue;
    }
    await options.pause?.(`before:${step.name}`);
    const t0 = performance.now();
    record.status = 'running';
    record.startedAt = now().toISOString();
    await store.saveStep(record);
    sink.emit({ type: 'step.started', runId, step: step.name, title: step.title });

    let outcome: StepOutcome;
    let code: string | undefined;
    try {
      for (;;) {
        outcome = await step.run({
          runId,
          signal: step.when === 'on-failure' ? cleanup : signal,
          results: outcomes,
          progress: (message) =>
            sink.emit({ type: 'step.progress', runId, step: step.name, message }),
        });
        if (outcome.status !== 'running') break;
        await sleep(outcome.retryAfterMs ?? 1000, signal);
        if (signal.aborted) {
          outcome = { status: 'errored', message: 'interrupted while waiting' };
          break;
        }
      }
    } catch (error) {
      const e = toAirlockError(error);
      // Lost the environment lock: nothing more may be written, not even this step's failure.
      if (e.code === 'LOCK_LOST') throw e;
      code = e.code;
      outcome = {
        status: isBusinessFailure(e) ? 'failed' : 'errored',
        message: e.message,
        output: { code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...e.details },
      };
    }
    outcomes.set(step.name, outcome);
    const status = outcome.status as StepStatus;
    record.status = status;
    record.finishedAt = now().toISOString();
    record.durationMs = Math.round(performance.now() - t0);
    record.message = outcome.message ?? null;
    record.output = outcome.output ?? null;
    await finish(record);
    sink.emit({
      type: 'step.finished',
      runId,
      step: step.name,
      title: step.title,
      status,
      durationMs: record.durationMs,
      message: record.message,
    });
    if (
      !failedStep &&
      (status === 'failed' || status === 'errored') &&
      step.when === 'on-success'
    ) {
      const hint = (outcome.output as { hint?: unknown } | undefined)?.hint;
      failedStep = {
        name: step.name,
        status,
        message: record.message,
        ...(code ? { code } : {}),
        ...(typeof hint === 'string' ? { hint } : {}),
      };
      technical = status === 'errored';
    }
    await options.pause?.(`after:${step.name}`);
  }
  const durationMs = Math.round(performance.now() - started);
  const status = failedStep ? (technical ? 'errored' : 'failed') : 'succeeded';
  sink.emit({ type: 'run.finished', runId, status, durationMs });
  return { status, failedStep, outcomes, durationMs };
}
