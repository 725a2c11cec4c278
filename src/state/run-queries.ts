/**
 * Runs and their steps in the state store: one run per promotion, deploy or rollback, each
 * step saved (upserted) at every transition so a killed process can resume.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import type { NewRun, Run, RunKind, RunStatus, RunStep, StepStatus } from './state-store.ts';
import { columns, json, parse, type Row, type StoreAccess } from './store-access.ts';

export function toRun(r: Row<'runs'>): Run {
  return {
    id: Number(r.id),
    resumedFrom: r.resumed_from === null ? null : Number(r.resumed_from),
    kind: r.kind as RunKind,
    environment: r.environment,
    releaseId: r.release_id,
    status: r.status as RunStatus,
    actor: r.actor,
    pid: Number(r.pid),
    host: r.host,
    startedAt: r.started_at,
    heartbeatAt: r.heartbeat_at,
    finishedAt: r.finished_at,
    message: r.message,
  };
}

function toStep(r: Row<'run_steps'>): RunStep {
  return {
    runId: Number(r.run_id),
    index: Number(r.idx),
    name: r.name,
    title: r.title,
    status: r.status as StepStatus,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    message: r.message,
    output: parse(r.output),
  };
}

export async function createRun(access: StoreAccess, run: NewRun): Promise<Run> {
  const row = await access.write((db) =>
    db
      .insertInto('runs')
      .values({
        kind: run.kind,
        environment: run.environment,
        release_id: run.releaseId,
        status: 'running',
        actor: run.actor,
        pid: run.pid,
        host: run.host,
        started_at: run.startedAt,
        heartbeat_at: run.startedAt,
        finished_at: null,
        message: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toRun(row);
}

export async function updateRun(
  access: StoreAccess,
  id: number,
  patch: Partial<Pick<Run, 'status' | 'message' | 'finishedAt' | 'heartbeatAt' | 'releaseId'>>,
): Promise<void> {
  const values = columns<Row<'runs'>>(patch);
  if (Object.keys(values).length === 0) return;
  await access.write((db) => db.updateTable('runs').set(values).where('id', '=', id).execute());
}

export async function getRun(access: StoreAccess, id: number): Promise<Run | undefined> {
  const row = await access.db
    .selectFrom('runs')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toRun(row) : undefined;
}

export async function listRuns(
  access: StoreAccess,
  filter: {
    status?: RunStatus;
    environment?: string;
    limit: number;
  },
): Promise<Run[]> {
  return (await runsQuery(access, filter).execute()).map(toRun);
}

/** The query of `listRuns`. */
export function runsQuery(
  access: StoreAccess,
  filter: { status?: RunStatus; environment?: string; limit: number },
) {
  let q = access.db.selectFrom('runs').selectAll();
  if (filter.status) q = q.where('status', '=', filter.status);
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  return q.orderBy('id', 'desc').limit(filter.limit);
}

export async function saveStep(access: StoreAccess, step: RunStep): Promise<void> {
  const values = {
    run_id: step.runId,
    idx: step.index,
    name: step.name,
    title: step.title,
    status: step.status,
    started_at: step.startedAt,
    finished_at: step.finishedAt,
    duration_ms: step.durationMs,
    message: step.message,
    output: step.output === null ? null : json(step.output),
  };
  await access.write((db) =>
    db
      .insertInto('run_steps')
      .values(values)
      .onConflict((oc) =>
        oc.columns(['run_id', 'idx']).doUpdateSet({
          name: values.name,
          title: values.title,
          status: values.status,
          started_at: values.started_at,
          finished_at: values.finished_at,
          duration_ms: values.duration_ms,
          message: values.message,
          output: values.output,
        }),
      )
      .execute(),
  );
}

export async function listSteps(access: StoreAccess, runId: number): Promise<RunStep[]> {
  const rows = await access.db
    .selectFrom('run_steps')
    .selectAll()
    .where('run_id', '=', runId)
    .orderBy('idx')
    .execute();
  return rows.map(toStep);
}
