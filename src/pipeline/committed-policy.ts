/**
 * The promotion policy a release's gates use: the stricter of the one in the working tree's
 * airlock.yaml and the one committed at the release's commit.
 *
 * The allowed-signers file is read at the release's commit (`approval-identity.ts`), so that
 * who may approve is decided by reviewed, committed history rather than by the promoting
 * machine. The rest of the policy — how many approvals, whether a deployer may approve, CI,
 * soak, window, freeze, rehearsal — is held to the same standard: an uncommitted edit that
 * loosens it (say `allowSelfApproval: true`, or `policy: automatic`) does not loosen the gates,
 * while an uncommitted edit that tightens it does tighten them (GitHub Environments keep
 * protection rules away from the branch being deployed for the same reason).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PromotionPolicy, ResolvedEnvironment } from '../config/resolve.ts';
import { git } from '../releases/git.ts';
import type { Release } from '../state/state-store.ts';
import type { AirlockContext } from './context.ts';

/** The gates' environment, and where the working tree's policy was looser than the commit's. */
export interface GatePolicy {
  environment: ResolvedEnvironment;
  /** Null when the working tree's policy is at least as strict as the committed one. */
  tightened: { commit: string; fields: string[] } | null;
  /** Why the committed policy could not be read, and what to do (the `policy` gate fails). */
  problem: { reason: string; next: string } | null;
}

/**
 * The stricter of two policies, field by field, and the fields where `local` was looser.
 * Numbers take the stricter bound (more approvals, longer soak, shorter expiry and checks age);
 * switches take the one that checks more; approver lists are intersected; freezes are joined.
 * An identity that proves something beats `any`; otherwise the identity and its settings
 * (allowed-signers path, OIDC) and the window are the committed ones when they differ: two
 * kinds of proof, or two windows, do not order.
 */
export function stricterPolicy(
  local: PromotionPolicy,
  committed: PromotionPolicy,
): { policy: PromotionPolicy; looser: string[] } {
  const looser: string[] = [];
  const pick = <T>(field: string, mine: T, stricter: T): T => {
    if (JSON.stringify(stricter) !== JSON.stringify(mine)) looser.push(field);
    return stricter;
  };
  const la = local.approval;
  const ca = committed.approval;
  const minBound = (a: number | null, b: number | null) =>
    a === null ? b : b === null ? a : Math.min(a, b);
  const approvers =
    la.approvers === null
      ? ca.approvers
      : ca.approvers === null
        ? la.approvers
        : la.approvers.filter((a) => ca.approvers?.includes(a));
  const sameIdentity =
    la.identity === ca.identity &&
    la.allowedSigners === ca.allowedSigners &&
    JSON.stringify(la.oidc) === JSON.stringify(ca.oidc);
  // A proof beats none (`any`); two kinds of proof (or two signer files) do not order, and the
  // committed one stands.
  const proof = ca.identity === 'any' && la.identity !== 'any' ? la : ca;
  const freeze = [
    ...local.freeze,
    ...committed.freeze.filter(
      (f) => !local.freeze.some((g) => JSON.stringify(g) === JSON.stringify(f)),
    ),
  ];
  const policy: PromotionPolicy = {
    policy: pick(
      'policy',
      local.policy,
      local.policy === 'manual' || committed.policy === 'manual' ? 'manual' : 'automatic',
    ),
    approval: {
      required: pick('approval.required', la.required, Math.max(la.required, ca.required)),
      allowSelfApproval: pick(
        'approval.allowSelfApproval',
        la.allowSelfApproval,
        la.allowSelfApproval && ca.allowSelfApproval,
      ),
      approvers: pick('approval.approvers', la.approvers, approvers),
      expiresAfterMs: pick(
        'approval.expiresAfter',
        la.expiresAfterMs,
        minBound(la.expiresAfterMs, ca.expiresAfterMs),
      ),
      identity: sameIdentity ? la.identity : pick('approval.identity', la.identity, proof.identity),
      dashboardApprovals: pick(
        'approval.dashboardApprovals',
        la.dashboardApprovals,
        la.dashboardApprovals && ca.dashboardApprovals,
      ),
      allowedSigners: sameIdentity ? la.allowedSigners : proof.allowedSigners,
      oidc: sameIdentity ? la.oidc : proof.oidc,
    },
    soakMs: pick('soak', local.soakMs, Math.max(local.soakMs ?? 0, committed.soakMs ?? 0) || null),
    ci: pick('ci', local.ci, local.ci || committed.ci),
    checksMaxAgeMs: pick(
      'checksMaxAge',
      local.checksMaxAgeMs,
      minBound(local.checksMaxAgeMs, committed.checksMaxAgeMs),
    ),
    livePrevious: pick(
      'livePrevious',
      local.livePrevious,
      local.livePrevious || committed.livePrevious,
    ),
    rollbackRehearsal: pick(
      'rollbackRehearsal',
      local.rollbackRehearsal,
      local.rollbackRehearsal === 'required' || committed.rollbackRehearsal === 'required'
        ? 'required'
        : 'off',
    ),
    window: pick(
      'window',
      local.window,
      committed.window === null ? local.window : committed.window,
    ),
    freeze: pick('freeze', local.freeze, freeze),
  };
  return { policy, looser };
}

const UNREADABLE_NEXT =
  'promote a release built from a commit whose airlock.yaml validates (deploy it to the previous environment first)';

/**
 * The environment the gates of promoting `release` into `env` use: `env` with the stricter of
 * its promotion policy and the one in airlock.yaml at the release's commit (`git show`, never
 * the working tree). Nothing is parsed when the committed text is the working tree's. A commit
 * without airlock.yaml, or whose file does not name the environment, has no policy to hold the
 * working tree to; a committed file that does not validate, or a commit this clone does not
 * have, is a `problem` (the `policy` gate fails: a policy that cannot be read is not skipped).
 */
export async function gatePolicy(
  ctx: AirlockContext,
  env: ResolvedEnvironment,
  release: Release,
): Promise<GatePolicy> {
  const none: GatePolicy = { environment: env, tightened: null, problem: null };
  const { file, dir } = ctx.config;
  const relative = path.relative(dir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return none;
  let text: string;
  try {
    text = await git(dir, ['show', `${release.commit}:./${relative.split(path.sep).join('/')}`]);
  } catch {
    // No airlock.yaml at that commit, or no such commit here (a shallow or stale clone): the
    // latter is not a policy to skip.
    const known = await git(dir, ['cat-file', '-e', `${release.commit}^{commit}`]).then(
      () => true,
      () => false,
    );
    if (known) return none;
    return {
      ...none,
      problem: {
        reason: `${release.id}'s commit ${release.commit.slice(0, 12)} is not in this clone, so the promotion policy committed with it cannot be read.`,
        next: 'fetch it (`git fetch origin`, or check out with the full history) and try again',
      },
    };
  }
  try {
    if (text === readFileSync(file, 'utf8').trimEnd()) return none; // `git` trims the end
  } catch {
    // The working tree's file was read moments ago; if it is gone now, compare in full.
  }
  const commit = release.commit.slice(0, 12);
  const where = `${relative} at commit ${commit}`;
  // Only the policy is needed: the file is validated as written, nothing resolved (its
  // `${NAME}` references, state and database URLs are no business of a policy).
  const [{ parse }, { configSchema }, { normalizePromotion }] = await Promise.all([
    import('yaml'),
    import('../config/schema.ts'),
    import('../config/resolve-environment.ts'),
  ]);
  let committed: PromotionPolicy | undefined;
  try {
    const parsed = configSchema.safeParse(parse(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ...none,
        problem: {
          reason: `${where} does not validate${issue ? ` (${issue.path.join('.') || 'the file'}: ${issue.message})` : ''}, so its promotion policy cannot be read.`,
          next: UNREADABLE_NEXT,
        },
      };
    }
    const written = parsed.data.environments[env.name];
    committed = written ? normalizePromotion(written.promotion) : undefined;
  } catch (error) {
    return {
      ...none,
      problem: {
        reason: `${where} is not valid YAML (${(error as Error).message.split('\n')[0]}), so its promotion policy cannot be read.`,
        next: UNREADABLE_NEXT,
      },
    };
  }
  if (!committed) return none;
  const { policy, looser } = stricterPolicy(env.promotion, committed);
  return looser.length > 0
    ? {
        environment: { ...env, promotion: policy },
        tightened: { commit, fields: looser },
        problem: null,
      }
    : none;
}
