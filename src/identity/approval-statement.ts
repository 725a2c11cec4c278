/**
 * The statement an approver signs, and the file a signed approval travels in.
 *
 * The statement is one line of JSON with its fields in a fixed order: what is approved
 * (project, environment, release id and digest), the decision and its reason, when, and a
 * random nonce that makes each signature usable once. The signature covers its exact bytes, so
 * the stored text is what is verified, never a re-serialisation.
 *
 * An approval file (`airlock approve --output`) is JSON: `{ "airlockApproval": 1, "statement":
 * "<the statement>", "signature": "-----BEGIN SSH SIGNATURE-----…" }`.
 */
import { randomBytes } from 'node:crypto';

/** The SSH signature namespace of approvals (`ssh-keygen -Y sign -n airlock-approval`). */
export const APPROVAL_NAMESPACE = 'airlock-approval';

/** What an approver signs. `time` is ISO 8601 (UTC); `digest` 64 hex characters. */
export interface ApprovalStatement {
  airlockApproval: 1;
  project: string;
  environment: string;
  release: string;
  digest: string;
  decision: 'approved' | 'rejected';
  reason: string | null;
  time: string;
  nonce: string;
}

/** A statement and the SSH signature over its exact text. */
export interface SignedApproval {
  statement: string;
  signature: string;
}

/** Thrown for a statement or file that cannot be read; `message` says what is wrong. */
export class ApprovalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApprovalFormatError';
  }
}

/** The statement's text (fields in a fixed order), with a fresh 128-bit nonce unless given. */
export function statementText(
  s: Omit<ApprovalStatement, 'airlockApproval' | 'nonce'> & { nonce?: string },
): string {
  const statement: ApprovalStatement = {
    airlockApproval: 1,
    project: s.project,
    environment: s.environment,
    release: s.release,
    digest: s.digest,
    decision: s.decision,
    reason: s.reason,
    time: s.time,
    nonce: s.nonce ?? randomBytes(16).toString('hex'),
  };
  return JSON.stringify(statement);
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Reads a statement. @throws ApprovalFormatError naming the field that is missing or wrong. */
export function parseStatement(text: string): ApprovalStatement {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApprovalFormatError('the signed statement is not JSON.');
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  if (o.airlockApproval !== 1)
    throw new ApprovalFormatError('the signed statement is not an Airlock approval (version 1).');
  for (const f of ['project', 'environment', 'release', 'digest', 'time', 'nonce'] as const)
    if (!str(o[f])) throw new ApprovalFormatError(`the signed statement has no ${f}.`);
  if (o.decision !== 'approved' && o.decision !== 'rejected')
    throw new ApprovalFormatError('the signed statement has no decision (approved or rejected).');
  if (o.reason !== null && typeof o.reason !== 'string')
    throw new ApprovalFormatError('the signed statement has a reason that is not text.');
  if (Number.isNaN(Date.parse(o.time as string)))
    throw new ApprovalFormatError('the signed statement has a time that is not a date.');
  return o as unknown as ApprovalStatement;
}

/** The text of an approval file (what `--output` writes and `--import` reads). */
export function approvalFileText(signed: SignedApproval): string {
  return `${JSON.stringify({ airlockApproval: 1, statement: signed.statement, signature: signed.signature }, null, 2)}\n`;
}

/** Reads an approval file. @throws ApprovalFormatError. */
export function parseApprovalFile(text: string): SignedApproval {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApprovalFormatError(
      'it is not an approval file (JSON written by `airlock approve --output`).',
    );
  }
  const o = (raw ?? {}) as Record<string, unknown>;
  if (o.airlockApproval !== 1 || !str(o.statement) || !str(o.signature))
    throw new ApprovalFormatError(
      'it is not an approval file: expected airlockApproval: 1, statement and signature.',
    );
  return { statement: o.statement, signature: o.signature };
}
