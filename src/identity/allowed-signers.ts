/**
 * git's `allowed_signers` file (ssh-keygen(1), ALLOWED SIGNERS): one key per line,
 * `principal[,principal…] [options] keytype base64-key [comment]`; `#` comments and blank lines
 * ignored. Options honoured: `namespaces="…"` (the key signs only in those namespaces; patterns
 * with `*` and `?`), `valid-after` / `valid-before` (YYYYMMDD[HHMM[SS]][Z]); a
 * `cert-authority` line is skipped (certificates are not supported), with a note. Pure.
 */
import { publicKeyFrom, type SshPublicKey, SshSignatureError } from './sshsig.ts';

/** One allowed key. */
export interface AllowedSigner {
  /** The principals on the line; the first is the identity an approval by this key counts for. */
  principals: string[];
  key: SshPublicKey;
  /** Namespaces this key may sign in (patterns), or null: any. */
  namespaces: string[] | null;
  /** Milliseconds since the epoch, or null. */
  validAfter: number | null;
  validBefore: number | null;
  /** 1-based line in the file. */
  line: number;
}

/** A line that was not understood: where and why (the file still counts its other lines). */
export interface AllowedSignersProblem {
  line: number;
  message: string;
}

const KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-|ssh-dss)/;

/** Splits a line on whitespace, keeping double-quoted parts (with their quotes removed) whole. */
function tokens(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** Splits `a=1,b="x,y",c` on commas outside quotes. */
function options(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let cur = '';
  let quoted = false;
  const push = () => {
    if (!cur) return;
    const eq = cur.indexOf('=');
    const name = (eq < 0 ? cur : cur.slice(0, eq)).toLowerCase();
    out.set(name, eq < 0 ? '' : cur.slice(eq + 1).replace(/^"|"$/g, ''));
    cur = '';
  };
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) push();
    else cur += ch;
  }
  push();
  return out;
}

/** `YYYYMMDD[HHMM[SS]][Z]` as ms since the epoch (UTC when `Z`, else local as ssh-keygen does). */
function sshTime(text: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', z] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  return z ? Date.UTC(...parts) : new Date(...parts).getTime();
}

/**
 * Parses an allowed-signers file. Lines it cannot read are returned as problems (and never
 * allow anything); the rest are the allowed keys, in file order.
 */
export function parseAllowedSigners(text: string): {
  signers: AllowedSigner[];
  problems: AllowedSignersProblem[];
} {
  const signers: AllowedSigner[] = [];
  const problems: AllowedSignersProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const parts = tokens(trimmed);
    const keyAt = parts.findIndex((p, j) => j > 0 && KEY_TYPE.test(p));
    if (keyAt < 0 || keyAt > 2 || !parts[keyAt + 1]) {
      problems.push({ line, message: 'expected `principal[,principal] [options] keytype key`.' });
      return;
    }
    const principals = (parts[0] ?? '').split(',').filter(Boolean);
    const opts = keyAt === 2 ? options(parts[1] ?? '') : new Map<string, string>();
    if (opts.has('cert-authority')) {
      problems.push({ line, message: 'cert-authority lines are not supported; list the keys.' });
      return;
    }
    const type = parts[keyAt] ?? '';
    let key: SshPublicKey;
    try {
      key = publicKeyFrom(type, parts[keyAt + 1] ?? '');
    } catch (e) {
      problems.push({
        line,
        message: e instanceof SshSignatureError ? e.message : 'the key is not valid base64.',
      });
      return;
    }
    const after = opts.get('valid-after');
    const before = opts.get('valid-before');
    signers.push({
      principals,
      key,
      namespaces: opts.has('namespaces') ? (opts.get('namespaces') ?? '').split(',') : null,
      validAfter: after ? sshTime(after) : null,
      validBefore: before ? sshTime(before) : null,
      line,
    });
  });
  return { signers, problems };
}

/** ssh-style pattern (`*`, `?`) match. */
function matches(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(value);
}

/**
 * The allowed signer for a key fingerprint in a namespace at a time, or null when the key is
 * not listed, not allowed in this namespace, or outside its validity.
 */
export function allowedSignerFor(
  signers: AllowedSigner[],
  fingerprint: string,
  namespace: string,
  at: number,
): AllowedSigner | null {
  for (const s of signers) {
    if (s.key.fingerprint !== fingerprint) continue;
    if (s.namespaces && !s.namespaces.some((p) => matches(p, namespace))) continue;
    if (s.validAfter !== null && at < s.validAfter) continue;
    if (s.validBefore !== null && at > s.validBefore) continue;
    return s;
  }
  return null;
}
