/**
 * The state store's own tables and its schema migrations (run by Kysely's `Migrator` every time
 * a store opens). Written with Kysely's schema builder so the same migrations serve SQLite and
 * Postgres. Never edit a shipped migration; add the next one.
 */
import { type Generated, type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import {
  AUDIT_GENESIS,
  POSTGRES_AUDIT_GUARDS,
  postgresGuardStatements,
  SQLITE_AUDIT_GUARDS,
} from './audit-guards.ts';

export interface ReleasesTable {
  id: string;
  seq: number;
  digest: string;
  commit_sha: string;
  dirty: number;
  subject: string;
  created_at: string;
  created_by: string;
  build_ms: number;
  /** JSON: Record<service, ReleaseArtifact>. */
  services: string;
}

export interface RunsTable {
  id: Generated<number>;
  /** The interrupted run this one resumed, if any. */
  resumed_from: number | null;
  kind: string;
  environment: string;
  release_id: string | null;
  status: string;
  actor: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
  finished_at: string | null;
  message: string | null;
}

export interface RunStepsTable {
  run_id: number;
  idx: number;
  name: string;
  title: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  message: string | null;
  output: string | null;
}

export interface DeploymentsTable {
  id: Generated<number>;
  run_id: number | null;
  environment: string;
  release_id: string;
  kind: string;
  status: string;
  actor: string;
  previous_release_id: string | null;
  started_at: string;
  switched_at: string | null;
  finished_at: string | null;
  checks_status: string | null;
  message: string | null;
}

export interface ServingTable {
  environment: string;
  service: string;
  release_id: string;
  deployment_id: number;
  since: string;
}

export interface CheckResultsTable {
  id: Generated<number>;
  deployment_id: number;
  service: string;
  name: string;
  type: string;
  status: string;
  duration_ms: number;
  attempts: number;
  message: string;
  details: string;
  at: string;
}

export interface ApprovalsTable {
  id: Generated<number>;
  environment: string;
  release_id: string;
  actor: string;
  decision: string;
  comment: string | null;
  at: string;
  /** `signed`, `oidc` or `unverified` (0004). */
  identity: Generated<string>;
  /** Unique when set: a signed statement's nonce or a token's id (0004). */
  nonce: string | null;
  /** JSON `ApprovalEvidence`, or null (0004). */
  evidence: string | null;
}

export interface LocksTable {
  environment: string;
  /** `run`: held by a running command; `manual`: taken with `airlock lock acquire`. */
  kind: string;
  token: string;
  fence: number;
  holder: string;
  run_id: number | null;
  pid: number;
  host: string;
  message: string;
  acquired_at: string;
  expires_at: string;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  environment: string | null;
  release_id: string | null;
  run_id: number | null;
  result: string;
  detail: string;
  /** The previous event's `hash` (64 zeros at a segment's start); null before the chain existed. */
  prev_hash: Generated<string | null>;
  /** sha256 of `prev_hash` and this event's canonical content (`audit-chain.ts`). */
  hash: Generated<string | null>;
}

/**
 * The chain's head, one row (`id` 1), kept apart from the events and written in the same
 * transaction as each append: the last chained event and its hash. A removed tail shows as a
 * head that names an event the log no longer ends with.
 */
export interface AuditHeadTable {
  id: number;
  /** Id of the last chained event (0: none yet). */
  seq: number;
  /** Its hash (64 zeros: none yet). */
  hash: string;
  /** First event id the chain covers: events before it were written before the chain existed. */
  chain_start: number;
  /** Set when a problem was found (by `airlock audit verify`, or a head found missing): the first bad event id, until `airlock audit accept`. */
  broken_at: number | null;
  /** Why `broken_at` is set, one sentence. */
  broken_reason: string | null;
}

export interface QueueTable {
  id: Generated<number>;
  environment: string;
  release_id: string;
  release_seq: number;
  /** `automatic` entries are superseded by a newer release; `manual` ones never. */
  kind: string;
  actor: string;
  pid: number;
  host: string;
  /** `waiting`, `started`, `superseded`, `gave-up`. */
  status: string;
  message: string | null;
  created_at: string;
  updated_at: string;
}

export interface CiResultsTable {
  id: Generated<number>;
  commit_sha: string;
  /** `passed` or `failed`. */
  status: string;
  summary: string;
  /** Last lines of output. */
  output: string;
  duration_ms: number;
  actor: string;
  at: string;
}

/** The keyed fingerprint of the value last set for one secret (`airlock secret set`); never a value. */
export interface SecretFingerprintsTable {
  environment: string;
  service: string;
  name: string;
  /** HMAC-SHA256 of the value, hex, under the fingerprint key (kept outside this database). */
  fingerprint: string;
  /** Which key made it (a hash of the key), so fingerprints made with different keys are never compared. */
  key_id: string;
  actor: string;
  at: string;
}

/** One probe of one monitored check by `airlock monitor` (0007). */
export interface MonitorSamplesTable {
  id: Generated<number>;
  environment: string;
  service: string;
  check_name: string;
  /** 1 passed, 0 failed. */
  ok: number;
  /** The probe's wall time (ms). */
  latency_ms: number;
  /** The pass's time: every sample of one pass carries the same `at`. */
  at: string;
  message: string;
}

/** A red environment seen by the monitor (0007). */
export interface IncidentsTable {
  id: Generated<number>;
  environment: string;
  /** What is red: `checks` (the environment's monitored checks). */
  cause: string;
  /** `open` or `resolved`. */
  status: string;
  /** The first failing pass of the streak that opened it. */
  started_at: string;
  opened_at: string;
  resolved_at: string | null;
  duration_ms: number | null;
  /** JSON: Array<{ service, check, message }>, as last seen. */
  failing: string;
  release_id: string | null;
  issue_number: number | null;
  issue_url: string | null;
  /** 1 while open (unique with environment and cause), null once resolved. */
  open_key: number | null;
}

/** A personal token for the dashboard and API (`airlock token create`), stored hashed (0008). */
export interface TokensTable {
  /** Public id: the part of the token before the secret (`alk_<id>_<secret>`). */
  id: string;
  /** A principal of the allowed-signers file. */
  principal: string;
  /** `viewer`, `approver` or `deployer`. */
  role: string;
  /** scrypt of the secret, hex; `salt` hex. */
  hash: string;
  salt: string;
  created_at: string;
  created_by: string;
  expires_at: string;
  revoked_at: string | null;
}

/** A signed-in browser (0008): the cookie's sha256 (never the cookie), its token and CSRF secret. */
export interface SessionsTable {
  id_hash: string;
  token_id: string;
  csrf: string;
  created_at: string;
  expires_at: string;
}

export interface StateDatabase {
  tokens: TokensTable;
  sessions: SessionsTable;
  monitor_samples: MonitorSamplesTable;
  incidents: IncidentsTable;
  queue: QueueTable;
  secret_fingerprints: SecretFingerprintsTable;
  ci_results: CiResultsTable;
  releases: ReleasesTable;
  runs: RunsTable;
  run_steps: RunStepsTable;
  deployments: DeploymentsTable;
  serving: ServingTable;
  check_results: CheckResultsTable;
  approvals: ApprovalsTable;
  locks: LocksTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
}

export type Dialect = 'sqlite' | 'postgres';

/** Auto-incrementing integer primary key, per dialect. */
function serial(dialect: Dialect) {
  return dialect === 'postgres' ? ('bigserial' as const) : ('integer' as const);
}

/** `"airlock".name` on Postgres (raw SQL is not schema-qualified by Kysely), `name` on SQLite. */
function qualified(dialect: Dialect, schema: string, name: string) {
  return dialect === 'postgres' ? sql.id(schema, name) : sql.id(name);
}

function initial(dialect: Dialect, schema: string): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const pk = serial(dialect);
      const autoinc = <T extends { primaryKey(): T; autoIncrement(): T }>(c: T) =>
        dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey();

      await db.schema
        .createTable('releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seq', 'integer', (c) => c.notNull().unique())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('dirty', 'integer', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('build_ms', 'integer', (c) => c.notNull())
        .addColumn('services', 'text', (c) => c.notNull())
        .addUniqueConstraint('releases_content', ['commit_sha', 'digest', 'dirty'])
        .execute();

      await db.schema
        .createTable('runs')
        .addColumn('id', pk, autoinc)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('heartbeat_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addColumn('message', 'text')
        .execute();
      await db.schema.createIndex('runs_status').on('runs').columns(['status']).execute();

      await db.schema
        .createTable('run_steps')
        .addColumn('run_id', 'integer', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('duration_ms', 'integer')
        .addColumn('message', 'text')
        .addColumn('output', 'text')
        .addPrimaryKeyConstraint('run_steps_pk', ['run_id', 'idx'])
        .execute();

      await db.schema
        .createTable('deployments')
        .addColumn('id', pk, autoinc)
        .addColumn('run_id', 'integer')
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('previous_release_id', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('switched_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('checks_status', 'text')
        .addColumn('message', 'text')
        .execute();
      await db.schema
        .createIndex('deployments_env')
        .on('deployments')
        .columns(['environment', 'id'])
        .execute();
      await db.schema
        .createIndex('deployments_release')
        .on('deployments')
        .columns(['release_id'])
        .execute();

      await db.schema
        .createTable('serving')
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('since', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('serving_pk', ['environment', 'service'])
        .execute();

      await db.schema
        .createTable('check_results')
        .addColumn('id', pk, autoinc)
        .addColumn('deployment_id', 'integer', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('check_results_deployment')
        .on('check_results')
        .columns(['deployment_id'])
        .execute();

      await db.schema
        .createTable('approvals')
        .addColumn('id', pk, autoinc)
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('decision', 'text', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('approvals_env_release')
        .on('approvals')
        .columns(['environment', 'release_id'])
        .execute();

      await db.schema
        .createTable('locks')
        .addColumn('environment', 'text', (c) => c.primaryKey())
        .addColumn('token', 'text', (c) => c.notNull())
        .addColumn('fence', 'integer', (c) => c.notNull())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('run_id', 'integer')
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('acquired_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('id', pk, autoinc)
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('environment', 'text')
        .addColumn('release_id', 'text')
        .addColumn('run_id', 'integer')
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_events_env')
        .on('audit_events')
        .columns(['environment', 'id'])
        .execute();

      // The audit log is append-only: the database itself refuses edits.
      if (dialect === 'sqlite') {
        await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
        await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
          BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END`.execute(db);
      } else {
        const fn = qualified(dialect, schema, 'audit_append_only');
        await sql`CREATE FUNCTION ${fn}() RETURNS trigger AS $$
          BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql`.execute(
          db,
        );
        await sql`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON ${qualified(dialect, schema, 'audit_events')}
          FOR EACH ROW EXECUTE FUNCTION ${fn}()`.execute(db);
      }
    },
  };
}

/** Team mode: manual locks, the promotion queue, and resumed runs. */
function teamMode(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const pk = serial(dialect);
      const autoinc = <T extends { primaryKey(): T; autoIncrement(): T }>(c: T) =>
        dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey();
      await db.schema
        .alterTable('locks')
        .addColumn('kind', 'text', (c) => c.notNull().defaultTo('run'))
        .execute();
      await db.schema.alterTable('runs').addColumn('resumed_from', 'integer').execute();
      await db.schema
        .createTable('queue')
        .addColumn('id', pk, autoinc)
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text', (c) => c.notNull())
        .addColumn('release_seq', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('host', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('queue_env_status')
        .on('queue')
        .columns(['environment', 'status'])
        .execute();
    },
  };
}

/** `airlock ci run` results, by commit (the `ci` gate's `command` mode). */
function ciResults(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const autoinc = <T extends { primaryKey(): T; autoIncrement(): T }>(c: T) =>
        dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey();
      await db.schema
        .createTable('ci_results')
        .addColumn('id', serial(dialect), autoinc)
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('output', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('ci_results_commit')
        .on('ci_results')
        .columns(['commit_sha', 'id'])
        .execute();
    },
  };
}

/**
 * What proved an approver's identity: how (`identity`), the evidence (signature and statement,
 * or token claims) and the nonce, unique so one signature or token records one approval.
 */
function approvalEvidence(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('approvals')
        .addColumn('identity', 'text', (c) => c.notNull().defaultTo('unverified'))
        .execute();
      await db.schema.alterTable('approvals').addColumn('nonce', 'text').execute();
      await db.schema.alterTable('approvals').addColumn('evidence', 'text').execute();
      await db.schema
        .createIndex('approvals_nonce')
        .on('approvals')
        .column('nonce')
        .unique()
        .execute();
    },
  };
}

/**
 * The hash chain over the audit log (see `audit-chain.ts`): two columns on every event, the
 * head row, and the guards against wiping (Postgres: TRUNCATE triggers; all triggers fire also
 * under `session_replication_role = replica`). Events written before this migration stay as
 * they are, unchained: the chain starts with the first event written after it.
 */
function auditChain(dialect: Dialect, schema: string): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('audit_events').addColumn('prev_hash', 'text').execute();
      await db.schema.alterTable('audit_events').addColumn('hash', 'text').execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('chain_start', 'bigint', (c) => c.notNull())
        .addColumn('broken_at', 'bigint')
        .addColumn('broken_reason', 'text')
        .execute();
      const events = qualified(dialect, schema, 'audit_events');
      const head = qualified(dialect, schema, 'audit_head');
      // The chain starts after the last event written so far (a segment start).
      await sql`INSERT INTO ${head} (id, seq, hash, chain_start)
        SELECT 1, coalesce(max(id), 0), ${AUDIT_GENESIS}, coalesce(max(id), 0) + 1 FROM ${events}`.execute(
        db,
      );
      if (dialect === 'sqlite') {
        for (const ddl of Object.values(SQLITE_AUDIT_GUARDS)) await sql.raw(ddl).execute(db);
        return;
      }
      const refuse = qualified(dialect, schema, 'audit_refuse_wipe');
      await sql`CREATE FUNCTION ${refuse}() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql`.execute(db);
      for (const name of Object.keys(POSTGRES_AUDIT_GUARDS))
        for (const statement of postgresGuardStatements(schema, name))
          await sql.raw(statement).execute(db);
    },
  };
}

/** Keyed fingerprints of secret values, one row per (environment, service, name). */
function secretFingerprints(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('secret_fingerprints')
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('secret_fingerprints_pk', ['environment', 'service', 'name'])
        .execute();
    },
  };
}

/**
 * The monitor: a sample per probed check and pass, and incidents. `open_key` is 1 while an
 * incident is open, so the unique index allows one open incident per environment and cause
 * (two monitors racing cannot both open one); resolved rows set it to null.
 */
function monitor(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const autoinc = <T extends { primaryKey(): T; autoIncrement(): T }>(c: T) =>
        dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey();
      await db.schema
        .createTable('monitor_samples')
        .addColumn('id', serial(dialect), autoinc)
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('check_name', 'text', (c) => c.notNull())
        .addColumn('ok', 'integer', (c) => c.notNull())
        .addColumn('latency_ms', 'integer', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('monitor_samples_env_at')
        .on('monitor_samples')
        .columns(['environment', 'at'])
        .execute();
      await db.schema
        .createTable('incidents')
        .addColumn('id', serial(dialect), autoinc)
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('cause', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('opened_at', 'text', (c) => c.notNull())
        .addColumn('resolved_at', 'text')
        .addColumn('duration_ms', 'bigint')
        .addColumn('failing', 'text', (c) => c.notNull())
        .addColumn('release_id', 'text')
        .addColumn('issue_number', 'bigint')
        .addColumn('issue_url', 'text')
        .addColumn('open_key', 'integer')
        .addUniqueConstraint('incidents_one_open', ['environment', 'cause', 'open_key'])
        .execute();
    },
  };
}

/** Personal tokens for `airlock serve` and the browser sessions signed in with them. */
function tokens(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('principal', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('salt', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('token_id', 'text', (c) => c.notNull())
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}

/** The channel Postgres notifies on when a run, a step, a deployment, an approval or an audit event is written. */
export const CHANGES_CHANNEL = 'airlock_changes';

/** What a change notification carries (JSON): enough for a listener to know whom it concerns. */
export interface ChangeNotice {
  /** The state schema written (several projects may share a database). */
  schema: string;
  table: 'runs' | 'run_steps' | 'deployments' | 'approvals' | 'audit_events';
  /** The run concerned (runs, run_steps, deployments of a run), or null. */
  run: number | null;
  environment: string | null;
}

/** Tables that notify, and how: per row (the run and environment known), or per statement. */
const NOTIFYING: Array<[ChangeNotice['table'], 'ROW' | 'STATEMENT']> = [
  ['runs', 'ROW'],
  ['run_steps', 'ROW'],
  ['deployments', 'ROW'],
  ['approvals', 'ROW'],
  // Audit events arrive in bulk (an import, a backfill): one notice per statement.
  ['audit_events', 'STATEMENT'],
];

/**
 * What `airlock serve` reads often: an environment's newest run (its live page, on every
 * change) and the open incidents get indexes, as the runs and incidents of years pile up.
 * Postgres: writes notify `CHANGES_CHANNEL` (a `ChangeNotice`) from triggers, so the notice is
 * part of the writing transaction (sent at its commit, never for a rollback) whoever writes:
 * live pages of every server on the database follow runs without polling. SQLite: no notices
 * (one machine; its servers poll).
 */
function livePages(dialect: Dialect, schema: string): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('runs_env').on('runs').columns(['environment', 'id']).execute();
      await db.schema
        .createIndex('incidents_status')
        .on('incidents')
        .columns(['status', 'id'])
        .execute();
      if (dialect !== 'postgres') return;
      const fn = qualified(dialect, schema, 'notify_change');
      await sql`CREATE FUNCTION ${fn}() RETURNS trigger AS $$
        DECLARE r jsonb := CASE WHEN TG_LEVEL = 'ROW' THEN to_jsonb(NEW) ELSE '{}'::jsonb END;
        BEGIN
          PERFORM pg_notify(${sql.lit(CHANGES_CHANNEL)}, json_build_object(
            'schema', TG_TABLE_SCHEMA,
            'table', TG_TABLE_NAME,
            'run', CASE WHEN TG_TABLE_NAME = 'runs' THEN r->>'id' ELSE r->>'run_id' END,
            'environment', r->>'environment')::text);
          RETURN NULL;
        END $$ LANGUAGE plpgsql`.execute(db);
      for (const [table, level] of NOTIFYING) {
        const events = table === 'audit_events' ? sql`INSERT` : sql`INSERT OR UPDATE`;
        await sql`CREATE TRIGGER ${sql.id(`${table}_notify`)} AFTER ${events}
          ON ${qualified(dialect, schema, table)} FOR EACH ${sql.raw(level)}
          EXECUTE FUNCTION ${fn}()`.execute(db);
      }
    },
  };
}

function migrationsFor(dialect: Dialect, schema: string): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect, schema),
    '0002_team_mode': teamMode(dialect),
    '0003_ci_results': ciResults(dialect),
    '0004_approval_evidence': approvalEvidence(),
    '0005_audit_chain': auditChain(dialect, schema),
    '0006_secret_fingerprints': secretFingerprints(),
    '0007_monitor': monitor(dialect),
    '0008_tokens': tokens(),
    '0009_live_pages': livePages(dialect, schema),
  };
}

/** The store's schema migrations, in order. Names sort lexically. */
export function stateMigrations(dialect: Dialect, schema = 'airlock'): MigrationProvider {
  return {
    async getMigrations() {
      return migrationsFor(dialect, schema);
    },
  };
}

/** Version of the newest schema (the number of migrations); SQLite keeps it in `user_version`. */
export const STATE_SCHEMA_VERSION = Object.keys(migrationsFor('sqlite', 'main')).length;

/** Postgres schema holding Airlock's state tables. */
export const STATE_SCHEMA = 'airlock';

/** Table Kysely's Migrator keeps its own ledger in. */
export const STATE_MIGRATION_TABLE = 'airlock_state_migrations';
export const STATE_MIGRATION_LOCK_TABLE = 'airlock_state_migrations_lock';
