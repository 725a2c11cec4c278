/**
 * Secret stores besides the platform: age-encrypted per-environment files in the repository
 * (set with the public key only, read with the environment's private key; another environment's
 * key is refused) and Infisical (a FAKE server shaped after its REST API), each carried through a
 * real `airlock deploy` of the notes example until the app process sees the value.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import {
  EncryptedFileStore,
  isEncryptedDotenv,
  privateKeyVariable,
} from '../../src/secrets/stores/encrypted-file-store.ts';
import { InfisicalStore } from '../../src/secrets/stores/infisical-store.ts';
import { startFakeInfisical } from '../fakes/infisical/fake-infisical.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { projectHome, type TestProject } from '../helpers/project.ts';

const VALUE = 'tok_store-value-9a8b7c6d5e';
const sha = (v: string) => createHash('sha256').update(v).digest('hex');

const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'airlock-store-'));
  tmp.push(d);
  return d;
}

describe('encrypted-file store', () => {
  it('round-trips with the public key for writing and the private key for reading; a wrong key is refused', async () => {
    const dir = tempDir();
    const home = tempDir();
    const store = new EncryptedFileStore(dir, 'secrets/.env.{environment}', {}, home);
    const staging = await store.keygen('staging');
    const production = await store.keygen('production');
    expect(staging.publicKey).toMatch(/^age1/);
    // Writing needs no private key: a store with an empty home and no variables can set.
    const writer = new EncryptedFileStore(dir, 'secrets/.env.{environment}', {}, tempDir());
    await writer.set('staging', { API_TOKEN: VALUE, OTHER: 'x' });
    const text = readFileSync(path.join(dir, 'secrets/.env.staging'), 'utf8');
    expect(text).not.toContain(VALUE);
    expect(text).toContain(`AIRLOCK_PUBLIC_KEY="${staging.publicKey}"`);
    expect(isEncryptedDotenv(text)).toBe(true);
    expect(await writer.names('staging')).toEqual(['API_TOKEN', 'OTHER']);

    const stagingKey = readFileSync(staging.keyFile, 'utf8').trim();
    const reader = new EncryptedFileStore(
      dir,
      'secrets/.env.{environment}',
      { [privateKeyVariable('staging')]: stagingKey },
      tempDir(),
    );
    expect(await reader.read('staging')).toEqual({ API_TOKEN: VALUE, OTHER: 'x' });

    // Production's private key does not open staging's file.
    const wrong = new EncryptedFileStore(
      dir,
      'secrets/.env.{environment}',
      { AIRLOCK_SECRETS_KEY_STAGING: readFileSync(production.keyFile, 'utf8').trim() },
      tempDir(),
    );
    const refused = await wrong.read('staging').catch((e: unknown) => e);
    expect(hasCode(refused, 'SECRETS_KEY_WRONG')).toBe(true);
    expect((refused as Error).message).toContain(
      "AIRLOCK_SECRETS_KEY_STAGING does not decrypt API_TOKEN in secrets/.env.staging: it is not staging's private key",
    );
    expect((refused as Error).message).not.toContain(VALUE);
    const none = await writer.read('staging').catch((e: unknown) => e);
    expect(hasCode(none, 'SECRETS_KEY_MISSING')).toBe(true);
    const garbage = new EncryptedFileStore(
      dir,
      'secrets/.env.{environment}',
      { AIRLOCK_SECRETS_KEY_STAGING: 'nope' },
      tempDir(),
    );
    expect(
      hasCode(await garbage.read('staging').catch((e: unknown) => e), 'SECRETS_KEY_INVALID'),
    ).toBe(true);
  });
});

describe('Infisical store (FAKE server)', () => {
  it('sets, updates and reads through universal auth, at the path of each environment', async () => {
    const fake = await startFakeInfisical({ clientId: 'id-1', clientSecret: 'secret-1' });
    try {
      const settings = {
        url: fake.url,
        projectId: 'proj-1',
        environment: 'prod',
        path: '/{environment}',
      };
      const store = new InfisicalStore(settings, {
        INFISICAL_CLIENT_ID: 'id-1',
        INFISICAL_CLIENT_SECRET: 'secret-1',
      });
      await store.set('staging', { API_TOKEN: 'one' });
      await store.set('staging', { API_TOKEN: VALUE });
      expect(await store.read('staging')).toEqual({ API_TOKEN: VALUE });
      expect(await store.names('production')).toEqual([]);
      expect([...(fake.secrets.get('proj-1/prod:/staging') ?? [])]).toEqual([['API_TOKEN', VALUE]]);
      expect(fake.requests).toContain('PATCH /api/v3/secrets/raw/API_TOKEN');
      const denied = new InfisicalStore(settings, { INFISICAL_TOKEN: 'not-a-token' });
      const error = await denied.read('staging').catch((e: unknown) => e);
      expect((error as Error).message).toBe(
        'Infisical refused GET /api/v3/secrets/raw: HTTP 401 (Token missing or invalid).',
      );
    } finally {
      await fake.close();
    }
  });
});

/** The notes app started through probe.js, which writes sha256(API_TOKEN) to PROBE_FILE first. */
const PROBE = `import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
writeFileSync(process.env.PROBE_FILE, createHash('sha256').update(process.env.API_TOKEN ?? '').digest('hex'));
await import('./server.js');
`;

function withProbe(project: TestProject, store: Record<string, unknown>): string {
  const probe = path.join(project.dir, '..', `${path.basename(project.dir)}-probe.txt`);
  tmp.push(probe);
  project.editConfig((doc) => {
    doc.set('secrets', { store });
    doc.setIn(['services', 'notes', 'run'], 'node probe.js');
    doc.setIn(['environments', 'staging', 'services', 'notes', 'vars', 'PROBE_FILE'], probe);
  });
  project.commitFiles({ 'src/probe.js': PROBE }, 'probe the secret the app sees');
  return probe;
}

describe('a store carried through airlock deploy', () => {
  projectTestWith()(
    'Infisical (FAKE): the value set reaches the app; never printed',
    async ({ project }) => {
      const fake = await startFakeInfisical({
        clientId: 'ci-staging',
        clientSecret: 'cs-staging-0123456789',
      });
      try {
        const probe = withProbe(project, {
          infisical: { url: fake.url, projectId: 'proj-9', path: '/{environment}' },
        });
        const env = {
          INFISICAL_CLIENT_ID: 'ci-staging',
          INFISICAL_CLIENT_SECRET: 'cs-staging-0123456789',
        };
        const set = await project.cli(['secret', 'set', 'staging', 'API_TOKEN'], {
          input: VALUE,
          env,
        });
        expect(set.code, set.stderr).toBe(0);
        expect(set.stdout).toContain(
          'API_TOKEN set for notes on staging (Infisical staging:/staging)',
        );
        expect(fake.secrets.get('proj-9/staging:/staging')?.get('API_TOKEN')).toBe(VALUE);
        const deployed = await project.cli(['deploy', 'staging', '--json'], { env });
        expect(deployed.code, deployed.stderr).toBe(0);
        expect(readFileSync(probe, 'utf8')).toBe(sha(VALUE));
        for (const text of [set.stdout, set.stderr, deployed.stdout, deployed.stderr])
          expect(text).not.toContain(VALUE);
      } finally {
        await fake.close();
      }
    },
  );

  projectTestWith()(
    'encrypted file: keygen, set with the public key, deploy decrypts with the private key',
    async ({ project }) => {
      const probe = withProbe(project, { encryptedFile: { path: '.env.{environment}' } });
      const keygen = await project.cli(['secret', 'keygen', 'staging', '--json']);
      expect(keygen.code, keygen.stderr).toBe(0);
      const { keyFile } = JSON.parse(keygen.stdout) as { keyFile: string };
      const privateKey = readFileSync(keyFile, 'utf8').trim();
      expect(keygen.stdout).not.toContain(privateKey);
      expect(path.dirname(path.dirname(keyFile))).toBe(projectHome(project.dir));
      const set = await project.cli(['secret', 'set', 'staging', 'API_TOKEN'], {
        input: VALUE,
        env: {},
      });
      expect(set.code, set.stderr).toBe(0);
      expect(readFileSync(path.join(project.dir, '.env.staging'), 'utf8')).not.toContain(VALUE);
      project.commitFiles({}, 'the encrypted secrets of staging');
      // CI holds the key in the variable only (no key file on the runner).
      rmSync(keyFile);
      const noKey = await project.cli(['deploy', 'staging']);
      expect(noKey.code).not.toBe(0);
      expect(noKey.stdout + noKey.stderr).toContain('AIRLOCK_SECRETS_KEY_STAGING is not set');
      const deployed = await project.cli(['deploy', 'staging'], {
        env: { AIRLOCK_SECRETS_KEY_STAGING: privateKey },
      });
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(existsSync(probe)).toBe(true);
      expect(readFileSync(probe, 'utf8')).toBe(sha(VALUE));
      const doctor = await project.cli(['doctor']);
      expect(doctor.stdout).toContain('✓ plaintext .env: no plaintext .env file is tracked.');
      for (const text of [set.stdout, deployed.stdout, deployed.stderr, doctor.stdout]) {
        expect(text).not.toContain(VALUE);
        expect(text).not.toContain(privateKey);
      }
    },
  );
});
