/**
 * What happened to a deployment, told to the outside world after it is recorded: notifications
 * (Slack, signed webhooks) and GitHub Deployments subscribe through `AirlockContext.observe`.
 * Observers run after the state and audit are written and are never awaited by the pipeline:
 * a slow or failing receiver cannot fail or hold up a deployment. The session waits
 * for them (`flush`) before the command exits.
 */
import type { ExecuteResult } from './execute.ts';
import type { Plan } from './plan.ts';

export type DeploymentEvent =
  /** A deploy or promotion refused by its gate (audited `*.refused`). */
  | { type: 'refused'; plan: Plan; at: string; actor: string }
  /** A run started: its deployment is recorded. */
  | {
      type: 'started';
      plan: Plan;
      runId: number;
      deploymentId: number;
      /** The run this one resumes, when it does. */
      resumes: number | null;
      at: string;
      actor: string;
    }
  /** A run finished (succeeded, failed, rolled back automatically). */
  | { type: 'finished'; result: ExecuteResult; at: string; actor: string }
  /** A release now waits for approval into `plan.environment` (the only gates not holding are approvals). */
  | { type: 'awaiting-approval'; plan: Plan; at: string; actor: string };

/** Receives deployment events. Must not throw; may work in the background. */
export type DeploymentObserver = (event: DeploymentEvent) => void;

/** An observer with background work: the promise it returns, if any, is awaited by `flush`. */
export type AsyncObserver = (event: DeploymentEvent) => Promise<unknown> | undefined;

/**
 * Fans events out to observers and tracks their background work so `flush` can wait for it.
 * Each observer's failures are its own (it records them); they never reach the pipeline.
 */
export class DeploymentEventBus {
  readonly #observers: AsyncObserver[];
  readonly #pending = new Set<Promise<unknown>>();

  constructor(observers: AsyncObserver[]) {
    this.#observers = observers;
  }

  get size(): number {
    return this.#observers.length;
  }

  /** Hands `event` to every observer without waiting. */
  readonly publish = (event: DeploymentEvent): void => {
    for (const observer of this.#observers) {
      let work: Promise<unknown> | undefined;
      try {
        work = observer(event);
      } catch {
        continue;
      }
      if (work) {
        const tracked = Promise.resolve(work).catch(() => {});
        this.#pending.add(tracked);
        void tracked.finally(() => this.#pending.delete(tracked));
      }
    }
  };

  /** Resolves when every observer's background work has finished. Never rejects. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
