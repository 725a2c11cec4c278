/**
 * `${NAME}` is read the same way in every field where a URL or a credential goes: a service's
 * `vars`, a check's `path`, `headers` and `body`, a command check's `env` (and its `run`, through
 * its shell). An unset variable is never passed on as text: it stops the commands that touch
 * that environment, naming the file, line and variable.
 */
import { describe, expect, it } from 'vitest';
import type { CommandCheckSpec, HttpCheckSpec } from '../../src/checks/check.ts';
import { parseConfig } from '../../src/config/load.ts';
import { usableService } from '../../src/config/resolve.ts';
import { yaml } from './yaml-text.ts';

const CONFIG = yaml`
  project: api
  pipeline: [staging, production]
  services:
    api:
      build: { command: node build.mjs, output: dist }
      run: node server.js
      database: { engine: postgres, migrations: migrations }
      checks:
        - name: version
          type: http
          path: /version?key=\${SMOKE_KEY}
          headers: { authorization: "Bearer \${SMOKE_TOKEN}", x-env: "\${environment}" }
          expect: { json: { release: "\${release.id}" } }
        - name: e2e
          type: command
          run: npm test -- --url "\${BASE_URL}" --db "\${DATABASE_URL}" --key "\${E2E_KEY}"
          env: { TEST_DATABASE_URL: "\${STAGING_DATABASE_URL}", MODE: "smoke-\${MODE_SUFFIX}" }
  environments:
    staging:
      services:
        api:
          port: 4100
          databaseUrl: "\${STAGING_DATABASE_URL}"
          vars: { API_URL: "https://\${API_HOST}/v1", LOG_LEVEL: debug }
    production:
      services:
        api:
          port: 4200
          databaseUrl: postgres://app:pw@db.internal/api_production
          vars: { LOG_LEVEL: info }
          checks: []
`;

const ENV = {
  STAGING_DATABASE_URL: 'postgres://app:s3cret@db.internal/api_staging',
  SMOKE_KEY: 'k1',
  SMOKE_TOKEN: 'tok-123456',
  MODE_SUFFIX: 'fast',
  API_HOST: 'api.staging.example',
  E2E_KEY: 'e2e-key',
};

describe('${NAME} references', () => {
  it('are read in vars, check env, headers and path; check placeholders stay for the check', () => {
    const config = parseConfig(CONFIG, '/tmp/x/airlock.yaml', 'airlock.yaml', ENV);
    const staging = config.environments.staging?.services.api;
    if (!staging) throw new Error('staging.api not resolved');
    expect(staging.vars).toEqual({
      API_URL: 'https://api.staging.example/v1',
      LOG_LEVEL: 'debug',
    });
    const [http, command] = staging.checks as [HttpCheckSpec, CommandCheckSpec];
    expect(http.path).toBe('/version?key=k1');
    expect(http.headers).toEqual({ authorization: 'Bearer tok-123456', 'x-env': '${environment}' });
    expect(http.expect.json).toEqual({ release: '${release.id}' });
    expect(command.env).toEqual({
      TEST_DATABASE_URL: ENV.STAGING_DATABASE_URL,
      MODE: 'smoke-fast',
    });
    // run is expanded by its shell from the check's environment: never rewritten, so values
    // stay out of argv and messages.
    expect(command.run).toContain('--key "${E2E_KEY}"');
    expect(staging?.unset).toEqual([]);
    // Values read are known, so output that would show them can mask them.
    expect(staging?.references.map((r) => r.name).sort()).toEqual([
      'API_HOST',
      'MODE_SUFFIX',
      'SMOKE_KEY',
      'SMOKE_TOKEN',
      'STAGING_DATABASE_URL',
    ]);
    expect(usableService(staging!)).toBe(staging);
  });

  it('an unset one stops only what touches that environment, naming file, line and variable', () => {
    const { SMOKE_TOKEN: _, API_HOST: __, E2E_KEY: ___, ...partial } = ENV;
    const config = parseConfig(CONFIG, '/tmp/x/airlock.yaml', 'airlock.yaml', partial);
    const production = config.environments.production?.services.api;
    expect(usableService(production!)).toBe(production);
    const staging = config.environments.staging?.services.api;
    // Never passed on as literal text.
    expect(staging?.vars.API_URL).not.toContain('${');
    let message = '';
    try {
      usableService(staging!);
    } catch (error) {
      message = String((error as Error).message);
    }
    expect(message).toContain(
      'airlock.yaml:12:35: error: services.api.checks[0].headers.authorization: reads $SMOKE_TOKEN for staging, which is not set in the environment (Airlock never passes ${SMOKE_TOKEN} on as text). Fix: export SMOKE_TOKEN before running a command that touches staging, or remove the reference.',
    );
    expect(message).toContain(
      'airlock.yaml:16:14: error: services.api.checks[1].run: reads $E2E_KEY for staging',
    );
    expect(message).toContain(
      'airlock.yaml:24:26: error: environments.staging.services.api.vars.API_URL: reads $API_HOST for staging',
    );
  });
});
