/**
 * The `StateStore` written once over Kysely; SQLite and (later) Postgres stores differ only in
 * the dialect they hand it. Rows are mapped to the camelCase shapes of `state-store.ts`.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import type { CheckResult } from '../checks/check.ts';
import { InternalError, UserError } from '../errors.ts';
import {
  type Dialect,
  STATE_MIGRATION_LOCK_TABLE,
  STATE_MIGRATION_TABLE,
  type StateDatabase,
  stateMigrations,
} from './schema.ts';
import type {
  AcquireLockRequest,
  Approval,
  AuditEvent,
  CiResult,
  Deployment,
  DeploymentKind,
  DeploymentStatus,
  Fence,
  Lock,
  LockAttempt,
  NewApproval,
  NewAuditEvent,
  NewDeployment,
  NewQueueEntry,
  NewRelease,
  NewRun,
  QueueEntry,
  Release,
  Run,
  RunKind,
  RunStatus,
  RunStep,
  ServingRecord,
  StateStore,
  StepStatus,
  StoredCheckResult,
} from './state-store.ts';

type Row<T extends keyof StateDatabase> = Selectable<StateDatabase[T]>;

const json = (value: unknown): string => JSON.stringify(value ?? null);

/** A camelCase patch as snake_case columns, without its undefined fields. */
function columns<R>(patch: object): Partial<R> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  }
  return out as Partial<R>;
}
const parse = <T>(text: string | null): T =>
  text === null ? (null as T) : (JSON.parse(text) as T);

function toRelease(r: Row<'releases'>): Release {
  return {
    id: r.id,
    seq: Number(r.seq),
    digest: r.digest,
    commit: r.commit_sha,
    dirty: Boolean(r.dirty),
    subject: r.subject,
    createdAt: r.created_at,
    createdBy: r.created_by,
    buildMs: Number(r.build_ms),
    services: parse(r.services),
  };
}

function toRun(r: Row<'runs'>): Run {
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

function toDeployment(r: Row<'deployments'>): Deployment {
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

function toLock(r: Row<'locks'>): Lock {
  return {
    environment: r.environment,
    kind: r.kind === 'manual' ? 'manual' : 'run',
    token: r.token,
    fence: Number(r.fence),
    holder: r.holder,
    runId: r.run_id === null ? null : Number(r.run_id),
    pid: Number(r.pid),
    host: r.host,
    message: r.message,
    acquiredAt: r.acquired_at,
    expiresAt: r.expires_at,
  };
}

function toQueueEntry(r: Row<'queue'>): QueueEntry {
  return {
    id: Number(r.id),
    environment: r.environment,
    releaseId: r.release_id,
    releaseSeq: Number(r.release_seq),
    kind: r.kind === 'automatic' ? 'automatic' : 'manual',
    actor: r.actor,
    pid: Number(r.pid),
    host: r.host,
    status: r.status as QueueEntry['status'],
    message: r.message,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toAudit(r: Row<'audit_events'>): AuditEvent {
  return {
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    environment: r.environment,
    releaseId: r.release_id,
    runId: r.run_id === null ? null : Number(r.run_id),
    result: r.result,
    detail: parse(r.detail) ?? {},
  };
}

/** Brings the store's own schema up to date. @throws InternalError when migrating fails. */
export async function migrateStateSchema(
  db: Kysely<StateDatabase>,
  dialect: Dialect,
  schema?: string,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: stateMigrations(dialect, schema),
    migrationTableName: STATE_MIGRATION_TABLE,
    migrationLockTableName: STATE_MIGRATION_LOCK_TABLE,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const message = error instanceof Error ? error.message : String(error);
    if (/corrupted migrations|previously executed migration .* is missing/i.test(message)) {
      throw new UserError(
        'STATE_SCHEMA_TOO_NEW',
        `the state database was written by a newer Airlock: ${message}`,
        {
          hint: 'Upgrade Airlock to the version that wrote this state.',
        },
      );
    }
    throw new InternalError(
      'INTERNAL',
      `migrating the state database failed${failed ? ` at ${failed.migrationName}` : ''}: ${message}`,
      {
        cause: error,
      },
    );
  }
}

/** What differs between the dialects of the store. */
export interface StoreDialect {
  name: Dialect;
  /**
   * Runs `fn` in a transaction that holds the write lock from its first statement (SQLite:
   * BEGIN IMMEDIATE on the single connection; Postgres: a transaction whose fence check locks
   * the lock row FOR SHARE), so a check and the writes after it are atomic.
   */
  atomically<T>(
    db: Kysely<StateDatabase>,
    fn: (trx: Kysely<StateDatabase>) => Promise<T>,
  ): Promise<T>;
  /** Whether `SELECT … FOR SHARE` exists (Postgres). */
  forShare: boolean;
}

/** True for a unique-constraint violation on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === '23505' || /UNIQUE constraint failed/.test(String(e?.message));
}

export class KyselyStateStore implements StateStore {
  readonly db: Kysely<StateDatabase>;
  readonly dialect: StoreDialect;
  /** Writes through this view require this fence; null: unfenced. */
  readonly fence: Fence | null;
  /** True for a view bound to an open transaction. */
  readonly #bound: boolean;
  /** Only the store that opened the database closes it. */
  readonly #owner: boolean;

  constructor(
    db: Kysely<StateDatabase>,
    dialect: StoreDialect,
    options: { fence?: Fence | null; bound?: boolean; owner?: boolean } = {},
  ) {
    this.db = db;
    this.dialect = dialect;
    this.fence = options.fence ?? null;
    this.#bound = options.bound ?? false;
    this.#owner = options.owner ?? true;
  }

  async close(): Promise<void> {
    if (this.#owner) await this.db.destroy();
  }

  fenced(fence: Fence): StateStore {
    return new KyselyStateStore(this.db, this.dialect, { fence, owner: false });
  }

  async transaction<T>(fn: (store: StateStore) => Promise<T>): Promise<T> {
    if (this.#bound) return fn(this);
    return this.dialect.atomically(this.db, async (trx) => {
      await this.#checkFence(trx);
      return fn(
        new KyselyStateStore(trx, this.dialect, { fence: this.fence, bound: true, owner: false }),
      );
    });
  }

  /** @throws UserError `LOCK_LOST` when this view's fence no longer holds the lock. */
  async #checkFence(db: Kysely<StateDatabase>): Promise<void> {
    if (!this.fence) return;
    let q = db
      .selectFrom('locks')
      .select(['token', 'holder', 'pid', 'host', 'acquired_at'])
      .where('environment', '=', this.fence.environment);
    if (this.dialect.forShare) q = q.forShare();
    const row = await q.executeTakeFirst();
    if (row?.token !== this.fence.token) {
      throw new UserError(
        'LOCK_LOST',
        `this process no longer holds the ${this.fence.environment} lock${row?.token ? `: ${row.holder} (pid ${row.pid} on ${row.host}) took it over at ${row.acquired_at}` : ''}; it stops without writing.`,
        {
          hint: `Its lease ran out (the process was paused or cut off). Run \`airlock status\` to see what ${this.fence.environment} serves now.`,
        },
      );
    }
  }

  /** One write: unfenced, or checked and written in one transaction. */
  async #write<T>(fn: (db: Kysely<StateDatabase>) => Promise<T>, atomic = false): Promise<T> {
    if (this.#bound || (!this.fence && !atomic)) return fn(this.db);
    return this.dialect.atomically(this.db, async (trx) => {
      await this.#checkFence(trx);
      return fn(trx);
    });
  }

  // ------------------------------------------------------------------------------- releases

  async insertRelease(release: NewRelease): Promise<Release> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#write(async (db) => {
          const max = await db
            .selectFrom('releases')
            .select(sql<number>`coalesce(max(seq), 0)`.as('max'))
            .executeTakeFirst();
          const seq = Number(max?.max ?? 0) + 1;
          const row = {
            id: `r${seq}`,
            seq,
            digest: release.digest,
            commit_sha: release.commit,
            dirty: release.dirty ? 1 : 0,
            subject: release.subject,
            created_at: release.createdAt,
            created_by: release.createdBy,
            build_ms: release.buildMs,
            services: json(release.services),
          };
          await db.insertInto('releases').values(row).execute();
          return toRelease(row);
        }, true);
      } catch (error) {
        // Another process built at the same moment: the same content is one release; a
        // different one takes the next number.
        if (!isUniqueViolation(error) || attempt >= 5) throw error;
        const same = await this.findReleaseByContent(release.commit, release.digest, release.dirty);
        if (same) return same;
      }
    }
  }

  async findRelease(ref: string): Promise<Release | undefined> {
    const trimmed = ref.trim().toLowerCase();
    if (/^r\d+$/.test(trimmed)) {
      const row = await this.db
        .selectFrom('releases')
        .selectAll()
        .where('id', '=', trimmed)
        .executeTakeFirst();
      return row ? toRelease(row) : undefined;
    }
    if (!/^[0-9a-f]{7,64}$/.test(trimmed)) return undefined;
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where((eb) =>
        eb.or([eb('digest', 'like', `${trimmed}%`), eb('commit_sha', 'like', `${trimmed}%`)]),
      )
      .orderBy('seq', 'desc')
      .executeTakeFirst();
    return row ? toRelease(row) : undefined;
  }

  async findReleaseByContent(
    commit: string,
    digest: string,
    dirty: boolean,
  ): Promise<Release | undefined> {
    const row = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('commit_sha', '=', commit)
      .where('digest', '=', digest)
      .where('dirty', '=', dirty ? 1 : 0)
      .executeTakeFirst();
    return row ? toRelease(row) : undefined;
  }

  async findReleases(ids: string[]): Promise<Release[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .where('id', 'in', [...new Set(ids)])
      .execute();
    return rows.map(toRelease);
  }

  async listReleases(limit: number): Promise<Release[]> {
    const rows = await this.db
      .selectFrom('releases')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toRelease);
  }

  // ------------------------------------------------------------------------------- runs

  async createRun(run: NewRun): Promise<Run> {
    const row = await this.#write((db) =>
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

  async updateRun(
    id: number,
    patch: Partial<Pick<Run, 'status' | 'message' | 'finishedAt' | 'heartbeatAt' | 'releaseId'>>,
  ): Promise<void> {
    const values = columns<Row<'runs'>>(patch);
    if (Object.keys(values).length === 0) return;
    await this.#write((db) => db.updateTable('runs').set(values).where('id', '=', id).execute());
  }

  async getRun(id: number): Promise<Run | undefined> {
    const row = await this.db
      .selectFrom('runs')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toRun(row) : undefined;
  }

  async listRuns(filter: {
    status?: RunStatus;
    environment?: string;
    limit: number;
  }): Promise<Run[]> {
    let q = this.db.selectFrom('runs').selectAll();
    if (filter.status) q = q.where('status', '=', filter.status);
    if (filter.environment) q = q.where('environment', '=', filter.environment);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toRun);
  }

  async saveStep(step: RunStep): Promise<void> {
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
    await this.#write((db) =>
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

  async listSteps(runId: number): Promise<RunStep[]> {
    const rows = await this.db
      .selectFrom('run_steps')
      .selectAll()
      .where('run_id', '=', runId)
      .orderBy('idx')
      .execute();
    return rows.map(toStep);
  }

  // ------------------------------------------------------------------------------- deployments

  async createDeployment(d: NewDeployment): Promise<Deployment> {
    const row = await this.#write((db) =>
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

  async updateDeployment(
    id: number,
    patch: Partial<
      Pick<Deployment, 'status' | 'switchedAt' | 'finishedAt' | 'checksStatus' | 'message'>
    >,
  ): Promise<void> {
    const values = columns<Row<'deployments'>>(patch);
    if (Object.keys(values).length === 0) return;
    await this.#write((db) =>
      db.updateTable('deployments').set(values).where('id', '=', id).execute(),
    );
  }

  async getDeployment(id: number): Promise<Deployment | undefined> {
    const row = await this.db
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toDeployment(row) : undefined;
  }

  async listDeployments(filter: {
    environment?: string;
    releaseId?: string;
    runId?: number;
    limit: number;
  }): Promise<Deployment[]> {
    let q = this.db.selectFrom('deployments').selectAll();
    if (filter.environment) q = q.where('environment', '=', filter.environment);
    if (filter.releaseId) q = q.where('release_id', '=', filter.releaseId);
    if (filter.runId !== undefined) q = q.where('run_id', '=', filter.runId);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toDeployment);
  }

  // ------------------------------------------------------------------------------- serving

  async setServing(r: ServingRecord): Promise<void> {
    await this.#write((db) =>
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

  async getServing(environment: string): Promise<ServingRecord[]> {
    const rows = await this.db
      .selectFrom('serving')
      .selectAll()
      .where('environment', '=', environment)
      .execute();
    return rows.map((r) => ({
      environment: r.environment,
      service: r.service,
      releaseId: r.release_id,
      deploymentId: Number(r.deployment_id),
      since: r.since,
    }));
  }

  // ------------------------------------------------------------------------------- checks

  async recordCheckResults(results: StoredCheckResult[]): Promise<void> {
    if (results.length === 0) return;
    await this.#write((db) =>
      db
        .insertInto('check_results')
        .values(
          results.map((r) => ({
            deployment_id: r.deploymentId,
            service: r.service,
            name: r.name,
            type: r.type,
            status: r.status,
            duration_ms: Math.round(r.durationMs),
            attempts: r.attempts,
            message: r.message,
            details: json(r.details),
            at: r.at,
          })),
        )
        .execute(),
    );
  }

  async listCheckResults(deploymentId: number): Promise<StoredCheckResult[]> {
    const rows = await this.db
      .selectFrom('check_results')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      deploymentId: Number(r.deployment_id),
      service: r.service,
      name: r.name,
      type: r.type as CheckResult['type'],
      status: r.status as CheckResult['status'],
      durationMs: Number(r.duration_ms),
      attempts: Number(r.attempts),
      message: r.message,
      details: parse(r.details) ?? {},
      at: r.at,
    }));
  }

  // ------------------------------------------------------------------------------- approvals

  async addApproval(a: NewApproval): Promise<Approval> {
    const row = await this.#write((db) =>
      db
        .insertInto('approvals')
        .values({
          environment: a.environment,
          release_id: a.releaseId,
          actor: a.actor,
          decision: a.decision,
          comment: a.comment,
          at: a.at,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return { ...a, id: Number(row.id) };
  }

  async listApprovals(environment: string, releaseId: string): Promise<Approval[]> {
    const rows = await this.db
      .selectFrom('approvals')
      .selectAll()
      .where('environment', '=', environment)
      .where('release_id', '=', releaseId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      environment: r.environment,
      releaseId: r.release_id,
      actor: r.actor,
      decision: r.decision as Approval['decision'],
      comment: r.comment,
      at: r.at,
    }));
  }

  // ------------------------------------------------------------------------------- locks

  async acquireLock(req: AcquireLockRequest): Promise<LockAttempt> {
    const now = req.now.toISOString();
    const expires = new Date(req.now.getTime() + req.ttlMs).toISOString();
    const takeover = req.takeoverToken ?? '';
    // One statement, so it is atomic on every dialect: insert, or replace a free/expired/dead lease.
    const row = await this.db
      .insertInto('locks')
      .values({
        environment: req.environment,
        token: req.token,
        kind: req.kind ?? 'run',
        fence: 1,
        holder: req.holder,
        run_id: req.runId,
        pid: req.pid,
        host: req.host,
        message: req.message,
        acquired_at: now,
        expires_at: expires,
      })
      .onConflict((oc) =>
        oc
          .column('environment')
          .doUpdateSet({
            token: req.token,
            kind: req.kind ?? 'run',
            fence: sql<number>`locks.fence + 1`,
            holder: req.holder,
            run_id: req.runId,
            pid: req.pid,
            host: req.host,
            message: req.message,
            acquired_at: now,
            expires_at: expires,
          })
          .where((eb) =>
            eb.or([eb('locks.expires_at', '<=', now), eb('locks.token', '=', takeover)]),
          ),
      )
      .returningAll()
      .executeTakeFirst();
    if (row && row.token === req.token) return { acquired: true, lock: toLock(row) };
    const holder = await this.getLock(req.environment);
    if (!holder) return this.acquireLock(req); // released between the two statements
    return { acquired: false, holder };
  }

  async renewLock(environment: string, token: string, ttlMs: number, now: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('locks')
      .set({ expires_at: new Date(now.getTime() + ttlMs).toISOString() })
      .where('environment', '=', environment)
      .where('token', '=', token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async releaseLock(environment: string, token: string): Promise<boolean> {
    // Keep the row (its fence counter must keep growing); mark the lease as over.
    const result = await this.db
      .updateTable('locks')
      .set({ expires_at: new Date(0).toISOString(), token: '' })
      .where('environment', '=', environment)
      .where('token', '=', token)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async getLock(environment: string): Promise<Lock | undefined> {
    const row = await this.db
      .selectFrom('locks')
      .selectAll()
      .where('environment', '=', environment)
      .where('token', '!=', '')
      .executeTakeFirst();
    return row ? toLock(row) : undefined;
  }

  // ------------------------------------------------------------------------------- queue

  async enqueue(
    entry: NewQueueEntry,
    now: Date,
  ): Promise<{ entry: QueueEntry; superseded: QueueEntry[] }> {
    const at = now.toISOString();
    return this.#write(async (db) => {
      let superseded: QueueEntry[] = [];
      if (entry.kind === 'automatic') {
        const older = await db
          .selectFrom('queue')
          .selectAll()
          .where('environment', '=', entry.environment)
          .where('status', '=', 'waiting')
          .where('kind', '=', 'automatic')
          .where('release_seq', '<', entry.releaseSeq)
          .execute();
        superseded = older.map(toQueueEntry);
        if (older.length > 0) {
          await db
            .updateTable('queue')
            .set({
              status: 'superseded',
              message: `superseded by ${entry.releaseId}`,
              updated_at: at,
            })
            .where(
              'id',
              'in',
              older.map((o) => o.id),
            )
            .execute();
        }
      }
      const row = await db
        .insertInto('queue')
        .values({
          environment: entry.environment,
          release_id: entry.releaseId,
          release_seq: entry.releaseSeq,
          kind: entry.kind,
          actor: entry.actor,
          pid: entry.pid,
          host: entry.host,
          status: 'waiting',
          message: null,
          created_at: entry.createdAt,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return {
        entry: toQueueEntry(row),
        superseded: superseded.map((q) => ({ ...q, status: 'superseded' as const })),
      };
    }, true);
  }

  async getQueueEntry(id: number): Promise<QueueEntry | undefined> {
    const row = await this.db
      .selectFrom('queue')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toQueueEntry(row) : undefined;
  }

  async updateQueueEntry(
    id: number,
    status: QueueEntry['status'],
    message: string | null,
    now: Date,
  ): Promise<boolean> {
    const result = await this.#write((db) =>
      db
        .updateTable('queue')
        .set({ status, message, updated_at: now.toISOString() })
        .where('id', '=', id)
        .where('status', '=', 'waiting')
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) > 0;
  }

  async listQueue(environment: string, status?: QueueEntry['status']): Promise<QueueEntry[]> {
    let q = this.db.selectFrom('queue').selectAll().where('environment', '=', environment);
    if (status) q = q.where('status', '=', status);
    return (await q.orderBy('id').execute()).map(toQueueEntry);
  }

  // ------------------------------------------------------------------------------- ci

  async recordCiResult(r: Omit<CiResult, 'id'>): Promise<CiResult> {
    const row = await this.#write((db) =>
      db
        .insertInto('ci_results')
        .values({
          commit_sha: r.commit,
          status: r.status,
          summary: r.summary,
          output: r.output,
          duration_ms: Math.round(r.durationMs),
          actor: r.actor,
          at: r.at,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return { ...r, id: Number(row.id) };
  }

  async latestCiResult(commit: string): Promise<CiResult | undefined> {
    const r = await this.db
      .selectFrom('ci_results')
      .selectAll()
      .where('commit_sha', '=', commit)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      id: Number(r.id),
      commit: r.commit_sha,
      status: r.status === 'passed' ? 'passed' : 'failed',
      summary: r.summary,
      output: r.output,
      durationMs: Number(r.duration_ms),
      actor: r.actor,
      at: r.at,
    };
  }

  // ------------------------------------------------------------------------------- audit

  async appendAudit(e: NewAuditEvent): Promise<AuditEvent> {
    const row = await this.#write((db) =>
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

  async listAudit(filter: {
    environment?: string;
    limit: number;
    beforeId?: number;
  }): Promise<AuditEvent[]> {
    let q = this.db.selectFrom('audit_events').selectAll();
    if (filter.environment) q = q.where('environment', '=', filter.environment);
    if (filter.beforeId !== undefined) q = q.where('id', '<', filter.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(toAudit);
  }
}
