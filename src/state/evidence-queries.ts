/**
 * What the gates weigh, in the state store: check results per deployment, approvals per
 * (environment, release), and CI results per commit.
 *
 * Each function implements the `StateStore` method of the same name (documented in
 * `state-store.ts`), reading and writing through the store view's {@link StoreAccess}.
 */
import type { CheckResult } from '../checks/check.ts';
import type {
  Approval,
  ApprovalEvidence,
  CiResult,
  NewApproval,
  SecretFingerprint,
  StoredCheckResult,
} from './state-store.ts';
import { json, parse, type Row, type StoreAccess } from './store-access.ts';

export async function recordCheckResults(
  access: StoreAccess,
  results: StoredCheckResult[],
): Promise<void> {
  if (results.length === 0) return;
  await access.write((db) =>
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

export async function listCheckResults(
  access: StoreAccess,
  deploymentId: number,
): Promise<StoredCheckResult[]> {
  const rows = await access.db
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

export async function addApproval(access: StoreAccess, a: NewApproval): Promise<Approval> {
  const row = await access.write((db) =>
    db
      .insertInto('approvals')
      .values({
        environment: a.environment,
        release_id: a.releaseId,
        actor: a.actor,
        decision: a.decision,
        comment: a.comment,
        at: a.at,
        identity: a.identity,
        nonce: a.nonce,
        evidence: a.evidence ? JSON.stringify(a.evidence) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return { ...a, id: Number(row.id) };
}

export async function listApprovals(
  access: StoreAccess,
  environment: string,
  releaseId: string,
): Promise<Approval[]> {
  const rows = await access.db
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
    identity: r.identity as Approval['identity'],
    nonce: r.nonce,
    evidence: r.evidence ? (JSON.parse(r.evidence) as ApprovalEvidence) : null,
  }));
}

/** True when an approval with this nonce is recorded (a signature or token already used). */
export async function approvalNonceUsed(access: StoreAccess, nonce: string): Promise<boolean> {
  const row = await access.db
    .selectFrom('approvals')
    .select('id')
    .where('nonce', '=', nonce)
    .executeTakeFirst();
  return row !== undefined;
}

export async function recordCiResult(
  access: StoreAccess,
  r: Omit<CiResult, 'id'>,
): Promise<CiResult> {
  const row = await access.write((db) =>
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

export async function latestCiResult(
  access: StoreAccess,
  commit: string,
): Promise<CiResult | undefined> {
  const r = await access.db
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

export async function recordSecretFingerprint(
  access: StoreAccess,
  f: SecretFingerprint,
): Promise<void> {
  const row = {
    environment: f.environment,
    service: f.service,
    name: f.name,
    fingerprint: f.fingerprint,
    key_id: f.keyId,
    actor: f.actor,
    at: f.at,
  };
  await access.write((db) =>
    db
      .insertInto('secret_fingerprints')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['environment', 'service', 'name']).doUpdateSet({
          fingerprint: row.fingerprint,
          key_id: row.key_id,
          actor: row.actor,
          at: row.at,
        }),
      )
      .execute(),
  );
}

/** The query of `listSecretFingerprints`. */
export function fingerprintsQuery(access: StoreAccess) {
  return access.db
    .selectFrom('secret_fingerprints')
    .selectAll()
    .orderBy('environment')
    .orderBy('service')
    .orderBy('name');
}

export function toFingerprint(r: Row<'secret_fingerprints'>): SecretFingerprint {
  return {
    environment: r.environment,
    service: r.service,
    name: r.name,
    fingerprint: r.fingerprint,
    keyId: r.key_id,
    actor: r.actor,
    at: r.at,
  };
}

export async function listSecretFingerprints(access: StoreAccess): Promise<SecretFingerprint[]> {
  return (await fingerprintsQuery(access).execute()).map(toFingerprint);
}
