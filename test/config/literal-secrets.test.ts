/**
 * A literal secret written into airlock.yaml (a password in a `databaseUrl`): the loader finds it
 * as `airlock doctor` does (secretlint's recommended rules) and warns at its line and field, with
 * the `${NAME}` to write instead, never the value; `airlock config validate` and every command
 * that opens a session print the warning, and the cache of validated files keeps it.
 */
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheSlot, resolveCachedConfig } from '../../src/config/config-cache.ts';
import { loadCheckedConfig, loadConfig, parseConfig } from '../../src/config/load.ts';
import { formatDiagnostic } from '../../src/errors.ts';
import { findSecretStrings } from '../../src/secrets/secret-strings.ts';
import { projectTest } from '../helpers/fixtures.ts';
import { yaml } from './yaml-text.ts';

// Put together at run time so this file holds no connection string with a password itself.
const PASSWORD = 'LiteralPW99';
const LITERAL_URL = ['postgres://postgres', `${PASSWORD}@127.0.0.1:5432/app`].join(':');

const TEXT = yaml`
  project: shop
  pipeline: [staging, production]
  services:
    web:
      build: { command: node build.mjs, output: dist }
      run: node server.js
      database: { engine: postgres, migrations: migrations }
  environments:
    staging:
      services:
        web:
          port: 4100
          databaseUrl: LITERAL_URL
    production:
      services:
        web: { port: 4200, databaseUrl: "\${PRODUCTION_DATABASE_URL}" }
`.replace('LITERAL_URL', LITERAL_URL);

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(text = TEXT): { dir: string; file: string; env: Record<string, string> } {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'airlock-literal-secret-')));
  dirs.push(dir);
  const file = path.join(dir, 'airlock.yaml');
  writeFileSync(file, text);
  return {
    dir,
    file,
    env: {
      AIRLOCK_HOME: path.join(dir, 'home'),
      PRODUCTION_DATABASE_URL: 'postgres://app@db.internal/shop_production',
    },
  };
}

const EXPECTED =
  'airlock.yaml:13:22: warning: environments.staging.services.web.databaseUrl: holds a literal password (secretlint: PostgreSQLConnection; not shown): whoever can read the file or its git history can use it. Fix: read it from an environment variable: `databaseUrl: "${STAGING_DATABASE_URL}"`, with STAGING_DATABASE_URL set where airlock runs (in CI as a secret; `airlock ci init` passes it to the jobs). Then change the credential: the old value stays in the git history.';

describe('a literal secret in airlock.yaml', () => {
  it('is a warning at its line and field, with the variable to read instead, never the value', async () => {
    const { dir, env } = project();
    const config = await loadCheckedConfig({ cwd: dir, env });
    expect(config.warnings.map(formatDiagnostic)).toEqual([EXPECTED]);
    expect(JSON.stringify(config.warnings)).not.toContain(PASSWORD);
    // The same file with the URL read from the environment: nothing to say.
    const clean = project(TEXT.replace(LITERAL_URL, '"${STAGING_DATABASE_URL}"'));
    const fine = await loadCheckedConfig({
      cwd: clean.dir,
      env: { ...clean.env, STAGING_DATABASE_URL: LITERAL_URL.replace('/app', '/app_staging') },
    });
    expect(fine.warnings).toEqual([]);
  });

  it('names a secret var, one in a comment, and the state URL by where they are', async () => {
    const token = ['ghp', 'wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx'].join('_');
    const { dir, env } = project(
      TEXT.replace('project: shop\n', `project: shop\nstate: ${LITERAL_URL}\n# old: ${token}\n`)
        .replace(`databaseUrl: ${LITERAL_URL}`, 'databaseUrl: "${STAGING_DATABASE_URL}"')
        .replace(
          '    run: node server.js\n',
          `    run: node server.js\n    vars: { GITHUB_TOKEN: ${token} }\n`,
        ),
    );
    const config = await loadCheckedConfig({
      cwd: dir,
      env: { ...env, STAGING_DATABASE_URL: 'postgres://app@db.internal/shop_staging' },
    });
    const shown = config.warnings.map(formatDiagnostic).filter((w) => w.includes('secretlint'));
    expect(shown).toEqual([
      expect.stringMatching(
        /^airlock\.yaml:2:8: warning: state: holds a literal password .* Fix: read it from an environment variable: `state: "\$\{AIRLOCK_STATE_URL\}"`/,
      ),
      expect.stringMatching(
        /^airlock\.yaml:3:8: warning: holds a secret-looking string outside any value, e\.g\. in a comment .* Fix: remove it\./,
      ),
      expect.stringMatching(
        /^airlock\.yaml:9:27: warning: services\.web\.vars\.GITHUB_TOKEN: holds a secret-looking string .* Fix: make it a secret of each environment rather than a var: remove it here and run `airlock secret set <environment> GITHUB_TOKEN`/,
      ),
    ]);
    for (const line of shown) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(PASSWORD);
    }
  });

  it('is kept by the cache of validated files, so a command that hits it still warns', async () => {
    const { dir, file, env } = project();
    const located = { file, displayFile: 'airlock.yaml' };
    const slot = cacheSlot(located, TEXT, env, 'test-identity');
    parseConfig(TEXT, file, 'airlock.yaml', env, slot, await findSecretStrings(file, TEXT));
    const hit = resolveCachedConfig(located, slot, env);
    expect(hit?.warnings.map(formatDiagnostic)).toEqual([EXPECTED]);
    // The synchronous loader does not scan (a library caller that wants it awaits loadCheckedConfig).
    expect(loadConfig({ cwd: dir, env }).warnings).toEqual([]);
  });

  projectTest(
    'airlock config validate and a command that opens a session print it; exit 0',
    async ({ project }) => {
      project.editConfig((doc) => {
        doc.setIn(
          ['services', 'notes', 'database'],
          doc.createNode({ engine: 'postgres', migrations: 'migrations-postgres' }),
        );
        doc.setIn(['environments', 'staging', 'services', 'notes', 'databaseUrl'], LITERAL_URL);
        doc.setIn(
          ['environments', 'production', 'services', 'notes', 'databaseUrl'],
          '${NOTES_TEST_PRODUCTION_DB}',
        );
      });
      const env = { NOTES_TEST_PRODUCTION_DB: 'postgres://app@db.internal/notes_production' };
      const warning =
        /⚠ airlock\.yaml:\d+:\d+: environments\.staging\.services\.notes\.databaseUrl: holds a literal password \(secretlint: PostgreSQLConnection; not shown\)[^\n]* Fix: read it from an environment variable: `databaseUrl: "\$\{STAGING_DATABASE_URL\}"`/;
      const validate = await project.cli(['config', 'validate'], { env });
      expect(validate.code, validate.stderr).toBe(0);
      expect(validate.stderr).toMatch(warning);
      const json = JSON.parse(
        (await project.cli(['config', 'validate', '--json'], { env })).stdout,
      );
      expect(json.warnings).toEqual([
        expect.objectContaining({
          severity: 'warning',
          path: 'environments.staging.services.notes.databaseUrl',
        }),
      ]);
      const status = await project.cli(['status'], { env });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toMatch(warning);
      for (const out of [validate.stdout, validate.stderr, status.stdout, status.stderr])
        expect(out).not.toContain(PASSWORD);
    },
  );
});
