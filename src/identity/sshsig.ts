/**
 * SSH signatures (`ssh-keygen -Y sign`, the format git signs commits with: OpenSSH's
 * PROTOCOL.sshsig) read and verified in Node with `node:crypto`, for the key types
 * `ssh-ed25519`, `ssh-rsa` (signatures `rsa-sha2-512` / `rsa-sha2-256`) and
 * `ecdsa-sha2-nistp256/384/521`. Pure: no process, no file.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';

/** A public key in SSH wire form, with what `ssh-keygen -l` would print for it. */
export interface SshPublicKey {
  /** `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, … */
  type: string;
  /** The key blob (SSH wire format), as in an `authorized_keys` line after base64 decoding. */
  blob: Buffer;
  /** `SHA256:<base64 without padding>` of the blob, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** A parsed armored SSH signature. */
export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  /** The signature algorithm named inside (`ssh-ed25519`, `rsa-sha2-512`, …). */
  algorithm: string;
  /** The raw signature bytes (for ECDSA: the SSH `mpint r, mpint s` pair). */
  signature: Buffer;
}

/** Why a signature did not verify; `message` is a sentence a person can act on. */
export class SshSignatureError extends Error {
  readonly reason: 'malformed' | 'unsupported-key' | 'namespace' | 'bad-signature';
  constructor(reason: SshSignatureError['reason'], message: string) {
    super(message);
    this.name = 'SshSignatureError';
    this.reason = reason;
  }
}

const MAGIC = Buffer.from('SSHSIG');

/** Reads SSH wire strings (uint32 length + bytes) one after another. */
class Reader {
  #buf: Buffer;
  #at = 0;
  constructor(buf: Buffer) {
    this.#buf = buf;
  }
  bytes(n: number): Buffer {
    if (this.#at + n > this.#buf.length)
      throw new SshSignatureError('malformed', 'the signature is cut short.');
    const out = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }
  string(): Buffer {
    return this.bytes(this.uint32());
  }
  text(): string {
    return this.string().toString('utf8');
  }
  get done(): boolean {
    return this.#at === this.#buf.length;
  }
}

function wireString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([len, bytes]);
}

/** `SHA256:…` fingerprint of a key blob (base64, padding removed, as OpenSSH prints it). */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A public key from its type and base64 blob (an `allowed_signers` or `.pub` line's fields). */
export function publicKeyFrom(type: string, base64: string): SshPublicKey {
  const blob = Buffer.from(base64, 'base64');
  const inner = new Reader(blob).text();
  if (inner !== type)
    throw new SshSignatureError('malformed', `the key says ${inner} but is listed as ${type}.`);
  return { type, blob, fingerprint: fingerprintOf(blob) };
}

/**
 * Parses an armored signature (`-----BEGIN SSH SIGNATURE-----` … `-----END SSH SIGNATURE-----`).
 * @throws SshSignatureError `malformed` when it is not one.
 */
export function parseSshSignature(armored: string): SshSignature {
  const match = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(armored);
  if (!match)
    throw new SshSignatureError('malformed', 'no -----BEGIN SSH SIGNATURE----- block was found.');
  const raw = Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64');
  const r = new Reader(raw);
  if (!r.bytes(6).equals(MAGIC))
    throw new SshSignatureError('malformed', 'the block does not start with SSHSIG.');
  const version = r.uint32();
  if (version !== 1)
    throw new SshSignatureError('malformed', `signature version ${version} is not supported.`);
  const keyBlob = r.string();
  const namespace = r.text();
  r.string(); // reserved
  const hash = r.text();
  if (hash !== 'sha256' && hash !== 'sha512')
    throw new SshSignatureError('malformed', `hash algorithm ${hash} is not sha256 or sha512.`);
  const sig = new Reader(r.string());
  const algorithm = sig.text();
  const signature = sig.string();
  const keyType = new Reader(keyBlob).text();
  return {
    publicKey: { type: keyType, blob: Buffer.from(keyBlob), fingerprint: fingerprintOf(keyBlob) },
    namespace,
    hashAlgorithm: hash,
    algorithm,
    signature: Buffer.from(signature),
  };
}

const base64url = (b: Buffer) => b.toString('base64url');
/** An SSH mpint without its sign byte, left-padded to `size` bytes when given. */
function unsigned(mpint: Buffer, size?: number): Buffer {
  let b = mpint;
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  if (size !== undefined && b.length < size) b = Buffer.concat([Buffer.alloc(size - b.length), b]);
  return b;
}

const CURVES: Record<string, { crv: string; size: number; hash: string }> = {
  nistp256: { crv: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { crv: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { crv: 'P-521', size: 66, hash: 'sha512' },
};

/** The node:crypto key, the digest and the signature bytes `verify` needs for this key type. */
function verifier(
  key: SshPublicKey,
  algorithm: string,
  signature: Buffer,
): { key: KeyObject; digest: string | null; signature: Buffer; p1363?: boolean } {
  const r = new Reader(key.blob);
  r.text();
  if (key.type === 'ssh-ed25519') {
    const x = r.string();
    return {
      key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(x) }, format: 'jwk' }),
      digest: null,
      signature,
    };
  }
  if (key.type === 'ssh-rsa') {
    const e = unsigned(r.string());
    const n = unsigned(r.string());
    const digest =
      algorithm === 'rsa-sha2-512' ? 'sha512' : algorithm === 'rsa-sha2-256' ? 'sha256' : null;
    if (!digest)
      throw new SshSignatureError(
        'unsupported-key',
        `RSA signature algorithm ${algorithm} is not accepted (sign with rsa-sha2-512).`,
      );
    return {
      key: createPublicKey({
        key: { kty: 'RSA', n: base64url(n), e: base64url(e) },
        format: 'jwk',
      }),
      digest,
      signature,
    };
  }
  const curve = key.type.startsWith('ecdsa-sha2-') ? CURVES[r.text()] : undefined;
  if (curve) {
    const q = r.string();
    const size = curve.size;
    const x = q.subarray(1, 1 + size);
    const y = q.subarray(1 + size, 1 + 2 * size);
    const rs = new Reader(signature);
    const sig = Buffer.concat([unsigned(rs.string(), size), unsigned(rs.string(), size)]);
    return {
      key: createPublicKey({
        key: { kty: 'EC', crv: curve.crv, x: base64url(x), y: base64url(y) },
        format: 'jwk',
      }),
      digest: curve.hash,
      signature: sig,
      p1363: true,
    };
  }
  throw new SshSignatureError(
    'unsupported-key',
    `${key.type} keys are not supported (use ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521).`,
  );
}

/**
 * Verifies `parsed` over `message` in `namespace`: the signed data is OpenSSH's
 * `SSHSIG ‖ namespace ‖ reserved ‖ hash ‖ H(message)` and the key is the one inside the
 * signature (the caller decides whether that key is allowed).
 * @throws SshSignatureError `namespace`, `unsupported-key`, `bad-signature`.
 */
export function verifySshSignature(
  parsed: SshSignature,
  message: Buffer | string,
  namespace: string,
): void {
  if (parsed.namespace !== namespace)
    throw new SshSignatureError(
      'namespace',
      `the signature is for namespace "${parsed.namespace}", not "${namespace}".`,
    );
  const hashed = createHash(parsed.hashAlgorithm).update(message).digest();
  const signed = Buffer.concat([
    MAGIC,
    wireString(namespace),
    wireString(''),
    wireString(parsed.hashAlgorithm),
    wireString(hashed),
  ]);
  const v = verifier(parsed.publicKey, parsed.algorithm, parsed.signature);
  let ok = false;
  try {
    ok = verify(
      v.digest,
      signed,
      v.p1363 ? { key: v.key, dsaEncoding: 'ieee-p1363' } : v.key,
      v.signature,
    );
  } catch {
    ok = false;
  }
  if (!ok)
    throw new SshSignatureError(
      'bad-signature',
      'the signature does not match the statement (altered, or signed by another key).',
    );
}
