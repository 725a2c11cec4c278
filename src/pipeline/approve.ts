/**
 * Approvals: who let a release into an environment. Recorded per (environment, release); the
 * approval gate counts distinct people. Whoever deployed the release cannot approve its
 * promotion unless the environment allows self-approval (GitHub Environments: prevent
 * self-review, on by default). Who approves is what the environment's `approval.identity`
 * accepts as proof: an SSH signature (the signer's principal in the allowed-signers file at the
 * release's commit), a GitHub Actions OIDC token (its `actor`), or, under `any`, the name given.
 */

import { environmentNamed } from '../config/environments.ts';
import type { ResolvedConfig, ResolvedEnvironment } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { parseAllowedSigners } from '../identity/allowed-signers.ts';
import {
  parseStatement,
  type SignedApproval,
  statementText,
} from '../identity/approval-statement.ts';
import {
  OidcTokenError,
  type VerifiedOidcToken,
  verifyGithubOidcToken,
} from '../identity/github-oidc.ts';
import { signStatement } from '../identity/ssh-sign.ts';
import {
  ApprovalSignatureError,
  type VerifiedSignature,
  verifySignedApproval,
} from '../identity/verify-approval.ts';
import { audit } from '../state/audit.ts';
import type { Approval, ApprovalEvidence, Release } from '../state/state-store.ts';
import { allowedSignersAt, allowedSignersHint } from './approval-identity.ts';
import { gatePolicy } from './committed-policy.ts';
import type { AirlockContext } from './context.ts';
import { promotionCandidate, releaseNamed } from './decide.ts';
import { deployersOf, rolledBackFrom } from './facts.ts';

export interface ApproveRequest {
  environment: string;
  /** Default: the release a promotion would take (serving on the previous environment). */
  release?: string;
  decision: 'approved' | 'rejected';
  comment?: string;
  /** What proves who approves; none: the name Airlock is given (`any` environments only). */
  proof?: ApprovalProof;
}

/**
 * `sign`: sign a fresh statement with this SSH key now; `ssh`: a statement signed elsewhere
 * (`--import`: the signer is the approver, `submittedBy` only hands it in; its decision,
 * reason and release are the statement's); `oidc`: a GitHub Actions OIDC token.
 */
export type ApprovalProof =
  | { kind: 'sign'; key: string }
  | { kind: 'ssh'; signed: SignedApproval; submittedBy: string }
  | { kind: 'oidc'; token: string }
  /** A person signed in to `airlock serve` with a personal token bound to `principal`. */
  | { kind: 'token'; tokenId: string; principal: string; address: string };

export interface ApproveResult {
  approval: Approval;
  release: Release;
  /** True when this person had already recorded the same decision. */
  repeated: boolean;
}

/** Who approves, as proven, and what to keep with the approval. */
interface Approver {
  actor: string;
  identity: Approval['identity'];
  nonce: string | null;
  evidence: ApprovalEvidence | null;
  /** What the audit event says about the proof. */
  audit: Record<string, unknown>;
}

/**
 * Makes a signed approval without the state store (`airlock approve --output`): the statement
 * for `release` (its id and digest, as `airlock releases --json` shows them), signed with `key`.
 * @throws UserError `SIGNING_FAILED`, `APPROVAL_NOT_ALLOWED`, `UNKNOWN_ENVIRONMENT`.
 */
export async function signApproval(
  config: ResolvedConfig,
  request: {
    environment: string;
    release: string;
    digest: string;
    decision: 'approved' | 'rejected';
    comment?: string;
    key: string;
    now: Date;
  },
): Promise<SignedApproval> {
  const env = environmentNamed(config, request.environment);
  if (!env.previous) throw firstEnvironment(config, env.name);
  const statement = statementText({
    project: config.project,
    environment: env.name,
    release: request.release,
    digest: request.digest.replace(/^sha256:/, ''),
    decision: request.decision,
    reason: request.comment ?? null,
    time: request.now.toISOString(),
  });
  return { statement, signature: await signStatement(statement, request.key, { cwd: config.dir }) };
}

function firstEnvironment(config: ResolvedConfig, name: string): UserError {
  return new UserError(
    'APPROVAL_NOT_ALLOWED',
    `${name} is the first environment; releases are deployed into it without approval.`,
    {
      hint: `Approvals gate promotions: approve a later environment, e.g. \`airlock approve ${config.pipeline[1] ?? '<env>'}\`.`,
    },
  );
}

/**
 * Records an approval or a rejection, with what proves who gave it (see `ApprovalProof` and the
 * environment's `approval.identity`).
 * @throws UserError `SELF_APPROVAL` and `NOT_AN_APPROVER`, `APPROVAL_IDENTITY_REQUIRED`,
 *   `SIGNATURE_REFUSED`, `OIDC_TOKEN_REFUSED` (each audited as `approval.refused` with its
 *   reason), `SIGNING_FAILED`, `APPROVAL_NOT_ALLOWED` for the first environment,
 *   `RELEASE_NOT_FOUND`, `NOTHING_TO_PROMOTE`, `UNKNOWN_ENVIRONMENT`.
 */
export async function recordApproval(
  ctx: AirlockContext,
  request: ApproveRequest,
): Promise<ApproveResult> {
  const configured = environmentNamed(ctx.config, request.environment);
  if (!configured.previous) throw firstEnvironment(ctx.config, configured.name);
  let proof = request.proof;
  let decision = request.decision;
  let comment = request.comment ?? null;
  let releaseName = request.release;
  if (proof?.kind === 'ssh') {
    // The signed statement names the release, the decision and the reason.
    try {
      const s = parseStatement(proof.signed.statement);
      releaseName ??= s.release;
      decision = s.decision;
      comment = s.reason;
    } catch {
      // verifyProof refuses it below, on the record.
    }
  }
  const release = releaseName
    ? await releaseNamed(ctx, releaseName)
    : await promotionCandidate(ctx, configured);
  // Held to the policy the gate will use: the stricter of airlock.yaml's and its commit's.
  const env = (await gatePolicy(ctx, configured, release)).environment;
  const at = ctx.now().toISOString();
  /** A refused approval is on the record too (who tried, and why it did not count). */
  const refused = (detail: Record<string, unknown>) =>
    audit(ctx, 'approval.refused', {
      at,
      environment: env.name,
      releaseId: release.id,
      result: 'refused',
      detail: { decision, ...detail },
    });
  if (proof?.kind === 'sign') {
    const signed = await signApproval(ctx.config, {
      environment: env.name,
      release: release.id,
      digest: release.digest,
      decision,
      ...(comment ? { comment } : {}),
      key: proof.key,
      now: ctx.now(),
    });
    proof = { kind: 'ssh', signed, submittedBy: ctx.actor };
  }
  const approver = await proveApprover(ctx, env, release, proof, refused);
  const actor = approver.actor;
  const deployers = await deployersOf(ctx, env.name, release.id);
  const approvers = env.promotion.approval.approvers;
  if (approvers && !approvers.includes(actor)) {
    await refused({ reason: 'not-an-approver', actor, approvers, ...approver.audit });
    throw new UserError(
      'NOT_AN_APPROVER',
      `${actor} is not among ${env.name}'s approvers (${approvers.join(', ')}).`,
      {
        hint: `Ask one of them to run \`airlock approve ${env.name} --release ${release.id}\`, or add ${actor} to environments.${env.name}.promotion.approval.approvers.`,
        details: { actor, approvers },
      },
    );
  }
  if (
    decision === 'approved' &&
    deployers.includes(actor) &&
    !env.promotion.approval.allowSelfApproval
  ) {
    await refused({ reason: 'self-approval', actor, deployers, ...approver.audit });
    throw new UserError(
      'SELF_APPROVAL',
      `${actor} deployed ${release.id} to ${env.previous} and cannot approve its promotion to ${env.name} (prevent self-review).`,
      {
        hint: `Ask someone else to run \`airlock approve ${env.name} --release ${release.id}\`, or set environments.${env.name}.promotion.approval.allowSelfApproval: true in airlock.yaml and commit it (a release is held to the policy at its own commit too).`,
        details: { actor, deployers },
      },
    );
  }
  const earlier = (await ctx.store.listApprovals(env.name, release.id)).filter(
    (a) => a.actor === actor && a.identity === approver.identity,
  );
  const last = earlier[earlier.length - 1];
  // A rollback from this environment voided the approvals before it: approving again counts.
  const rolledBack = await rolledBackFrom(ctx, env.name, release.id);
  const voided = last && rolledBack && Date.parse(last.at) <= Date.parse(rolledBack.at);
  if (last && last.decision === decision && !comment && !voided && !proof) {
    return { approval: last, release, repeated: true };
  }
  const approval = await ctx.store.addApproval({
    environment: env.name,
    releaseId: release.id,
    actor,
    decision,
    comment,
    at,
    identity: approver.identity,
    nonce: approver.nonce,
    evidence: approver.evidence,
  });
  await audit(ctx, decision === 'approved' ? 'approval.recorded' : 'approval.rejected', {
    at,
    environment: env.name,
    releaseId: release.id,
    detail: {
      ...(comment ? { comment } : {}),
      approver: actor,
      ...approver.audit,
      ...(approver.evidence ? { evidence: approver.evidence } : {}),
    },
  });
  return { approval, release, repeated: false };
}

/**
 * Establishes who approves from the proof, by the environment's identity policy, or refuses
 * (audited through `refused`) with the reason.
 */
async function proveApprover(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  proof: Exclude<ApprovalProof, { kind: 'sign' }> | undefined,
  refused: (detail: Record<string, unknown>) => Promise<unknown>,
): Promise<Approver> {
  const policy = env.promotion.approval.identity;
  const setting = `environments.${env.name}.promotion.approval.identity`;
  if (!proof) {
    if (policy === 'any')
      return {
        actor: ctx.actor,
        identity: 'unverified',
        nonce: null,
        evidence: null,
        audit: { identity: 'unverified' },
      };
    await refused({ reason: 'unverified-identity', claimed: ctx.actor, policy });
    throw new UserError(
      'APPROVAL_IDENTITY_REQUIRED',
      policy === 'signed'
        ? `${env.name} counts only signed approvals: a name (${ctx.actor}, from --as, AIRLOCK_ACTOR or git user.email) proves nobody.`
        : `${env.name} counts only approvals proven by GitHub's OIDC token, from a GitHub Actions job with \`id-token: write\`.`,
      {
        hint:
          policy === 'signed'
            ? `Sign it with your SSH key: \`airlock approve ${env.name} --key ~/.ssh/id_ed25519\` (or set git config user.signingkey), with the key listed in ${env.promotion.approval.allowedSigners}.`
            : 'Run the approve workflow `airlock ci init` writes (Actions → approve → Run workflow).',
        details: { policy, setting },
      },
    );
  }
  if (proof.kind === 'token') {
    const tokenAudit = { identity: 'token', tokenId: proof.tokenId, address: proof.address };
    if (policy === 'oidc') {
      await refused({ reason: 'identity-not-accepted', method: 'token', policy, ...tokenAudit });
      throw new UserError(
        'APPROVAL_IDENTITY_REQUIRED',
        `${env.name} counts only approvals proven by GitHub's OIDC token (${setting}: oidc).`,
        {
          hint: 'Run the approve workflow `airlock ci init` writes (Actions → approve → Run workflow).',
        },
      );
    }
    if (policy === 'signed' && !env.promotion.approval.dashboardApprovals) {
      await refused({ reason: 'identity-not-accepted', method: 'token', policy, ...tokenAudit });
      throw new UserError(
        'APPROVAL_IDENTITY_REQUIRED',
        `${env.name} counts only SSH-signed approvals (${setting}: signed); one given in the dashboard proves no signature.`,
        {
          hint: `Approve from a terminal with your key: \`airlock approve ${env.name} --release ${release.id} --key ~/.ssh/id_ed25519\`. To count dashboard approvals here too, set environments.${env.name}.promotion.approval.dashboardApprovals: true (the server's word then stands for a signature).`,
        },
      );
    }
    if (policy === 'signed') {
      const signers = await allowedSignersAt(ctx, env, release);
      const listed = signers.text
        ? parseAllowedSigners(signers.text).signers.some((s) =>
            s.principals.includes(proof.principal),
          )
        : false;
      if (!listed) {
        await refused({ reason: 'principal-not-listed', actor: proof.principal, ...tokenAudit });
        throw new UserError(
          'APPROVAL_IDENTITY_REQUIRED',
          `${proof.principal} is not listed in ${signers.where}, so an approval under their token does not count.`,
          {
            hint: `Add ${proof.principal}'s key to ${env.promotion.approval.allowedSigners} and commit it.`,
          },
        );
      }
    }
    return {
      actor: proof.principal,
      identity: 'token',
      nonce: null,
      evidence: {
        kind: 'token',
        tokenId: proof.tokenId,
        principal: proof.principal,
        address: proof.address,
      },
      audit: tokenAudit,
    };
  }
  if (proof.kind === 'oidc') {
    const oidc = env.promotion.approval.oidc;
    if (policy === 'signed' || !oidc) {
      await refused({ reason: 'identity-not-accepted', method: 'oidc', policy });
      throw new UserError(
        'OIDC_TOKEN_REFUSED',
        `${env.name} does not take approvals proven by an OIDC token (${setting}: ${policy}${oidc ? '' : ', and approval.oidc is not set'}).`,
        {
          hint: `Set ${setting}: oidc with approval.oidc.repository, or approve with a signature.`,
        },
      );
    }
    let verified: VerifiedOidcToken;
    try {
      verified = await verifyGithubOidcToken(proof.token, { ...oidc, now: ctx.now() });
    } catch (e) {
      if (!(e instanceof OidcTokenError)) throw e;
      await refused({ reason: `oidc-${e.reason}`, message: e.message });
      throw new UserError('OIDC_TOKEN_REFUSED', `The OIDC token does not count: ${e.message}`, {
        hint: `Approve from the approve workflow of ${oidc.repository} (audience ${oidc.audience}).`,
        details: { reason: e.reason },
      });
    }
    const nonce = `oidc:${verified.tokenId}`;
    if (await ctx.store.approvalNonceUsed(nonce)) {
      await refused({ reason: 'replayed', actor: verified.actor, nonce });
      throw new UserError('OIDC_TOKEN_REFUSED', 'This OIDC token has already been used.', {
        hint: 'Run the approve workflow again: each run approves once.',
      });
    }
    return {
      actor: verified.actor,
      identity: 'oidc',
      nonce,
      evidence: { kind: 'oidc', issuer: oidc.issuer, claims: verified.claims },
      audit: {
        identity: 'oidc',
        repository: verified.repository,
        runId: verified.runId,
        submittedBy: ctx.actor,
      },
    };
  }
  const signers = await allowedSignersAt(ctx, env, release);
  const refuse = async (reason: string, message: string, fingerprint: string | null) => {
    await refused({
      reason: `signature-${reason}`,
      message,
      fingerprint,
      submittedBy: proof.submittedBy,
    });
    return new UserError('SIGNATURE_REFUSED', `The signed approval does not count: ${message}`, {
      hint:
        reason === 'unknown-key' || reason === 'no-allowed-signers'
          ? await allowedSignersHint(ctx, env, release, signers, fingerprint)
          : `Sign a fresh approval for this release: \`airlock approve ${env.name} --release ${release.id}\`.`,
      details: { reason, fingerprint },
    });
  };
  if (policy === 'oidc') throw await refuse('not-accepted', `${setting} is oidc.`, null);
  let verified: VerifiedSignature;
  try {
    verified = verifySignedApproval(
      proof.signed,
      {
        project: ctx.config.project,
        environment: env.name,
        release: release.id,
        digest: release.digest,
      },
      signers.text,
      signers.where,
    );
  } catch (e) {
    if (!(e instanceof ApprovalSignatureError)) throw e;
    throw await refuse(e.reason, e.message, e.fingerprint);
  }
  const nonce = verified.statement.nonce;
  if (await ctx.store.approvalNonceUsed(nonce))
    throw await refuse(
      'replayed',
      `this signed statement (nonce ${nonce.slice(0, 12)}…) was already recorded.`,
      verified.fingerprint,
    );
  return {
    actor: verified.principal,
    identity: 'signed',
    nonce,
    evidence: {
      kind: 'ssh',
      statement: proof.signed.statement,
      signature: proof.signed.signature,
      fingerprint: verified.fingerprint,
      submittedBy: proof.submittedBy === verified.principal ? null : proof.submittedBy,
    },
    audit: {
      identity: 'signed',
      fingerprint: verified.fingerprint,
      ...(proof.submittedBy !== verified.principal ? { submittedBy: proof.submittedBy } : {}),
    },
  };
}
