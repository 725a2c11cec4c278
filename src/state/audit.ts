/**
 * `audit()`: the one way Airlock writes to the audit log. It fills in when (`now()`) and who
 * (`actor`), and takes the action from the closed list of `audit-action.ts`, so what history
 * can hold is written down in one place (`docs/audit.md` describes it).
 */
import type { AuditAction, AuditResult } from './audit-action.ts';
import type { AuditEvent, DeploymentKind, StateStore } from './state-store.ts';

/**
 * Who writes, where and when. An `AirlockContext` is one; a writer without a context passes
 * what it has, e.g. `{ store: tx, actor, now }` inside a store transaction, or a fenced store so
 * the event is refused once the environment lock is lost.
 */
export interface AuditWriter {
  store: Pick<StateStore, 'appendAudit'>;
  /** Who acted (`--as`, `AIRLOCK_ACTOR`, git `user.email`, or a process such as the runtime). */
  actor: string;
  now: () => Date;
}

/** What an event is about and how it went; see `docs/audit.md` for each group's `detail`. */
export interface AuditFields {
  /** The environment it happened in, or null for project-wide events (`release.built`). */
  environment: string | null;
  releaseId?: string | null;
  runId?: number | null;
  /** Default `ok`. */
  result?: AuditResult;
  /** Facts, JSON-serialisable; never secrets. Default `{}`. */
  detail?: Record<string, unknown>;
  /** When it happened (ISO-8601 UTC), when that is already recorded elsewhere; default `now()`. */
  at?: string;
}

/**
 * Appends one event to the audit log.
 * @returns the stored event (with its id).
 * @throws whatever the store throws, e.g. `LOCK_LOST` from a fenced store whose lock is gone.
 */
export function audit(
  writer: AuditWriter,
  action: AuditAction,
  fields: AuditFields,
): Promise<AuditEvent> {
  return writer.store.appendAudit({
    at: fields.at ?? writer.now().toISOString(),
    actor: writer.actor,
    action,
    environment: fields.environment,
    releaseId: fields.releaseId ?? null,
    runId: fields.runId ?? null,
    result: fields.result ?? 'ok',
    detail: fields.detail ?? {},
  });
}

/** The group of the actions of each kind of run (`promotion.started`, `rollback.failed`, …). */
const RUN_GROUP = {
  deploy: 'deployment',
  promote: 'promotion',
  rollback: 'rollback',
} as const satisfies Record<DeploymentKind, string>;

/** The action for a run of `kind` that `what` (`promote`, `refused` → `promotion.refused`). */
export function runAction(
  kind: DeploymentKind,
  what: 'started' | 'succeeded' | 'failed' | 'refused',
): AuditAction {
  return `${RUN_GROUP[kind]}.${what}`;
}
