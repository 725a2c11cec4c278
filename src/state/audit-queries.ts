/**
 * The audit log in the state store: append-only events (who did what, where, with which
 * result), listed newest first.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import type { AuditAction, AuditResult } from './audit-action.ts';
import type { AuditEvent, NewAuditEvent } from './state-store.ts';
import { json, parse, type Row, type StoreAccess } from './store-access.ts';

function toAudit(r: Row<'audit_events'>): AuditEvent {
  return {
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    // Text in the database: what an older Airlock wrote is read back as it is.
    action: r.action as AuditAction,
    environment: r.environment,
    releaseId: r.release_id,
    runId: r.run_id === null ? null : Number(r.run_id),
    result: r.result as AuditResult,
    detail: parse(r.detail) ?? {},
  };
}

export async function appendAudit(access: StoreAccess, e: NewAuditEvent): Promise<AuditEvent> {
  const row = await access.write((db) =>
    db
      .insertInto('audit_events')
      .values({
        at: e.at,
        actor: e.actor,
        action: e.action,
        environment: e.environment,
        release_id: e.releaseId,
        run_id: e.runId,
        result: e.result,
        detail: json(e.detail),
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toAudit(row);
}

export async function listAudit(
  access: StoreAccess,
  filter: {
    environment?: string;
    limit: number;
    beforeId?: number;
  },
): Promise<AuditEvent[]> {
  let q = access.db.selectFrom('audit_events').selectAll();
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
  const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
  return rows.map(toAudit);
}
