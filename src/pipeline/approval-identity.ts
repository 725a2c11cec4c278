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
import { allowedSignerFor, parseAllowedSigners } from '../identity/allowed-signers.ts';
import {
  APPROVAL_NAMESPACE,
  parseApprovalFile,
  parseStatement,
} from '../identity/approval-statement.ts';
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
  return {
    text: await signersFileAt(ctx, file, release.commit),
    where: `${file} at commit ${release.commit.slice(0, 12)}`,
  };
}

/** The text of `file` at `commit` (`git show`; any revision, e.g. `HEAD`), or null when absent. */
async function signersFileAt(
  ctx: AirlockContext,
  file: string,
  commit: string,
): Promise<string | null> {
  try {
    return await git(ctx.config.dir, ['show', `${commit}:./${file}`]);
  } catch {
    return null;
  }
}

/**
 * What to do about a signature whose key the allowed-signers file at the release's commit does
 * not list (or that has no such file), for the refusal's hint. The file is read at the
 * release's own commit on purpose (a release cannot approve itself in with signers added after
 * it was built), so a key listed since then — at HEAD, or only in the working tree — counts for
 * a new release, never for this one: the hint says so rather than asking again for the line
 * that is already there. `fingerprint` null: any key.
 */
export async function allowedSignersHint(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
  atRelease: AllowedSignersAt,
  fingerprint: string | null,
): Promise<string> {
  const file = env.promotion.approval.allowedSigners;
  const at = ctx.now().getTime();
  const lists = (text: string | null) =>
    text !== null &&
    (fingerprint === null ||
      allowedSignerFor(parseAllowedSigners(text).signers, fingerprint, APPROVAL_NAMESPACE, at) !==
        null);
  const built = release.commit.slice(0, 12);
  const first = ctx.config.pipeline[0] ?? env.previous ?? 'staging';
  const previous = env.previous ?? first;
  const deploy = `\`airlock deploy ${first}\`${previous === first ? '' : `, then \`airlock promote ${previous}\``}`;
  const approveNew = `then approve that one (\`airlock approve ${env.name}\` takes the release serving on ${previous})`;
  const rule = `The file is read at each release's own commit, so that a release cannot approve itself into ${env.name} with signers added after it was built`;
  const head = await git(ctx.config.dir, ['rev-parse', 'HEAD']).catch(() => null); // no commit yet
  const atHead = head === null ? null : await signersFileAt(ctx, file, head);
  let inWorkTree: string | null = null;
  try {
    inWorkTree = readFileSync(path.join(ctx.config.dir, file), 'utf8');
  } catch {
    // Not in the working tree either.
  }
  const listed = fingerprint ? 'with this key' : 'listing keys';
  if (head && head !== release.commit && lists(atHead) && !lists(atRelease.text)) {
    const since =
      atRelease.text === null
        ? `${release.id} was built from commit ${built}, before ${file} was committed (HEAD ${head.slice(0, 12)} has it, ${listed})`
        : `${release.id} was built from commit ${built}, whose ${file} does not list this key; HEAD ${head.slice(0, 12)} does`;
    return `${since}. ${rule}: deploy a new release that includes it to ${previous} (${deploy}), ${approveNew}.`;
  }
  if (lists(inWorkTree) && !lists(atRelease.text))
    return `${file} is in the working tree, ${listed}, but ${release.id} was built from commit ${built}, ${atRelease.text === null ? 'which does not have it' : 'whose copy does not list this key'}. ${rule}: commit it, deploy a new release that includes it to ${previous} (${deploy}), ${approveNew}.`;
  const elsewhere = atHead !== null || inWorkTree !== null;
  return `Add the key's line (\`<principal> <keytype> <key>\`) to ${file}${elsewhere ? ' (it is not at HEAD or in the working tree either)' : ''} and commit it. The file is read at each release's own commit, so the line counts for releases built from then on, not for ${release.id} (commit ${built}): deploy a new release to ${previous} (${deploy}), ${approveNew}.`;
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
      // Given in `airlock serve` under a personal token bound to a principal: the server's word,
      // which the gate cannot check again (a state writer could have written it), so it counts
      // only where the environment opts in, and while that principal is listed in the
      // allowed-signers file at the release's commit.
      const principal = a.evidence.principal;
      if (!env.promotion.approval.dashboardApprovals) {
        notCounted.push({
          actor: a.actor,
          reason: `given in the dashboard under ${principal}'s token, which proves no signature (approval.dashboardApprovals is off)`,
        });
        continue;
      }
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
