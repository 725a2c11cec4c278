/**
 * The `StateStore` written once over Kysely; the SQLite, Postgres and D1 stores differ only in the
 * dialect they hand it. This class holds what every query shares — the database or open
 * transaction, the fence a write must still hold, transactions — and hands each call to the
 * queries of its area: releases (`release-queries.ts`), runs and steps (`run-queries.ts`),
 * deployments and serving (`deployment-queries.ts`), locks and the queue (`lock-queries.ts`),
 * check results, approvals and CI results (`evidence-queries.ts`), the audit log
 * (`audit-queries.ts`). Rows are mapped to the camelCase shapes of `state-store.ts`.
 */
import type { Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { InternalError, UserError } from '../errors.ts';
import type { AuditHead, AuditVerification } from './audit-chain.ts';
import * as audit from './audit-queries.ts';
import * as deployments from './deployment-queries.ts';
import * as evidence from './evidence-queries.ts';
import * as locks from './lock-queries.ts';
import * as monitor from './monitor-queries.ts';
import * as pipelineState from './pipeline-state-queries.ts';
import * as releases from './release-queries.ts';
import * as runs from './run-queries.ts';
import {
  type Dialect,
  STATE_MIGRATION_LOCK_TABLE,
  STATE_MIGRATION_TABLE,
  type StateDatabase,
  stateMigrations,
} from './schema.ts';
import type {
  AcquireLockRequest,
  ApiToken,
  Approval,
  AuditEvent,
  CiResult,
  Deployment,
  Fence,
  Incident,
  Lock,
  LockAttempt,
  MonitorPass,
  MonitorSample,
  MonitorStats,
  NewApproval,
  NewAuditEvent,
  NewDeployment,
  NewIncident,
  NewQueueEntry,
  NewRelease,
  NewRun,
  PipelineState,
  PipelineStateLimits,
  QueueEntry,
  Release,
  Run,
  RunStatus,
  RunStep,
  SecretFingerprint,
  ServingRecord,
  StateStore,
  StoredCheckResult,
  WebSession,
} from './state-store.ts';
import type { StoreAccess } from './store-access.ts';
import * as tokens from './token-queries.ts';

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
    // Migrations written on parallel branches may land in either order; each runs once.
    allowUnorderedMigrations: true,
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
   * the lock row FOR SHARE; D1: a batch whose first statement fails unless `fence` still holds
   * the lock), so a check and the writes after it are atomic.
   */
  atomically<T>(
    db: Kysely<StateDatabase>,
    fn: (trx: Kysely<StateDatabase>) => Promise<T>,
    fence: Fence | null,
    checkFence: (trx: Kysely<StateDatabase>) => Promise<void>,
  ): Promise<T>;
  /**
   * True when the dialect's write batches themselves fail once `fence` lost the lock (D1): the
   * store then does not read the lock before each write, and the dialect calls `checkFence`
   * (which throws `LOCK_LOST` with the new holder) only after a batch was refused.
   */
  guardsFence?: boolean;
  /** Whether `SELECT … FOR SHARE` exists (Postgres). */
  forShare: boolean;
}

/** The `StateStore` over Kysely; see the module comment. */
export class KyselyStateStore implements StateStore {
  readonly db: Kysely<StateDatabase>;
  readonly dialect: StoreDialect;
  /** Writes through this view require this fence; null: unfenced. */
  readonly fence: Fence | null;
  /** Postgres: the schema holding the tables (raw SQL names it); null on SQLite. */
  readonly pgSchema: string | null;
  /** True for a view bound to an open transaction. */
  readonly #bound: boolean;
  /** Only the store that opened the database closes it. */
  readonly #owner: boolean;
  /** What the per-area queries read and write through. */
  readonly #access: StoreAccess;

  constructor(
    db: Kysely<StateDatabase>,
    dialect: StoreDialect,
    options: {
      fence?: Fence | null;
      bound?: boolean;
      owner?: boolean;
      pgSchema?: string | null;
    } = {},
  ) {
    this.db = db;
    this.dialect = dialect;
    this.pgSchema = options.pgSchema ?? null;
    this.fence = options.fence ?? null;
    this.#bound = options.bound ?? false;
    this.#owner = options.owner ?? true;
    this.#access = { db, write: (fn, atomic) => this.#write(fn, atomic) };
  }

  async close(): Promise<void> {
    if (this.#owner) await this.db.destroy();
  }

  fenced(fence: Fence): StateStore {
    return new KyselyStateStore(this.db, this.dialect, {
      fence,
      owner: false,
      pgSchema: this.pgSchema,
    });
  }

  async transaction<T>(fn: (store: StateStore) => Promise<T>): Promise<T> {
    if (this.#bound) return fn(this);
    return this.dialect.atomically(
      this.db,
      async (trx) => {
        if (!this.dialect.guardsFence) await this.#checkFence(trx);
        return fn(
          new KyselyStateStore(trx, this.dialect, {
            fence: this.fence,
            bound: true,
            owner: false,
            pgSchema: this.pgSchema,
          }),
        );
      },
      this.fence,
      (trx) => this.#checkFence(trx),
    );
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
    return this.dialect.atomically(
      this.db,
      async (trx) => {
        if (!this.dialect.guardsFence) await this.#checkFence(trx);
        return fn(trx);
      },
      this.fence,
      (trx) => this.#checkFence(trx),
    );
  }

  // ------------------------------------------------------------------------------- releases

  insertRelease(release: NewRelease): Promise<Release> {
    return releases.insertRelease(this.#access, release);
  }

  findRelease(ref: string): Promise<Release | undefined> {
    return releases.findRelease(this.#access, ref);
  }

  findCleanRelease(commit: string): Promise<Release | undefined> {
    return releases.findCleanRelease(this.#access, commit);
  }

  findReleaseByContent(
    commit: string,
    digest: string,
    dirty: boolean,
  ): Promise<Release | undefined> {
    return releases.findReleaseByContent(this.#access, commit, digest, dirty);
  }

  findReleases(ids: string[]): Promise<Release[]> {
    return releases.findReleases(this.#access, ids);
  }

  listReleases(limit: number): Promise<Release[]> {
    return releases.listReleases(this.#access, limit);
  }

  // ------------------------------------------------------------------------------- runs and steps

  createRun(run: NewRun): Promise<Run> {
    return runs.createRun(this.#access, run);
  }

  updateRun(
    id: number,
    patch: Partial<Pick<Run, 'status' | 'message' | 'finishedAt' | 'heartbeatAt' | 'releaseId'>>,
  ): Promise<void> {
    return runs.updateRun(this.#access, id, patch);
  }

  getRun(id: number): Promise<Run | undefined> {
    return runs.getRun(this.#access, id);
  }

  listRuns(filter: { status?: RunStatus; environment?: string; limit: number }): Promise<Run[]> {
    return runs.listRuns(this.#access, filter);
  }

  saveStep(step: RunStep): Promise<void> {
    return runs.saveStep(this.#access, step);
  }

  listSteps(runId: number): Promise<RunStep[]> {
    return runs.listSteps(this.#access, runId);
  }

  // ------------------------------------------------------------------------------- deployments and serving

  createDeployment(d: NewDeployment): Promise<Deployment> {
    return deployments.createDeployment(this.#access, d);
  }

  updateDeployment(
    id: number,
    patch: Partial<
      Pick<Deployment, 'status' | 'switchedAt' | 'finishedAt' | 'checksStatus' | 'message'>
    >,
  ): Promise<void> {
    return deployments.updateDeployment(this.#access, id, patch);
  }

  getDeployment(id: number): Promise<Deployment | undefined> {
    return deployments.getDeployment(this.#access, id);
  }

  readPipelineState(environments: string[], limits: PipelineStateLimits): Promise<PipelineState> {
    return pipelineState.readPipelineState(
      this.#access,
      environments,
      limits,
      this.dialect.name === 'postgres',
    );
  }

  listRecentDeployments(environments: string[], perEnvironment: number): Promise<Deployment[]> {
    return deployments.listRecentDeployments(this.#access, environments, perEnvironment);
  }

  listDeployments(filter: {
    environment?: string;
    releaseId?: string;
    runId?: number;
    limit: number;
  }): Promise<Deployment[]> {
    return deployments.listDeployments(this.#access, filter);
  }

  setServing(r: ServingRecord): Promise<void> {
    return deployments.setServing(this.#access, r);
  }

  getServing(environment?: string): Promise<ServingRecord[]> {
    return deployments.getServing(this.#access, environment);
  }

  // ------------------------------------------------------------------------------- check results and approvals

  recordCheckResults(results: StoredCheckResult[]): Promise<void> {
    return evidence.recordCheckResults(this.#access, results);
  }

  listCheckResults(deploymentId: number): Promise<StoredCheckResult[]> {
    return evidence.listCheckResults(this.#access, deploymentId);
  }

  addApproval(a: NewApproval): Promise<Approval> {
    return evidence.addApproval(this.#access, a);
  }

  listApprovals(environment: string, releaseId: string): Promise<Approval[]> {
    return evidence.listApprovals(this.#access, environment, releaseId);
  }

  approvalNonceUsed(nonce: string): Promise<boolean> {
    return evidence.approvalNonceUsed(this.#access, nonce);
  }

  // ------------------------------------------------------------------------------- locks and queue

  acquireLock(req: AcquireLockRequest): Promise<LockAttempt> {
    return locks.acquireLock(this.#access, req);
  }

  renewLock(environment: string, token: string, ttlMs: number, now: Date): Promise<boolean> {
    return locks.renewLock(this.#access, environment, token, ttlMs, now);
  }

  releaseLock(environment: string, token: string): Promise<boolean> {
    return locks.releaseLock(this.#access, environment, token);
  }

  getLock(environment: string): Promise<Lock | undefined> {
    return locks.getLock(this.#access, environment);
  }

  getLocks(environments: string[]): Promise<Lock[]> {
    return locks.getLocks(this.#access, environments);
  }

  enqueue(
    entry: NewQueueEntry,
    now: Date,
  ): Promise<{ entry: QueueEntry; superseded: QueueEntry[] }> {
    return locks.enqueue(this.#access, entry, now);
  }

  getQueueEntry(id: number): Promise<QueueEntry | undefined> {
    return locks.getQueueEntry(this.#access, id);
  }

  updateQueueEntry(
    id: number,
    status: QueueEntry['status'],
    message: string | null,
    now: Date,
  ): Promise<boolean> {
    return locks.updateQueueEntry(this.#access, id, status, message, now);
  }

  listQueue(environment: string, status?: QueueEntry['status']): Promise<QueueEntry[]> {
    return locks.listQueue(this.#access, environment, status);
  }

  // ------------------------------------------------------------------------------- ci results

  recordCiResult(r: Omit<CiResult, 'id'>): Promise<CiResult> {
    return evidence.recordCiResult(this.#access, r);
  }

  latestCiResult(commit: string): Promise<CiResult | undefined> {
    return evidence.latestCiResult(this.#access, commit);
  }

  // ------------------------------------------------------------------------------- secret fingerprints

  recordSecretFingerprint(f: SecretFingerprint): Promise<void> {
    return evidence.recordSecretFingerprint(this.#access, f);
  }

  listSecretFingerprints(): Promise<SecretFingerprint[]> {
    return evidence.listSecretFingerprints(this.#access);
  }

  // ------------------------------------------------------------------------------- monitor

  recordMonitorSamples(samples: MonitorSample[]): Promise<void> {
    return monitor.recordMonitorSamples(this.#access, samples);
  }

  recentMonitorPasses(environment: string, limit: number): Promise<MonitorPass[]> {
    return monitor.recentMonitorPasses(this.#access, environment, limit);
  }

  monitorStats(since: string): Promise<MonitorStats[]> {
    return monitor.monitorStats(this.#access, since);
  }

  compactMonitorSamples(before: string): Promise<number> {
    return monitor.compactMonitorSamples(this.#access, before);
  }

  openIncident(incident: NewIncident): Promise<Incident | undefined> {
    return monitor.openIncident(this.#access, incident);
  }

  updateIncident(
    id: number,
    patch: Partial<Pick<Incident, 'failing' | 'issueNumber' | 'issueUrl'>>,
  ): Promise<void> {
    return monitor.updateIncident(this.#access, id, patch);
  }

  resolveIncident(id: number, resolvedAt: string, durationMs: number): Promise<boolean> {
    return monitor.resolveIncident(this.#access, id, resolvedAt, durationMs);
  }

  getIncident(id: number): Promise<Incident | undefined> {
    return monitor.getIncident(this.#access, id);
  }

  listIncidents(filter: {
    environment?: string;
    status?: Incident['status'];
    limit: number;
  }): Promise<Incident[]> {
    return monitor.listIncidents(this.#access, filter);
  }

  // ------------------------------------------------------------------------------- audit

  appendAudit(e: NewAuditEvent): Promise<AuditEvent> {
    return audit.appendAudit(this.#access, e, { pgSchema: this.pgSchema });
  }

  acceptAudit(e: NewAuditEvent): Promise<AuditEvent> {
    return audit.appendAudit(this.#access, e, { pgSchema: this.pgSchema, accept: true });
  }

  auditHead(): Promise<AuditHead | undefined> {
    return audit.auditHead(this.#access);
  }

  verifyAudit(options: { tail?: number } = {}): Promise<AuditVerification> {
    return audit.verifyAudit(this.#access, options);
  }

  /** Overridden by the Postgres store; SQLite restores its guards when it opens. */
  async missingAuditGuards(): Promise<string[]> {
    return [];
  }

  markAuditBroken(id: number, reason: string): Promise<boolean> {
    return audit.markAuditBroken(this.#access, id, reason);
  }

  listAudit(filter: {
    environment?: string;
    limit: number;
    beforeId?: number;
    steps?: boolean;
  }): Promise<AuditEvent[]> {
    return audit.listAudit(this.#access, filter);
  }

  insertToken(token: ApiToken): Promise<void> {
    return tokens.insertToken(this.#access, token);
  }

  getToken(id: string): Promise<ApiToken | undefined> {
    return tokens.getToken(this.#access, id);
  }

  listTokens(): Promise<ApiToken[]> {
    return tokens.listTokens(this.#access);
  }

  revokeToken(id: string, at: string): Promise<boolean> {
    return tokens.revokeToken(this.#access, id, at);
  }

  createSession(session: WebSession): Promise<void> {
    return tokens.createSession(this.#access, session);
  }

  getSession(idHash: string): Promise<WebSession | undefined> {
    return tokens.getSession(this.#access, idHash);
  }

  getSessionWithToken(
    idHash: string,
  ): Promise<{ session: WebSession; token: ApiToken } | undefined> {
    return tokens.getSessionWithToken(this.#access, idHash);
  }

  deleteSession(idHash: string): Promise<void> {
    return tokens.deleteSession(this.#access, idHash);
  }
}
