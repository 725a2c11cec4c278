/**
 * What the dashboard's pipeline view reads of every environment at once: what serves, the
 * newest deployments, the held locks, the interrupted runs, the open incidents and the secret
 * fingerprints. On Postgres it is one statement (each part a JSON array built by the server), so
 * a page costs one round trip for all of them; on SQLite the same queries run one by one (no
 * round trip to save).
 */
import { type Expression, sql } from 'kysely';
import {
  byEnvironmentNewestFirst,
  recentDeploymentsQuery,
  servingQuery,
  toDeployment,
  toServing,
} from './deployment-queries.ts';
import { fingerprintsQuery, toFingerprint } from './evidence-queries.ts';
import { locksQuery, toLock } from './lock-queries.ts';
import { incidentsQuery, toIncident } from './monitor-queries.ts';
import { runsQuery, toRun } from './run-queries.ts';
import type { PipelineState, PipelineStateLimits } from './state-store.ts';
import type { Row, StoreAccess } from './store-access.ts';

/** See the module comment; `oneStatement` on Postgres. */
export async function readPipelineState(
  access: StoreAccess,
  environments: string[],
  limits: PipelineStateLimits,
  oneStatement: boolean,
): Promise<PipelineState> {
  const some = environments.length > 0;
  const queries = {
    serving: servingQuery(access),
    deployments: some ? recentDeploymentsQuery(access, environments, limits.deployments) : null,
    locks: some ? locksQuery(access, environments) : null,
    interrupted: runsQuery(access, { status: 'interrupted', limit: limits.runs }),
    openIncidents: incidentsQuery(access, { status: 'open', limit: limits.incidents }),
    fingerprints: fingerprintsQuery(access),
  };
  let rows: { [K in keyof typeof queries]: unknown[] };
  if (oneStatement) {
    const part = (q: Expression<unknown> | null) =>
      q ? sql`(SELECT coalesce(json_agg(t), '[]'::json) FROM (${q}) AS t)` : sql`'[]'::json`;
    const result = await sql<typeof rows>`SELECT
      ${part(queries.serving)} AS serving,
      ${part(queries.deployments)} AS deployments,
      ${part(queries.locks)} AS locks,
      ${part(queries.interrupted)} AS interrupted,
      ${part(queries.openIncidents)} AS "openIncidents",
      ${part(queries.fingerprints)} AS fingerprints`.execute(access.db);
    rows = result.rows[0] as typeof rows;
  } else {
    const [serving, deployments, locks, interrupted, openIncidents, fingerprints] =
      await Promise.all([
        queries.serving.execute(),
        queries.deployments?.execute() ?? [],
        queries.locks?.execute() ?? [],
        queries.interrupted.execute(),
        queries.openIncidents.execute(),
        queries.fingerprints.execute(),
      ]);
    rows = { serving, deployments, locks, interrupted, openIncidents, fingerprints };
  }
  // JSON arrays keep their subquery's order in practice; sorted again so nothing relies on it.
  const newestFirst = <T extends { id: number }>(list: T[]) => list.sort((a, b) => b.id - a.id);
  const byKeys = <T>(list: T[], key: (t: T) => string) =>
    list.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return {
    serving: byKeys(
      (rows.serving as Row<'serving'>[]).map(toServing),
      (s) => `${s.environment}\0${s.service}`,
    ),
    deployments: byEnvironmentNewestFirst(
      (rows.deployments as Row<'deployments'>[]).map(toDeployment),
      environments,
    ),
    locks: (rows.locks as Row<'locks'>[]).map(toLock),
    interrupted: newestFirst((rows.interrupted as Row<'runs'>[]).map(toRun)),
    openIncidents: newestFirst((rows.openIncidents as Row<'incidents'>[]).map(toIncident)),
    fingerprints: byKeys(
      (rows.fingerprints as Row<'secret_fingerprints'>[]).map(toFingerprint),
      (f) => `${f.environment}\0${f.service}\0${f.name}`,
    ),
  };
}
