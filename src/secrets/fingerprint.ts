/**
 * Keyed fingerprints of secret values: HMAC-SHA256(key, value), hex. Airlock records one for
 * every value set with `airlock secret set` (in the state store, `secret_fingerprints`) so it can
 * tell that two environments hold the same value without ever keeping the value.
 *
 * The key is never in the state store: a plain hash of a short password could be reversed by
 * trying candidates, so whoever can read the (shared, team-mode) state must not also hold the key.
 * It comes from AIRLOCK_FINGERPRINT_KEY (at least 32 characters; set the same value as a CI secret
 * on every machine that sets secrets, so their fingerprints compare), or else from
 * `fingerprint.key` in the project's Airlock home (32 random bytes, created on first use, mode
 * 0600). Each fingerprint carries the key's id, so fingerprints made under different keys are
 * never compared (and are reported as not comparable rather than as equal or different).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import type { SecretFingerprint } from '../state/state-store.ts';

export const FINGERPRINT_KEY_VARIABLE = 'AIRLOCK_FINGERPRINT_KEY';
const MIN_KEY_LENGTH = 32;

export interface FingerprintKey {
  key: Buffer;
  /** First 16 hex characters of sha256("airlock fingerprint key id" + key): names the key, reveals nothing. */
  id: string;
  /** Where it came from, for messages: the variable's name or the file's path. */
  source: string;
}

/**
 * The fingerprint key: AIRLOCK_FINGERPRINT_KEY, or `<home>/fingerprint.key` (created when
 * `create` and missing). Null when there is none and `create` is false.
 * @throws UserError `FINGERPRINT_KEY_WEAK` when the variable is shorter than 32 characters.
 */
export function fingerprintKey(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
  options: { create: boolean },
): FingerprintKey | null {
  const fromEnv = env[FINGERPRINT_KEY_VARIABLE];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_KEY_LENGTH)
      throw new UserError(
        'FINGERPRINT_KEY_WEAK',
        `${FINGERPRINT_KEY_VARIABLE} is shorter than ${MIN_KEY_LENGTH} characters.`,
        { hint: `Use a random value, e.g. \`openssl rand -hex 32\`.` },
      );
    return withId(Buffer.from(fromEnv, 'utf8'), FINGERPRINT_KEY_VARIABLE);
  }
  const file = path.join(home, 'fingerprint.key');
  if (existsSync(file)) return withId(readFileSync(file), file);
  if (!options.create) return null;
  mkdirSync(home, { recursive: true });
  writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return withId(readFileSync(file), file);
}

function withId(key: Buffer, source: string): FingerprintKey {
  const id = createHash('sha256')
    .update('airlock fingerprint key id\0')
    .update(key)
    .digest('hex')
    .slice(0, 16);
  return { key, id, source };
}

/** HMAC-SHA256 of `value` under `key`, hex. */
export function fingerprintOf(key: FingerprintKey, value: string): string {
  return createHmac('sha256', key.key).update(value, 'utf8').digest('hex');
}

/** Two environments holding one value under a name that is not shared (or shared on purpose). */
export interface SharedValue {
  /** The environment asked about. */
  environment: string;
  name: string;
  /** The other environment holding the same value, and the name it has there. */
  other: { environment: string; name: string };
  /** True when both names are in `secrets.shared`: allowed. */
  allowed: boolean;
}

/**
 * Values of `environment` that another environment also holds, judged by fingerprints made with
 * the same key. Pure.
 * @param candidate a value about to be set (its fingerprint, with the key id), not yet recorded.
 */
export function sharedValues(
  fingerprints: readonly SecretFingerprint[],
  environment: string,
  shared: readonly string[],
  candidate?: { name: string; fingerprint: string; keyId: string },
): SharedValue[] {
  const mine = fingerprints.filter((f) => f.environment === environment);
  const others = fingerprints.filter((f) => f.environment !== environment);
  const own = candidate
    ? [{ name: candidate.name, fingerprint: candidate.fingerprint, keyId: candidate.keyId }]
    : mine;
  const out: SharedValue[] = [];
  const seen = new Set<string>();
  for (const f of own) {
    for (const o of others) {
      if (o.keyId !== f.keyId || o.fingerprint !== f.fingerprint) continue;
      const id = `${f.name}\0${o.environment}\0${o.name}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({
        environment,
        name: f.name,
        other: { environment: o.environment, name: o.name },
        allowed: shared.includes(f.name) && shared.includes(o.name),
      });
    }
  }
  return out;
}

/** "STRIPE_KEY on staging holds the value of STRIPE_KEY on production" — names only. */
export function describeSharedValue(s: SharedValue): string {
  const there = s.other.name === s.name ? s.name : s.other.name;
  return `${s.name} on ${s.environment} holds the same value as ${there} on ${s.other.environment}`;
}
