/**
 * What the engine tells the outside world while it runs. The CLI reporter renders these as a
 * live task list; `--json` collects them; the server will stream them. The core never writes
 * to the terminal itself (cli/reporter.ts is the only writer).
 */
import type { StepStatus } from '../state/state-store.ts';

export interface StepInfo {
  name: string;
  title: string;
  when: 'on-success' | 'on-failure';
}

export type PipelineEvent =
  | { type: 'run.started'; runId: number; title: string; steps: StepInfo[] }
  | { type: 'step.started'; runId: number; step: string; title: string }
  | { type: 'step.progress'; runId: number; step: string; message: string }
  | {
      type: 'step.finished';
      runId: number;
      step: string;
      title: string;
      status: StepStatus;
      durationMs: number;
      message: string | null;
    }
  | {
      type: 'run.finished';
      runId: number;
      status: 'succeeded' | 'failed' | 'errored';
      durationMs: number;
    };

/** Receives pipeline events. Must not throw. */
export interface ProgressSink {
  emit(event: PipelineEvent): void;
}

/** A sink that drops everything (tests, `--json` without progress). */
export const silentSink: ProgressSink = { emit() {} };
