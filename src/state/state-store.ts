/**
 * The `StateStore` interface: everything Airlock remembers. Releases, deployments, pipeline
 * runs and their steps (every transition written as it happens), check results, approvals,
 * environment locks, what serves where, and an append-only audit log.
 *
 * Times are ISO-8601 UTC strings (`Date.prototype.toISOString()`), durations are ms.
 * Implementations: `SqliteStateStore` (embedded default, `state.db` in the project's Airlock home); a Postgres one
 * follows for team mode. Both are built on one Kysely query layer (`kysely-state-store.ts`).
 */
import type { CheckResult } from '../checks/check.ts';
import type { AuditAction, AuditResult } from './audit-action.ts';
import type { AuditHead, AuditVerification } from './audit-chain.ts';

/**
 * What puts a release into an environment: `deploy` (into the first environment), `promote`
 * (into a later one, through its gate) or `rollback` (an earlier release again). The one
 * declaration of the kind: plans, runs, deployments, providers and audit actions use it.
 */
export type DeploymentKind = 'deploy' | 'promote' | 'rollback';
export type DeploymentStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'rolled_back';
/** A run is a deployment of one kind, or `migrate` (`airlock migrate apply` on its own). */
export type RunKind = DeploymentKind | 'migrate';
/**
 * `interrupted`: the process running it died (detected by the next command); `resolved`: an
 * interrupted run that `airlock resume` finished or rolled back, or a newer run replaced.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'errored' | 'interrupted' | 'resolved';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'errored' | 'skipped';

/** One service's part of a release. */
export interface ReleaseArtifact {
  /** sha256 of the build output tree (see `tree-digest.ts`). */
  digest: string;
  /** Total size of the files (bytes). */
  bytes: number;
  files: number;
  /** sha256 tree digest of the migrations folder snapshot, or null without a database. */
  migrationsDigest: string | null;
  /** The migrations the release carries, in order; `contract` marks `-- airlock:contract` files. */
  migrations: Array<{ version: number; name: string; sha256: string; contract?: boolean }>;
}

export interface Release {
  /** `r<seq>`, e.g. `r3`. */
  id: string;
  seq: number;
  /** sha256 over the per-service artifact and migration digests (64 hex chars). */
  digest: string;
  commit: string;
  /** Built from a working tree with uncommitted changes. */
  dirty: boolean;
  /** First line of the commit message. */
  subject: string;
  createdAt: string;
  createdBy: string;
  buildMs: number;
  services: Record<string, ReleaseArtifact>;
}

export type NewRelease = Omit<Release, 'id' | 'seq'>;

export interface Run {
  id: number;
  /** The interrupted run this one resumed, if any. */
  resumedFrom: number | null;
  kind: RunKind;
  environment: string;
  releaseId: string | null;
  status: RunStatus;
  actor: string;
  pid: number;
  host: string;
  startedAt: string;
  /** Last heartbeat of the process running it. */
  heartbeatAt: string;
  finishedAt: string | null;
  message: string | null;
}

export type NewRun = Omit<
  Run,
  'id' | 'status' | 'finishedAt' | 'message' | 'heartbeatAt' | 'resumedFrom'
> & {
  resumedFrom?: number | null;
};

export interface RunStep {
  runId: number;
  /** Position in the run, 0-based. */
  index: number;
  name: string;
  title: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  message: string | null;
  output: Record<string, unknown> | null;
}

export interface Deployment {
  id: number;
  runId: number | null;
  environment: string;
  releaseId: string;
  kind: DeploymentKind;
  status: DeploymentStatus;
  actor: string;
  /** Release that served before this deployment, or null. */
  previousReleaseId: string | null;
  startedAt: string;
  /** When traffic switched to this release (all services), or null if it never did. */
  switchedAt: string | null;
  finishedAt: string | null;
  /** `passed` / `failed` once checks ran; null before (or when none are configured: `passed`). */
  checksStatus: 'passed' | 'failed' | null;
  message: string | null;
}

export type NewDeployment = Pick<
  Deployment,
  'runId' | 'environment' | 'releaseId' | 'kind' | 'actor' | 'previousReleaseId' | 'startedAt'
>;

/** What serves one service of one environment, as Airlock last switched it. */
export interface ServingRecord {
  environment: string;
  service: string;
  releaseId: string;
  deploymentId: number;
  since: string;
}

export interface StoredCheckResult extends CheckResult {
  deploymentId: number;
  service: string;
  at: string;
}

/**
 * What proved an approver's identity, kept with the approval: an SSH signature over the signed
 * statement (verified against the allowed-signers file at the release's commit), or the claims
 * of a verified GitHub Actions OIDC token.
 */
export type ApprovalEvidence =
  | {
      kind: 'ssh';
      /** The exact statement that was signed (JSON text; see `pipeline/approval-statement.ts`). */
      statement: string;
      /** The armored SSH signature (`-----BEGIN SSH SIGNATURE-----`). */
      signature: string;
      /** The signing key's fingerprint, `SHA256:…` as `ssh-keygen -l` prints it. */
      fingerprint: string;
      /** Who handed the signed approval in (`--import`), when not the signer; null otherwise. */
      submittedBy: string | null;
    }
  | {
      kind: 'oidc';
      issuer: string;
      /** The token's claims Airlock checked and keeps (sub, repository, actor, run_id, …). */
      claims: Record<string, unknown>;
    }
  | {
      /** Given in `airlock serve` by a person signed in with a personal token (`airlock token create`). */
      kind: 'token';
      tokenId: string;
      principal: string;
      /** The request's address. */
      address: string;
    };

export interface Approval {
  id: number;
  environment: string;
  releaseId: string;
  /** Who approved: a verified principal (signed, oidc) or the name Airlock was given (unverified). */
  actor: string;
  decision: 'approved' | 'rejected';
  comment: string | null;
  at: string;
  /** How `actor` was established. Approvals recorded before identities were checked are `unverified`. */
  identity: 'signed' | 'oidc' | 'unverified' | 'token';
  /** The signed statement's nonce (or the token's id): unique, so a signature is used once. */
  nonce: string | null;
  evidence: ApprovalEvidence | null;
}

export type NewApproval = Omit<Approval, 'id'>;

/** A lease on an environment: one deployment per environment at a time (Kamal's deploy lock). */
export interface Lock {
  environment: string;
  /** `run`: held by a running command (a lease, renewed); `manual`: `airlock lock acquire`, until released. */
  kind: 'run' | 'manual';
  token: string;
  /** Fencing token: grows by one on every acquisition. */
  fence: number;
  holder: string;
  runId: number | null;
  pid: number;
  host: string;
  message: string;
  acquiredAt: string;
  expiresAt: string;
}

export interface AcquireLockRequest {
  environment: string;
  /** Default `run`. */
  kind?: 'run' | 'manual';
  token: string;
  holder: string;
  runId: number | null;
  pid: number;
  host: string;
  message: string;
  /** Lease length (ms). */
  ttlMs: number;
  now: Date;
  /** Take over the lock if its current token is this (a holder known to be dead). */
  takeoverToken?: string;
}

export type LockAttempt = { acquired: true; lock: Lock } | { acquired: false; holder: Lock };

/** Proof of holding an environment's lock; writes made under it are refused once it is lost. */
export interface Fence {
  environment: string;
  token: string;
}

/** A command waiting for an environment's lock to promote or deploy a release. */
export interface QueueEntry {
  id: number;
  environment: string;
  releaseId: string;
  releaseSeq: number;
  /** `automatic` entries give way to a newer release; `manual` ones never do. */
  kind: 'automatic' | 'manual';
  actor: string;
  pid: number;
  host: string;
  status: 'waiting' | 'started' | 'superseded' | 'gave-up';
  message: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewQueueEntry = Omit<QueueEntry, 'id' | 'status' | 'message' | 'updatedAt'>;

/** One entry of the audit log; written through `audit()` (`src/state/audit.ts`). */
export interface AuditEvent {
  id: number;
  at: string;
  actor: string;
  /**
   * What happened, dotted: `deployment.succeeded`, `approval.refused`, `run.interrupted` (the
   * list is `AUDIT_ACTIONS`). Stored as text: a row written by an older Airlock may hold one
   * that is no longer listed.
   */
  action: AuditAction;
  environment: string | null;
  releaseId: string | null;
  runId: number | null;
  /** `ok`, `failed`, `errored`, `refused`, `interrupted` or `superseded` (stored as text too). */
  result: AuditResult;
  /** Facts; never secrets. */
  detail: Record<string, unknown>;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

/**
 * The keyed fingerprint of the value last set for one secret by `airlock secret set`
 * (`secrets/fingerprint.ts`): HMAC-SHA256 under a key kept outside the state store. Never a value.
 */
export interface SecretFingerprint {
  environment: string;
  service: string;
  name: string;
  /** Hex HMAC-SHA256 of the value. */
  fingerprint: string;
  /** Identifies the key that made it; fingerprints of different keys are not compared. */
  keyId: string;
  actor: string;
  at: string;
}

/** The result of `airlock ci run` at one commit. */
export interface CiResult {
  id: number;
  commit: string;
  status: 'passed' | 'failed';
  summary: string;
  /** Last lines of output (never secrets: the command's own output). */
  output: string;
  durationMs: number;
  actor: string;
  at: string;
}

/** One probe of one monitored check (`airlock monitor`). */
export interface MonitorSample {
  environment: string;
  service: string;
  check: string;
  ok: boolean;
  /** Wall time of the probe (ms). */
  latencyMs: number;
  /** The pass's time; every sample of one pass has the same. */
  at: string;
  /** One line: why it failed; empty when it passed. */
  message: string;
}

/** An environment's result in one monitor pass: ok when every sample of it passed. */
export interface MonitorPass {
  at: string;
  ok: boolean;
}

/** Uptime and latency of an environment's samples since a time. */
export interface MonitorStats {
  environment: string;
  /** Passes seen. */
  passes: number;
  /** Passes where every check passed. */
  okPasses: number;
  /** 95th percentile of the samples' latency (ms), or null without samples. */
  p95Ms: number | null;
}

/** One failing check of an incident. */
export interface IncidentCheck {
  service: string;
  check: string;
  message: string;
}

/** A red environment seen by the monitor (`cause` `checks`: its monitored checks fail). */
export interface Incident {
  id: number;
  environment: string;
  cause: string;
  status: 'open' | 'resolved';
  /** The first failing pass of the streak. */
  startedAt: string;
  openedAt: string;
  resolvedAt: string | null;
  /** From `startedAt` to the first passing pass of the recovery (ms). */
  durationMs: number | null;
  failing: IncidentCheck[];
  /** The release serving when it opened (one service: its release; several: the first). */
  releaseId: string | null;
  issueNumber: number | null;
  issueUrl: string | null;
}

export type NewIncident = Pick<
  Incident,
  'environment' | 'cause' | 'startedAt' | 'openedAt' | 'failing' | 'releaseId'
>;

/** What a personal token may do in `airlock serve`: read, also approve, also deploy. */
export type TokenRole = 'viewer' | 'approver' | 'deployer';

/** A personal token's record (`airlock token create`); the secret itself is never stored. */
export interface ApiToken {
  /** Public id (`alk_<id>_<secret>` is the whole token). */
  id: string;
  principal: string;
  role: TokenRole;
  /** scrypt(secret, salt), hex. */
  hash: string;
  salt: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** A browser signed in with a token: keyed by the sha256 of its cookie. */
export interface WebSession {
  idHash: string;
  tokenId: string;
  /** The session's CSRF token, carried by every form. */
  csrf: string;
  createdAt: string;
  expiresAt: string;
}

/** How much of each part `readPipelineState` reads. */
export interface PipelineStateLimits {
  /** Newest deployments per environment. */
  deployments: number;
  /** Newest interrupted runs (all environments). */
  runs: number;
  /** Newest open incidents (all environments). */
  incidents: number;
}

/** What serves, and what else the pipeline's page reads, of every environment at once. */
export interface PipelineState {
  /** Every environment's, by environment and service. */
  serving: ServingRecord[];
  /** The newest deployments of each environment asked for, grouped in that order, newest first. */
  deployments: Deployment[];
  /** Held locks of the environments asked for. */
  locks: Lock[];
  /** Interrupted runs, newest first. */
  interrupted: Run[];
  /** Open incidents, newest first. */
  openIncidents: Incident[];
  fingerprints: SecretFingerprint[];
}

/** A run, step, deployment, approval or audit event written (Postgres change notices). */
export interface StateChange {
  table: 'runs' | 'run_steps' | 'deployments' | 'approvals' | 'audit_events';
  /** The run concerned, or null. */
  run: number | null;
  environment: string | null;
}

/** What `StateStore.watchChanges` reports. */
export type ChangeEvent =
  | { kind: 'change'; change: StateChange }
  /** Listening (again): changes from now on are reported; what happened before is not. */
  | { kind: 'listening' }
  /** The listening connection is gone (it is opened again in the background). */
  | { kind: 'lost' };

export interface StateStore {
  close(): Promise<void>;

  /**
   * Postgres only: reports every run, step, deployment, approval and audit event written by any
   * process on the database, as its transaction commits (LISTEN on one connection of its own,
   * opened again after a loss). Resolves once the first attempt to listen is over (a failure is
   * reported as `lost`). Absent on stores where only polling can tell (SQLite, D1).
   */
  watchChanges?(listener: (event: ChangeEvent) => void): Promise<{ close(): Promise<void> }>;

  /**
   * A view of this store whose writes succeed only while `fence` still holds its environment's
   * lock; the check and the write are one transaction, so a process that lost the lock (paused,
   * partitioned) can never write after another took over.
   * @throws UserError `LOCK_LOST` from any write once the lock is lost.
   */
  fenced(fence: Fence): StateStore;
  /** Runs `fn` with every write it makes in one transaction (fenced, when this view is). */
  transaction<T>(fn: (store: StateStore) => Promise<T>): Promise<T>;

  /** Inserts a release, assigning the next `r<seq>` id. */
  insertRelease(release: NewRelease): Promise<Release>;
  /** By id (`r3`), digest prefix or commit prefix (7+ hex chars; newest match). */
  findRelease(ref: string): Promise<Release | undefined>;
  /**
   * The newest release built from exactly this commit (full sha) without uncommitted changes:
   * what a clean build of the commit reuses, even when a dirty build of it came later.
   */
  findCleanRelease(commit: string): Promise<Release | undefined>;
  /** An existing release with exactly this content, commit and dirtiness. */
  findReleaseByContent(
    commit: string,
    digest: string,
    dirty: boolean,
  ): Promise<Release | undefined>;
  listReleases(limit: number): Promise<Release[]>;
  /** Several releases by id, in one query (ids not found are left out). */
  findReleases(ids: string[]): Promise<Release[]>;

  createRun(run: NewRun): Promise<Run>;
  updateRun(
    id: number,
    patch: Partial<Pick<Run, 'status' | 'message' | 'finishedAt' | 'heartbeatAt' | 'releaseId'>>,
  ): Promise<void>;
  getRun(id: number): Promise<Run | undefined>;
  listRuns(filter: { status?: RunStatus; environment?: string; limit: number }): Promise<Run[]>;
  /** Writes a step's current state (insert or replace). */
  saveStep(step: RunStep): Promise<void>;
  listSteps(runId: number): Promise<RunStep[]>;

  createDeployment(deployment: NewDeployment): Promise<Deployment>;
  updateDeployment(
    id: number,
    patch: Partial<
      Pick<Deployment, 'status' | 'switchedAt' | 'finishedAt' | 'checksStatus' | 'message'>
    >,
  ): Promise<void>;
  getDeployment(id: number): Promise<Deployment | undefined>;
  listDeployments(filter: {
    environment?: string;
    releaseId?: string;
    runId?: number;
    limit: number;
  }): Promise<Deployment[]>;

  /**
   * What a page of the whole pipeline reads of every environment at once (see `PipelineState`):
   * one statement on Postgres.
   */
  readPipelineState(environments: string[], limits: PipelineStateLimits): Promise<PipelineState>;
  /**
   * The newest `perEnvironment` deployments of each of `environments`, in one query: grouped by
   * environment in the order given, newest first in each.
   */
  listRecentDeployments(environments: string[], perEnvironment: number): Promise<Deployment[]>;

  setServing(record: ServingRecord): Promise<void>;
  /**
   * What serves in an environment, one record per service; without an environment, what serves
   * in every environment (one query).
   */
  getServing(environment?: string): Promise<ServingRecord[]>;

  recordCheckResults(results: StoredCheckResult[]): Promise<void>;
  listCheckResults(deploymentId: number): Promise<StoredCheckResult[]>;

  addApproval(approval: NewApproval): Promise<Approval>;
  listApprovals(environment: string, releaseId: string): Promise<Approval[]>;
  /** True when an approval carrying this nonce is already recorded (a replayed signature or token). */
  approvalNonceUsed(nonce: string): Promise<boolean>;

  /** Atomically takes the lock if it is free, expired, or held by `takeoverToken`. */
  acquireLock(request: AcquireLockRequest): Promise<LockAttempt>;
  /** Extends the lease; false when the token no longer holds it. */
  renewLock(environment: string, token: string, ttlMs: number, now: Date): Promise<boolean>;
  /** Frees the lock; false when the token no longer holds it. */
  releaseLock(environment: string, token: string): Promise<boolean>;
  /** The lock row (held or expired), or undefined when never taken or released. */
  getLock(environment: string): Promise<Lock | undefined>;
  /** The held locks of these environments (one query). */
  getLocks(environments: string[]): Promise<Lock[]>;

  /**
   * Joins the queue for an environment. A new `automatic` entry supersedes the `waiting`
   * automatic entries of older releases in that environment; `manual` entries are never
   * superseded. @returns the entry and the entries it superseded.
   */
  enqueue(
    entry: NewQueueEntry,
    now: Date,
  ): Promise<{ entry: QueueEntry; superseded: QueueEntry[] }>;
  getQueueEntry(id: number): Promise<QueueEntry | undefined>;
  /** Moves an entry on; a `waiting` entry's status changes only if it is still `waiting`. */
  updateQueueEntry(
    id: number,
    status: QueueEntry['status'],
    message: string | null,
    now: Date,
  ): Promise<boolean>;
  listQueue(environment: string, status?: QueueEntry['status']): Promise<QueueEntry[]>;

  recordCiResult(result: Omit<CiResult, 'id'>): Promise<CiResult>;
  /** The newest CI result of a commit (full SHA). */
  latestCiResult(commit: string): Promise<CiResult | undefined>;

  /** Records (or replaces) the fingerprint of one secret of one environment and service. */
  recordSecretFingerprint(fingerprint: SecretFingerprint): Promise<void>;
  /** Every recorded fingerprint, by environment, service and name. */
  listSecretFingerprints(): Promise<SecretFingerprint[]>;

  /**
   * Appends an event to the hash chain (`audit-chain.ts`): next id, `prev_hash` from the head
   * row, the head moved to it, all in one transaction (concurrent appends queue on the head).
   */
  appendAudit(event: NewAuditEvent): Promise<AuditEvent>;
  /**
   * Appends `audit.accepted`: chained on the last stored event (not the head, which may name
   * removed events), and clears the head's `broken_at`, so gates hold again. Its detail's `from`
   * is the first problem it accepts.
   */
  acceptAudit(event: NewAuditEvent): Promise<AuditEvent>;
  /** The chain's head row (last chained event, its hash), or undefined when it is missing. */
  auditHead(): Promise<AuditHead | undefined>;
  /** Checks the chain: the whole log, or with `tail` only the newest `tail` events and the head. */
  verifyAudit(options?: { tail?: number }): Promise<AuditVerification>;
  /**
   * The audit log's guard triggers that are missing or disabled. SQLite recreates them when it
   * opens (so none); Postgres recreates them on open when the connected role owns the tables.
   */
  missingAuditGuards(): Promise<string[]>;
  /** Records on the head that the log is altered at `id`; every gate fails until accepted. */
  markAuditBroken(id: number, reason: string): Promise<boolean>;
  /** Records one monitor pass's samples. */
  recordMonitorSamples(samples: MonitorSample[]): Promise<void>;
  /** An environment's newest `limit` passes, newest first. */
  recentMonitorPasses(environment: string, limit: number): Promise<MonitorPass[]>;
  /** Per environment: passes, passing passes and p95 latency of the samples at or after `since`. */
  monitorStats(since: string): Promise<MonitorStats[]>;
  /** Deletes samples older than `before`; @returns how many. */
  compactMonitorSamples(before: string): Promise<number>;
  /**
   * Opens an incident unless one is open for the same environment and cause (a unique index
   * decides between racing monitors). @returns the new incident, or undefined when one was open.
   */
  openIncident(incident: NewIncident): Promise<Incident | undefined>;
  updateIncident(
    id: number,
    patch: Partial<Pick<Incident, 'failing' | 'issueNumber' | 'issueUrl'>>,
  ): Promise<void>;
  /** Resolves an open incident; false when it was not open (another monitor resolved it). */
  resolveIncident(id: number, resolvedAt: string, durationMs: number): Promise<boolean>;
  getIncident(id: number): Promise<Incident | undefined>;
  /** Newest first. */
  listIncidents(filter: {
    environment?: string;
    status?: Incident['status'];
    limit: number;
  }): Promise<Incident[]>;

  /** Newest first. `steps: false` leaves out each step's own events (`step.*`). */
  listAudit(filter: {
    environment?: string;
    limit: number;
    beforeId?: number;
    steps?: boolean;
  }): Promise<AuditEvent[]>;

  /** Records a token (its hash). */
  insertToken(token: ApiToken): Promise<void>;
  getToken(id: string): Promise<ApiToken | undefined>;
  /** Every token, newest first (revoked and expired too). */
  listTokens(): Promise<ApiToken[]>;
  /** Revokes a token and ends its sessions; false when unknown or already revoked. */
  revokeToken(id: string, at: string): Promise<boolean>;
  createSession(session: WebSession): Promise<void>;
  getSession(idHash: string): Promise<WebSession | undefined>;
  /** A session and its token in one query (undefined when either is missing). */
  getSessionWithToken(
    idHash: string,
  ): Promise<{ session: WebSession; token: ApiToken } | undefined>;
  deleteSession(idHash: string): Promise<void>;
}
