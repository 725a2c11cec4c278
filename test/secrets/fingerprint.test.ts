/**
 * Keyed fingerprints (src/secrets/fingerprint.ts): the key comes from AIRLOCK_FINGERPRINT_KEY or
 * a 0600 file in the Airlock home; equal values are found only under the same key; a value is
 * allowed in two environments only when both names are shared.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { fingerprintKey, fingerprintOf, sharedValues } from '../../src/secrets/fingerprint.ts';
import type { SecretFingerprint } from '../../src/state/state-store.ts';

const row = (
  environment: string,
  name: string,
  fingerprint: string,
  keyId = 'k1',
): SecretFingerprint => ({
  environment,
  service: 'web',
  name,
  fingerprint,
  keyId,
  actor: 'dev',
  at: '2026-01-01T00:00:00.000Z',
});

describe('fingerprints', () => {
  it('keys: the variable first, else a 0600 file created once; a short variable is refused', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'airlock-fp-'));
    try {
      expect(fingerprintKey(home, {}, { create: false })).toBeNull();
      const made = fingerprintKey(home, {}, { create: true });
      expect(made?.source).toBe(path.join(home, 'fingerprint.key'));
      expect(statSync(path.join(home, 'fingerprint.key')).mode & 0o777).toBe(0o600);
      expect(fingerprintKey(home, {}, { create: true })?.id).toBe(made?.id);
      const fromEnv = fingerprintKey(
        home,
        { AIRLOCK_FINGERPRINT_KEY: 'x'.repeat(32) },
        { create: true },
      );
      expect(fromEnv?.source).toBe('AIRLOCK_FINGERPRINT_KEY');
      expect(fromEnv?.id).not.toBe(made?.id);
      expect(fingerprintOf(made!, 'v')).not.toBe(fingerprintOf(fromEnv!, 'v'));
      expect(fingerprintOf(made!, 'v')).toMatch(/^[0-9a-f]{64}$/);
      let error: unknown;
      try {
        fingerprintKey(home, { AIRLOCK_FINGERPRINT_KEY: 'short' }, { create: true });
      } catch (e) {
        error = e;
      }
      expect(hasCode(error, 'FINGERPRINT_KEY_WEAK')).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('finds one value in two environments, allowed only when both names are shared, never across keys', () => {
    const rows = [
      row('staging', 'MAPS_KEY', 'aa'),
      row('staging', 'DB_PASSWORD', 'bb'),
      row('production', 'MAPS_KEY', 'aa'),
      row('production', 'API_TOKEN', 'bb'),
      row('production', 'OTHER', 'cc', 'k2'),
      row('staging', 'OTHER', 'cc', 'k1'),
    ];
    expect(sharedValues(rows, 'production', ['MAPS_KEY'])).toEqual([
      {
        environment: 'production',
        name: 'MAPS_KEY',
        other: { environment: 'staging', name: 'MAPS_KEY' },
        allowed: true,
      },
      {
        environment: 'production',
        name: 'API_TOKEN',
        other: { environment: 'staging', name: 'DB_PASSWORD' },
        allowed: false,
      },
    ]);
    // One side shared is not enough.
    expect(sharedValues(rows, 'production', ['API_TOKEN'])[1]?.allowed).toBe(false);
    // A candidate not yet recorded.
    expect(
      sharedValues(rows, 'production', [], { name: 'NEW', fingerprint: 'bb', keyId: 'k1' }),
    ).toEqual([
      {
        environment: 'production',
        name: 'NEW',
        other: { environment: 'staging', name: 'DB_PASSWORD' },
        allowed: false,
      },
    ]);
  });
});
