/**
 * Verifying a signed approval: the SSH signature over the statement's exact text, its key in the
 * allowed-signers file (the text of the file at the release's commit, read by the caller), and
 * the statement about the expected project, environment, release and digest. Pure.
 */
import { allowedSignerFor, parseAllowedSigners } from './allowed-signers.ts';
import {
  APPROVAL_NAMESPACE,
  ApprovalFormatError,
  type ApprovalStatement,
  parseStatement,
  type SignedApproval,
} from './approval-statement.ts';
import { parseSshSignature, SshSignatureError, verifySshSignature } from './sshsig.ts';

/** Why a signed approval does not count. Stable codes; `message` is for people. */
export type SignatureRefusal =
  | 'malformed'
  | 'bad-signature'
  | 'unsupported-key'
  | 'unknown-key'
  | 'no-allowed-signers'
  | 'wrong-project'
  | 'wrong-environment'
  | 'wrong-release';

export class ApprovalSignatureError extends Error {
  readonly reason: SignatureRefusal;
  /** The signing key's fingerprint when the signature could be read. */
  readonly fingerprint: string | null;
  constructor(reason: SignatureRefusal, message: string, fingerprint: string | null = null) {
    super(message);
    this.name = 'ApprovalSignatureError';
    this.reason = reason;
    this.fingerprint = fingerprint;
  }
}

/** A signature that verified: who (the first principal of the key's line) and with which key. */
export interface VerifiedSignature {
  principal: string;
  fingerprint: string;
  statement: ApprovalStatement;
}

/** What the approval must be about. `digest` is 64 hex characters. */
export interface ApprovalTarget {
  project: string;
  environment: string;
  release: string;
  digest: string;
}

const hex = (digest: string) => digest.replace(/^sha256:/, '').toLowerCase();

/**
 * Verifies `signed` for `target` against `allowedSigners` (the file's text, or null when the
 * release's commit has no such file; `where` names it in messages).
 * @throws ApprovalSignatureError with the reason it does not count.
 */
export function verifySignedApproval(
  signed: SignedApproval,
  target: ApprovalTarget,
  allowedSigners: string | null,
  where: string,
): VerifiedSignature {
  let statement: ApprovalStatement;
  let parsed: ReturnType<typeof parseSshSignature>;
  try {
    statement = parseStatement(signed.statement);
    parsed = parseSshSignature(signed.signature);
  } catch (e) {
    if (e instanceof ApprovalFormatError || e instanceof SshSignatureError)
      throw new ApprovalSignatureError('malformed', e.message);
    throw e;
  }
  const fingerprint = parsed.publicKey.fingerprint;
  try {
    verifySshSignature(parsed, signed.statement, APPROVAL_NAMESPACE);
  } catch (e) {
    if (e instanceof SshSignatureError)
      throw new ApprovalSignatureError(
        e.reason === 'unsupported-key' ? 'unsupported-key' : 'bad-signature',
        e.message,
        fingerprint,
      );
    throw e;
  }
  if (allowedSigners === null)
    throw new ApprovalSignatureError(
      'no-allowed-signers',
      `there is no allowed-signers file (${where}), so no key may approve.`,
      fingerprint,
    );
  const { signers } = parseAllowedSigners(allowedSigners);
  const signer = allowedSignerFor(
    signers,
    fingerprint,
    APPROVAL_NAMESPACE,
    Date.parse(statement.time),
  );
  if (!signer?.principals[0])
    throw new ApprovalSignatureError(
      'unknown-key',
      `key ${fingerprint} is not in the allowed-signers file (${where}).`,
      fingerprint,
    );
  if (statement.project !== target.project)
    throw new ApprovalSignatureError(
      'wrong-project',
      `the signature approves project ${statement.project}, not ${target.project}.`,
      fingerprint,
    );
  if (statement.environment !== target.environment)
    throw new ApprovalSignatureError(
      'wrong-environment',
      `the signature is for environment ${statement.environment}, not ${target.environment}.`,
      fingerprint,
    );
  if (hex(statement.digest) !== hex(target.digest) || statement.release !== target.release)
    throw new ApprovalSignatureError(
      'wrong-release',
      `the signature is for release ${statement.release} (digest ${hex(statement.digest).slice(0, 12)}), not ${target.release} (digest ${hex(target.digest).slice(0, 12)}).`,
      fingerprint,
    );
  return { principal: signer.principals[0], fingerprint, statement };
}
