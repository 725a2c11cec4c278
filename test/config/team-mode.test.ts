/** Team-mode configuration: Postgres or D1 state, per-environment Postgres databases, isolation. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { usableDatabase } from '../../src/config/resolve.ts';
import { ConfigError, formatDiagnostic } from '../../src/errors.ts';
import { yaml } from './yaml-text.ts';

const POSTGRES = yaml`
  project: notes
  state: \${AIRLOCK_STATE}
  pipeline: [staging, production]
  services:
    notes:
      build: { command: node scripts/build.mjs, output: dist }
      run: node server.js
      database: { engine: postgres, migrations: migrations-postgres }
  environments:
    staging:
      services: { notes: { port: 4100, databaseUrl: "\${STAGING_DATABASE_URL}" } }
    production:
      services: { notes: { port: 4200, databaseUrl: "postgres://app:pw@db.internal:5432/notes_production" } }
`;

const env = {
  AIRLOCK_STATE: 'postgres://airlock:st4te@db.internal/airlock',
  STAGING_DATABASE_URL: 'postgres://app:s3cret@db.internal:5432/notes_staging',
};

function errors(text: string, environment: Record<string, string>): string[] {
  try {
    parseConfig(text, '/tmp/x/airlock.yaml', 'airlock.yaml', environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.diagnostics.map(formatDiagnostic);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('team mode configuration', () => {
  it('reads the state store and each database from the environment; masks passwords for display', () => {
    const config = parseConfig(POSTGRES, '/tmp/x/airlock.yaml', 'airlock.yaml', env);
    expect(config.state).toEqual({
      kind: 'postgres',
      url: 'postgres://airlock:st4te@db.internal/airlock',
      display: 'postgres://airlock:***@db.internal/airlock',
    });
    const staging = config.environments.staging?.services.notes?.database;
    expect(staging).toMatchObject({
      engine: 'postgres',
      url: env.STAGING_DATABASE_URL,
      display: 'postgres://app:***@db.internal:5432/notes_staging',
      migrationsDir: '/tmp/x/migrations-postgres',
    });
    expect(config.environments.production?.services.notes?.database?.url).toBe(
      'postgres://app:pw@db.internal:5432/notes_production',
    );
  });

  it('AIRLOCK_STATE_URL overrides state:', () => {
    const config = parseConfig(POSTGRES, '/tmp/x/airlock.yaml', 'airlock.yaml', {
      ...env,
      AIRLOCK_STATE_URL: 'postgres://other@h/db',
    });
    expect(config.state).toMatchObject({ kind: 'postgres', url: 'postgres://other@h/db' });
  });

  it('reads a d1:// state: account and database from the URL, the token from AIRLOCK_STATE_TOKEN, else CLOUDFLARE_API_TOKEN', () => {
    const url = 'd1://0123abcd/4567-ef89';
    const config = parseConfig(POSTGRES, '/tmp/x/airlock.yaml', 'airlock.yaml', {
      ...env,
      AIRLOCK_STATE: url,
      AIRLOCK_STATE_TOKEN: 'state-token-value',
      CLOUDFLARE_API_TOKEN: 'deploy-token-value',
    });
    expect(config.state).toEqual({
      kind: 'd1',
      url,
      display: url,
      accountId: '0123abcd',
      databaseId: '4567-ef89',
      apiToken: 'state-token-value',
      baseUrl: null,
    });
    const fallback = parseConfig(POSTGRES, '/tmp/x/airlock.yaml', 'airlock.yaml', {
      ...env,
      AIRLOCK_STATE: url,
      CLOUDFLARE_API_TOKEN: 'deploy-token-value',
    });
    expect(fallback.state).toMatchObject({ kind: 'd1', apiToken: 'deploy-token-value' });
  });

  it('refuses a d1:// state that is not d1://<account-id>/<database-id>, without showing a password in it', () => {
    const [message] = errors(POSTGRES, { ...env, AIRLOCK_STATE: 'd1://user:s3cret@acct/db' });
    expect(message).toContain('state: expected d1://<account-id>/<database-id>');
    expect(message).not.toContain('s3cret');
    expect(errors(POSTGRES, { ...env, AIRLOCK_STATE: 'd1://acct' })[0]).toContain(
      'AIRLOCK_STATE_TOKEN or CLOUDFLARE_API_TOKEN',
    );
  });

  it('a malformed URL in a variable names the variable and the line that reads it, never the value', () => {
    const found = errors(POSTGRES, { ...env, STAGING_DATABASE_URL: 'postgres//app:s3cret@db/x' });
    expect(found).toEqual([
      'airlock.yaml:11:51: error: environments.staging.services.notes.databaseUrl: reads $STAGING_DATABASE_URL, whose value is not a valid postgres:// URL (the value is not shown: it may hold a password). Fix: set STAGING_DATABASE_URL to a valid URL like postgres://user@host:5432/notes_staging (postgres://user:password@host:port/database).',
    ]);
    // A URL that cannot be parsed (a port out of range) is malformed too.
    expect(
      errors(POSTGRES, { ...env, STAGING_DATABASE_URL: 'postgres://app:s3cret@db:99999/x' }),
    ).toEqual(found);
    // The state store's variable likewise, rather than a file named like the URL.
    const state = errors(POSTGRES, { ...env, AIRLOCK_STATE: 'postgres//airlock:st4te@db/airlock' });
    expect(state).toEqual([
      'airlock.yaml:2:8: error: state: reads $AIRLOCK_STATE, whose value is not a valid postgres:// URL (the value is not shown: it may hold a password). Fix: set AIRLOCK_STATE to a valid URL like postgres://user@host:5432/airlock (postgres://user:password@host:port/database).',
    ]);
    expect([...found, ...state].join('\n')).not.toMatch(/s3cret|st4te/);
  });

  it('an unset database variable stops only what touches that environment, naming file, line and variable', () => {
    // A CI job for production holds no staging secret here: the file still loads.
    const config = parseConfig(POSTGRES, '/tmp/x/airlock.yaml', 'airlock.yaml', {
      AIRLOCK_STATE: env.AIRLOCK_STATE,
    });
    const staging = config.environments.staging?.services.notes?.database;
    const production = config.environments.production?.services.notes?.database;
    expect(usableDatabase(production!).url).toBe(
      'postgres://app:pw@db.internal:5432/notes_production',
    );
    expect(staging?.display).toBe('(unset: $STAGING_DATABASE_URL)');
    expect(() => usableDatabase(staging!)).toThrow(
      "airlock.yaml:11:51: error: environments.staging.services.notes.databaseUrl: reads $STAGING_DATABASE_URL, which is not set in the environment. Fix: export STAGING_DATABASE_URL=postgres://user:password@host:5432/notes_staging (this environment's database) before running a command that touches staging.",
    );
    // A variable that is not set, not an invalid file: named in the heading and the hint.
    expect(() => usableDatabase(staging!)).toThrow(
      expect.objectContaining({
        code: 'CONFIG_VARIABLE_UNSET',
        title:
          "STAGING_DATABASE_URL is not set: staging's database URL is read from it (airlock.yaml itself is valid).",
        hint: 'Set STAGING_DATABASE_URL in this shell (export), or as a secret of the CI job that runs this command, then run the command again.',
      }),
    );
  });

  it('refuses two environments on the same database, naming both (seeds 001 and 003)', () => {
    const shared = errors(POSTGRES, {
      ...env,
      STAGING_DATABASE_URL: 'postgres://other-user:x@DB.internal/notes_production',
    });
    expect(shared).toEqual([
      'airlock.yaml:13:51: error: environments.production.services.notes.databaseUrl: production and staging resolve to the same database (db.internal:5432/notes_production); environments never share a database, so a staging mistake cannot touch production data. Fix: give production its own database (e.g. db.internal:5432/notes_production).',
    ]);
    expect(shared.join()).not.toContain(':x@');
  });

  it('explains an unquoted ${VAR} inside a { … } mapping', () => {
    const unquoted = POSTGRES.replace('"${STAGING_DATABASE_URL}"', '${STAGING_DATABASE_URL}');
    expect(errors(unquoted, env)[0]).toBe(
      'airlock.yaml:11:51: error: invalid YAML: `${…}` inside a `{ … }` mapping starts another mapping. Fix: quote the value, e.g. `databaseUrl: "${STAGING_DATABASE_URL}"`, or write the mapping as an indented block.',
    );
  });

  it('requires databaseUrl in every environment with engine postgres, and refuses it with sqlite', () => {
    const missing = POSTGRES.replace(', databaseUrl: "${STAGING_DATABASE_URL}"', '');
    expect(errors(missing, env)).toEqual([
      'airlock.yaml:11:17: error: environments.staging.services.notes.databaseUrl: is required: with engine postgres every environment names its own database (data is never shared between environments). Fix: add `databaseUrl: ${STAGING_DATABASE_URL}` under environments.staging.services.notes, and export that variable.',
    ]);
    const sqlite = POSTGRES.replace('engine: postgres', 'engine: sqlite');
    expect(errors(sqlite, env)[0]).toContain(
      'environments.staging.services.notes.databaseUrl: is only for engine postgres',
    );
  });
});

describe('airlock config show', () => {
  it('masks database and state passwords', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-show-'));
    try {
      writeFileSync(path.join(dir, 'airlock.yaml'), POSTGRES);
      const bin = new URL('../../bin/airlock.js', import.meta.url).pathname;
      const out = execFileSync(process.execPath, [bin, 'config', 'show', '--json'], {
        cwd: dir,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      expect(out).not.toContain('s3cret');
      expect(out).not.toContain('st4te');
      expect(out).not.toContain(':pw@');
      const json = JSON.parse(out);
      expect(json.state).toBe('postgres://airlock:***@db.internal/airlock');
      expect(json.environments.staging.services.notes.database.url).toBe(
        'postgres://app:***@db.internal:5432/notes_staging',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
