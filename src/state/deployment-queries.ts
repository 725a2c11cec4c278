/**
 * Deployments and what serves in the state store: one deployment per release put into an
 * environment, and per (environment, service) the release serving now.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import type {
  Deployment,
  DeploymentKind,
  DeploymentStatus,
  NewDeployment,
  ServingRecord,
} from './state-store.ts';
import { columns, type Row, type StoreAccess } from './store-access.ts';

export function toDeployment(r: Row<'deployments'>): Deployment {
  return {
    id: Number(r.id),
    runId: r.run_id === null ? null : Number(r.run_id),
    environment: r.environment,
    releaseId: r.release_id,
    kind: r.kind as DeploymentKind,
    status: r.status as DeploymentStatus,
    actor: r.actor,
    previousReleaseId: r.previous_release_id,
    startedAt: r.started_at,
    switchedAt: r.switched_at,
    finishedAt: r.finished_at,
    checksStatus: r.checks_status as Deployment['checksStatus'],
    message: r.message,
  };
}

export async function createDeployment(access: StoreAccess, d: NewDeployment): Promise<Deployment> {
  const row = await access.write((db) =>
    db
      .insertInto('deployments')
      .values({
        run_id: d.runId,
        environment: d.environment,
        release_id: d.releaseId,
        kind: d.kind,
        status: 'running',
        actor: d.actor,
        previous_release_id: d.previousReleaseId,
        started_at: d.startedAt,
        switched_at: null,
        finished_at: null,
        checks_status: null,
        message: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toDeployment(row);
}

export async function updateDeployment(
  access: StoreAccess,
  id: number,
  patch: Partial<
    Pick<Deployment, 'status' | 'switchedAt' | 'finishedAt' | 'checksStatus' | 'message'>
  >,
): Promise<void> {
  const values = columns<Row<'deployments'>>(patch);
  if (Object.keys(values).length === 0) return;
  await access.write((db) =>
    db.updateTable('deployments').set(values).where('id', '=', id).execute(),
  );
}

export async function getDeployment(
  access: StoreAccess,
  id: number,
): Promise<Deployment | undefined> {
  const row = await access.db
    .selectFrom('deployments')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row ? toDeployment(row) : undefined;
}

/** The query of `listRecentDeployments` (at least one environment). */
export function recentDeploymentsQuery(
  access: StoreAccess,
  environments: string[],
  perEnvironment: number,
) {
  const names = [...new Set(environments)];
  // One statement, one indexed scan (environment, id) per environment.
  const newest = (environment: string, i: number) =>
    access.db
      .selectFrom((db) =>
        db
          .selectFrom('deployments')
          .selectAll()
          .where('environment', '=', environment)
          .orderBy('id', 'desc')
          .limit(perEnvironment)
          .as(`d${i}`),
      )
      .selectAll();
  let query = newest(names[0] as string, 0);
  for (let i = 1; i < names.length; i++) query = query.unionAll(newest(names[i] as string, i));
  return query;
}

/** Deployments grouped by environment in the order of `environments`, newest first in each. */
export function byEnvironmentNewestFirst(rows: Deployment[], environments: string[]): Deployment[] {
  const order = new Map([...new Set(environments)].map((n, i) => [n, i]));
  return rows.sort(
    (a, b) => (order.get(a.environment) ?? 0) - (order.get(b.environment) ?? 0) || b.id - a.id,
  );
}

export async function listRecentDeployments(
  access: StoreAccess,
  environments: string[],
  perEnvironment: number,
): Promise<Deployment[]> {
  if (environments.length === 0) return [];
  const rows = await recentDeploymentsQuery(access, environments, perEnvironment).execute();
  return byEnvironmentNewestFirst(rows.map(toDeployment), environments);
}

export async function listDeployments(
  access: StoreAccess,
  filter: {
    environment?: string;
    releaseId?: string;
    runId?: number;
    limit: number;
  },
): Promise<Deployment[]> {
  let q = access.db.selectFrom('deployments').selectAll();
  if (filter.environment) q = q.where('environment', '=', filter.environment);
  if (filter.releaseId) q = q.where('release_id', '=', filter.releaseId);
  if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
  const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
  return rows.map(toDeployment);
}

export async function setServing(access: StoreAccess, r: ServingRecord): Promise<void> {
  await access.write((db) =>
    db
      .insertInto('serving')
      .values({
        environment: r.environment,
        service: r.service,
        release_id: r.releaseId,
        deployment_id: r.deploymentId,
        since: r.since,
      })
      .onConflict((oc) =>
        oc.columns(['environment', 'service']).doUpdateSet({
          release_id: r.releaseId,
          deployment_id: r.deploymentId,
          since: r.since,
        }),
      )
      .execute(),
  );
}

export function toServing(r: Row<'serving'>): ServingRecord {
  return {
    environment: r.environment,
    service: r.service,
    releaseId: r.release_id,
    deploymentId: Number(r.deployment_id),
    since: r.since,
  };
}

/** The query of `getServing`. */
export function servingQuery(access: StoreAccess, environment?: string) {
  let query = access.db.selectFrom('serving').selectAll();
  if (environment !== undefined) query = query.where('environment', '=', environment);
  return query.orderBy('environment').orderBy('service');
}

export async function getServing(
  access: StoreAccess,
  environment?: string,
): Promise<ServingRecord[]> {
  return (await servingQuery(access, environment).execute()).map(toServing);
}
