/**
 * The monitor's samples and incidents in the state store (`airlock monitor`). Each function
 * implements the `StateStore` method of the same name (documented in `state-store.ts`).
 */
import type {
  Incident,
  IncidentCheck,
  MonitorPass,
  MonitorSample,
  MonitorStats,
  NewIncident,
} from './state-store.ts';
import { isUniqueViolation, json, parse, type Row, type StoreAccess } from './store-access.ts';

/** Rows per insert statement (SQLite allows 32766 bound values; 8 columns each). */
const CHUNK = 500;

export function toIncident(r: Row<'incidents'>): Incident {
  return {
    id: Number(r.id),
    environment: r.environment,
    cause: r.cause,
    status: r.status === 'open' ? 'open' : 'resolved',
    startedAt: r.started_at,
    openedAt: r.opened_at,
    resolvedAt: r.resolved_at,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    failing: parse<IncidentCheck[]>(r.failing) ?? [],
    releaseId: r.release_id,
    issueNumber: r.issue_number === null ? null : Number(r.issue_number),
    issueUrl: r.issue_url,
  };
}

export async function recordMonitorSamples(
  access: StoreAccess,
  samples: MonitorSample[],
): Promise<void> {
  if (samples.length === 0) return;
  await access.write(async (db) => {
    for (let i = 0; i < samples.length; i += CHUNK) {
      await db
        .insertInto('monitor_samples')
        .values(
          samples.slice(i, i + CHUNK).map((s) => ({
            environment: s.environment,
            service: s.service,
            check_name: s.check,
            ok: s.ok ? 1 : 0,
            latency_ms: Math.round(s.latencyMs),
            at: s.at,
            message: s.message,
          })),
        )
        .execute();
    }
  }, true);
}

export async function recentMonitorPasses(
  access: StoreAccess,
  environment: string,
  limit: number,
): Promise<MonitorPass[]> {
  const rows = await access.db
    .selectFrom('monitor_samples')
    .select((eb) => ['at', eb.fn.min('ok').as('ok')])
    .where('environment', '=', environment)
    .groupBy('at')
    .orderBy('at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ at: r.at, ok: Number(r.ok) === 1 }));
}

/** The `p`-th percentile (0–100) of `values` by nearest rank, or null when there are none. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

export async function monitorStats(access: StoreAccess, since: string): Promise<MonitorStats[]> {
  const rows = await access.db
    .selectFrom('monitor_samples')
    .select(['environment', 'at', 'ok', 'latency_ms'])
    .where('at', '>=', since)
    .execute();
  const byEnv = new Map<string, { passes: Map<string, boolean>; latencies: number[] }>();
  for (const r of rows) {
    let e = byEnv.get(r.environment);
    if (!e) {
      e = { passes: new Map(), latencies: [] };
      byEnv.set(r.environment, e);
    }
    e.passes.set(r.at, (e.passes.get(r.at) ?? true) && Number(r.ok) === 1);
    e.latencies.push(Number(r.latency_ms));
  }
  return [...byEnv].map(([environment, e]) => ({
    environment,
    passes: e.passes.size,
    okPasses: [...e.passes.values()].filter(Boolean).length,
    p95Ms: percentile(e.latencies, 95),
  }));
}

export async function compactMonitorSamples(access: StoreAccess, before: string): Promise<number> {
  const result = await access.write((db) =>
    db.deleteFrom('monitor_samples').where('at', '<', before).executeTakeFirst(),
  );
  return Number(result.numDeletedRows);
}

export async function openIncident(
  access: StoreAccess,
  incident: NewIncident,
): Promise<Incident | undefined> {
  try {
    const row = await access.write((db) =>
      db
        .insertInto('incidents')
        .values({
          environment: incident.environment,
          cause: incident.cause,
          status: 'open',
          started_at: incident.startedAt,
          opened_at: incident.openedAt,
          resolved_at: null,
          duration_ms: null,
          failing: json(incident.failing),
          release_id: incident.releaseId,
          issue_number: null,
          issue_url: null,
          open_key: 1,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toIncident(row);
  } catch (error) {
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}

export async function updateIncident(
  access: StoreAccess,
  id: number,
  patch: Partial<Pick<Incident, 'failing' | 'issueNumber' | 'issueUrl'>>,
): Promise<void> {
  await access.write((db) =>
    db
      .updateTable('incidents')
      .set({
        ...(patch.failing ? { failing: json(patch.failing) } : {}),
        ...(patch.issueNumber !== undefined ? { issue_number: patch.issueNumber } : {}),
        ...(patch.issueUrl !== undefined ? { issue_url: patch.issueUrl } : {}),
      })
      .where('id', '=', id)
      .execute(),
  );
}

export async function resolveIncident(
  access: StoreAccess,
  id: number,
  resolvedAt: string,
  durationMs: number,
): Promise<boolean> {
  const result = await access.write((db) =>
    db
      .updateTable('incidents')
      .set({
        status: 'resolved',
        resolved_at: resolvedAt,
        duration_ms: durationMs,
        open_key: null,
      })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst(),
  );
  return Number(result.numUpdatedRows) > 0;
}

export async function getIncident(access: StoreAccess, id: number): Promise<Incident | undefined> {
  const row = await access.db
    .selectFrom('incidents')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toIncident(row) : undefined;
}

export async function listIncidents(
  access: StoreAccess,
  filter: { environment?: string; status?: Incident['status']; limit: number },
): Promise<Incident[]> {
  return (await incidentsQuery(access, filter).execute()).map(toIncident);
}

/** The query of `listIncidents`. */
export function incidentsQuery(
  access: StoreAccess,
  filter: { environment?: string; status?: Incident['status']; limit: number },
) {
  let q = access.db.selectFrom('incidents').selectAll();
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  if (filter.status) q = q.where('status', '=', filter.status);
  return q.orderBy('id', 'desc').limit(filter.limit);
}
