/**
 * Who approved, proven: SSH-signed approvals verified against the allowed-signers file at the
 * release's commit, GitHub Actions OIDC tokens verified against the issuer's keys, and the
 * approvals the gate may count under an environment's `approval.identity` policy (stored ones,
 * signatures verified again each time, plus signed approval files committed beside the
 * allowed-signers file).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { parseAllowedSigners } from '../identity/allowed-signers.ts';
import { parseApprovalFile, parseStatement } from '../identity/approval-statement.ts';
import { ApprovalSignatureError, verifySignedApproval } from '../identity/verify-approval.ts';
import { git } from '../releases/git.ts';
import type { Approval, Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';

/** The allowed-signers file's text at the release's commit (null when absent), and its name. */
export interface AllowedSignersAt {
  text: string | null;
  /** `<path> at <commit>`, for messages. */
  where: string;
}

/** Reads `approval.allowedSigners` at `release.commit` with `git show` (never the work tree). */
export async function allowedSignersAt(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<AllowedSignersAt> {
  const file = env.promotion.approval.allowedSigners;
  const where = `${file} at commit ${release.commit.slice(0, 12)}`;
  try {
    const text = await git(ctx.config.dir, ['show', `${release.commit}:./${file}`]);
    return { text, where };
  } catch {
    return { text: null, where };
  }
}

/** An approval the gate does not count, and why (shown beside the gate). */
export interface UncountedApproval {
  actor: string;
  reason: string;
}

/**
 * The folder whose `*.sig` files are signed approvals committed to the repository (an approval
 * that arrived through a pull request): the allowed-signers file's folder, in the project.
 */
export function committedApprovalsDir(ctx: AirlockContext, env: ResolvedEnvironment): string {
  return path.join(ctx.config.dir, path.dirname(env.promotion.approval.allowedSigners));
}

/** Signed approval files in the committed folder about this environment and release. */
function committedApprovals(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Approval[] {
  const dir = committedApprovalsDir(ctx, env);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sig'));
  } catch {
    return [];
  }
  const out: Approval[] = [];
  for (const name of names.sort()) {
    try {
      const signed = parseApprovalFile(readFileSync(path.join(dir, name), 'utf8'));
      const s = parseStatement(signed.statement);
      if (s.environment !== env.name || s.release !== release.id) continue;
      out.push({
        id: 0,
        environment: env.name,
        releaseId: release.id,
        actor: `(signed file ${name})`,
        decision: s.decision,
        comment: s.reason,
        at: s.time,
        identity: 'signed',
        nonce: s.nonce,
        evidence: {
          kind: 'ssh',
          statement: signed.statement,
          signature: signed.signature,
          fingerprint: '',
          submittedBy: `file ${path.relative(ctx.config.dir, path.join(dir, name))}`,
        },
      });
    } catch {
      // Not an approval file, or not readable: it approves nothing (shown by `airlock approve --import`).
    }
  }
  return out;
}

/**
 * The approvals the approval gate may count for `release` into `env`, by the environment's
 * identity policy, with each one's `actor` the verified principal; and those it may not, with
 * why. Under `signed`, every signature is verified again against the allowed-signers file at the
 * release's commit (so a key removed there stops counting, and a row written into the state
 * without a valid signature never counts). Reads only.
 */
export async function countableApprovals(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<{ approvals: Approval[]; notCounted: UncountedApproval[] }> {
  const stored = await ctx.store.listApprovals(env.name, release.id);
  const policy = env.promotion.approval.identity;
  if (policy === 'any') return { approvals: stored, notCounted: [] };
  const approvals: Approval[] = [];
  const notCounted: UncountedApproval[] = [];
  if (policy === 'oidc') {
    const repository = env.promotion.approval.oidc?.repository;
    for (const a of stored) {
      if (
        a.identity === 'oidc' &&
        a.evidence?.kind === 'oidc' &&
        a.evidence.claims.repository === repository
      )
        approvals.push(a);
      else
        notCounted.push({
          actor: a.actor,
          reason: `not proven by ${repository}'s GitHub OIDC token (${a.identity})`,
        });
    }
    return { approvals, notCounted };
  }
  const seen = new Set<string | null>(stored.map((a) => a.nonce).filter((n) => n !== null));
  const candidates = [
    ...stored,
    ...committedApprovals(ctx, env, release).filter((a) => !seen.has(a.nonce)),
  ];
  if (candidates.length === 0) return { approvals, notCounted };
  const signers = await allowedSignersAt(ctx, env, release);
  const target = {
    project: ctx.config.project,
    environment: env.name,
    release: release.id,
    digest: release.digest,
  };
  for (const a of candidates) {
    if (a.identity === 'token' && a.evidence?.kind === 'token') {
      // Given in `airlock serve` under a personal token bound to a principal: it counts while
      // that principal is listed in the allowed-signers file at the release's commit.
      const principal = a.evidence.principal;
      const listed = signers.text
        ? parseAllowedSigners(signers.text).signers.some((s) => s.principals.includes(principal))
        : false;
      if (listed) approvals.push({ ...a, actor: principal });
      else
        notCounted.push({
          actor: a.actor,
          reason: `${principal} is not listed in ${signers.where}`,
        });
      continue;
    }
    if (a.identity !== 'signed' || a.evidence?.kind !== 'ssh') {
      // A row that says `signed` without the signature to show for it was written by hand.
      notCounted.push({
        actor: a.actor,
        reason:
          a.identity === 'signed'
            ? 'recorded as signed, but carries no signature to verify'
            : `not signed (recorded as ${a.identity})`,
      });
      continue;
    }
    try {
      const v = verifySignedApproval(a.evidence, target, signers.text, signers.where);
      approvals.push({
        ...a,
        actor: v.principal,
        evidence: { ...a.evidence, fingerprint: v.fingerprint },
      });
    } catch (e) {
      if (!(e instanceof ApprovalSignatureError)) throw e;
      notCounted.push({ actor: a.actor, reason: e.message });
    }
  }
  // In the order they were given (committed files carry their signing time).
  approvals.sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  return { approvals, notCounted };
}
