import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { environmentNamed } from '../config/environments.ts';
import { UserError } from '../errors.ts';
import {
  ApprovalFormatError,
  approvalFileText,
  parseApprovalFile,
  parseStatement,
} from '../identity/approval-statement.ts';
import { OidcTokenError, requestGithubOidcToken } from '../identity/github-oidc.ts';
import { type ApprovalProof, recordApproval, signApproval } from '../pipeline/approve.ts';
import { promotionPlan } from '../pipeline/decide.ts';
import { notReachableHere } from '../pipeline/facts.ts';
import { gitSigningKey } from '../releases/git.ts';
import type { CommandIO } from './command-io.ts';
import { loadProjectConfig, withSession } from './session.ts';

/** `airlock approve`'s options. */
export interface ApproveOptions {
  release?: string;
  message?: string;
  reject?: boolean;
  /** Sign with this SSH key (default under `identity: signed`: git's user.signingkey). */
  key?: string;
  /** Write a signed approval file instead of recording (no state store). */
  output?: string;
  /** The release's digest, for `--output`. */
  digest?: string;
  /** Record the signed approval in this file. */
  import?: string;
  /** Prove the approver with GitHub Actions' OIDC token. */
  oidc?: boolean;
}

/**
 * `airlock approve <env> [--release R] [-m comment] [--reject] [--key K] [--output F --digest D]
 * [--import F] [--oidc]`.
 */
export async function approveCommand(
  io: CommandIO,
  environment: string,
  opts: ApproveOptions,
): Promise<number> {
  if (opts.output) return writeApprovalFile(io, environment, opts, opts.output);
  return withSession(
    io,
    async (session) => {
      const { ctx } = session;
      const env = environmentNamed(ctx.config, environment);
      const policy = env.promotion.approval.identity;
      const proof = await proofFor(
        ctx.config.dir,
        policy,
        env.promotion.approval.oidc,
        ctx.actor,
        opts,
      );
      const result = await recordApproval(ctx, {
        environment,
        decision: opts.reject ? 'rejected' : 'approved',
        ...(opts.release ? { release: opts.release } : {}),
        ...(opts.message ? { comment: opts.message } : {}),
        ...(proof ? { proof } : {}),
      });
      const { approval, release } = result;
      const word = approval.decision === 'approved' ? 'approved' : 'rejected';
      const how =
        approval.identity === 'signed' && approval.evidence?.kind === 'ssh'
          ? ` (signed, key ${approval.evidence.fingerprint}${approval.evidence.submittedBy ? `, handed in by ${approval.evidence.submittedBy}` : ''})`
          : approval.identity === 'oidc'
            ? ' (proven by the GitHub OIDC token)'
            : '';
      io.reporter.success(
        `${approval.actor} ${result.repeated ? 'had already ' : ''}${word} ${release.id} for ${environment}${approval.comment ? ` ("${approval.comment}")` : ''}${how}.`,
      );
      if (release.dirty && approval.decision === 'approved')
        io.reporter.warn(
          `${release.id} was built from uncommitted changes on commit ${release.commit.slice(0, 7)}: what you approved is not in git; \`airlock releases --json\` lists its files' digest.`,
        );
      if (approval.decision === 'approved' && env.previous) {
        // Approving ahead is allowed, but a release that failed there cannot be promoted as it is.
        const there = await ctx.store.listDeployments({
          environment: env.previous,
          releaseId: release.id,
          limit: 20,
        });
        if (!there.some((d) => d.status === 'succeeded'))
          io.reporter.warn(
            `${release.id} has not ${there.length > 0 ? 'succeeded' : 'been deployed'} on ${env.previous}${there.length > 0 ? ` (its last deployment there ${there[0]?.status})` : ''}: the approval is recorded, and ${environment} takes ${release.id} only once it has.`,
          );
      }
      if (approval.identity === 'unverified')
        io.reporter.warn(
          `Unverified: ${environment} takes any name as an approver (approval.identity: any); "${approval.actor}" is what this machine claims, not a proven identity.`,
        );
      // An approver's machine (a CI job) may not hold the release's files or the database's
      // secret: the gates are then told without the migration, drift and parity facts.
      const plan = await promotionPlan(ctx, env, release).catch((error: unknown) => {
        if (!notReachableHere(error)) throw error;
        return promotionPlan(ctx, env, release, { skipMigrations: true });
      });
      const gate = plan.gates.find((g) => g.gate === 'approval');
      if (gate) io.reporter.gates([gate]);
      if (!plan.blocked)
        io.reporter.info(`Every gate holds: run \`airlock promote ${environment}\`.`);
      io.reporter.result({
        approval,
        release: release.id,
        repeated: result.repeated,
        verified: approval.identity !== 'unverified',
        gates: plan.gates,
        blocked: plan.blocked,
      });
      return 0;
    },
    { environments: [environment] },
  );
}

/** What proves this approval, from the flags and the environment's identity policy. */
async function proofFor(
  dir: string,
  policy: 'signed' | 'oidc' | 'any',
  oidc: { audience: string } | null,
  actor: string,
  opts: ApproveOptions,
): Promise<ApprovalProof | undefined> {
  if (opts.import)
    return { kind: 'ssh', signed: readApprovalFile(opts.import), submittedBy: actor };
  if (opts.key) return { kind: 'sign', key: opts.key };
  if (opts.oidc || policy === 'oidc') {
    try {
      return {
        kind: 'oidc',
        token: await requestGithubOidcToken(process.env, oidc?.audience ?? 'airlock'),
      };
    } catch (e) {
      if (!(e instanceof OidcTokenError)) throw e;
      throw new UserError('OIDC_TOKEN_REFUSED', `Cannot prove who approves: ${e.message}`, {
        hint: 'Approve from the approve workflow `airlock ci init` writes (Actions → approve → Run workflow).',
      });
    }
  }
  if (policy === 'signed') {
    const key = await gitSigningKey(dir);
    if (key) return { kind: 'sign', key };
  }
  return undefined;
}

function readApprovalFile(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError('SIGNATURE_REFUSED', `Cannot read ${file}: ${(e as Error).message}`, {
      hint: 'Pass the file `airlock approve --output` wrote.',
    });
  }
  try {
    return parseApprovalFile(text);
  } catch (e) {
    if (!(e instanceof ApprovalFormatError)) throw e;
    throw new UserError('SIGNATURE_REFUSED', `${file}: ${e.message}`, {
      hint: 'Pass the file `airlock approve --output` wrote.',
    });
  }
}

/** `--output`: sign an approval on this machine and write it to a file; no state store. */
async function writeApprovalFile(
  io: CommandIO,
  environment: string,
  opts: ApproveOptions,
  output: string,
): Promise<number> {
  if (!opts.release || !opts.digest)
    throw new UserError(
      'USAGE',
      '--output signs an approval without the state store, so it needs --release and --digest.',
      {
        hint: `Take both from \`airlock releases --json\` (id and digest), e.g. \`airlock approve ${environment} --release r7 --digest <sha256> --output approval.sig\`.`,
      },
    );
  if (!/^(sha256:)?[0-9a-f]{64}$/i.test(opts.digest))
    throw new UserError(
      'USAGE',
      `--digest ${opts.digest} is not a sha256 digest (64 hex characters).`,
    );
  const config = await loadProjectConfig(io.globals);
  environmentNamed(config, environment);
  const key = opts.key ?? (await gitSigningKey(config.dir));
  if (!key)
    throw new UserError('APPROVAL_IDENTITY_REQUIRED', 'No SSH key to sign the approval with.', {
      hint: 'Pass --key ~/.ssh/id_ed25519 (or its .pub with the key in ssh-agent), or set git config user.signingkey.',
    });
  const signed = await signApproval(config, {
    environment,
    release: opts.release,
    digest: opts.digest,
    decision: opts.reject ? 'rejected' : 'approved',
    ...(opts.message ? { comment: opts.message } : {}),
    key,
    now: new Date(),
  });
  writeFileSync(output, approvalFileText(signed));
  const s = parseStatement(signed.statement);
  io.reporter.success(
    `Signed: ${s.decision} ${s.release} for ${s.environment} → ${path.relative(process.cwd(), path.resolve(output)) || output}.`,
  );
  io.reporter.info(
    `Record it where the state is reachable: \`airlock approve ${environment} --import ${path.basename(output)}\`, or commit it under the allowed-signers file's folder.`,
  );
  io.reporter.result({ output: path.resolve(output), statement: s, signature: signed.signature });
  return 0;
}
