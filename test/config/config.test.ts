import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { ConfigError, formatDiagnostic, hasCode } from '../../src/errors.ts';
import { VALID_EXAMPLE, yaml } from './yaml-text.ts';

const FILE = '/tmp/x/airlock.yaml';

/** The formatted diagnostics of a config that must be rejected. */
function errorsOf(text: string): string[] {
  try {
    parseConfig(text, FILE, 'airlock.yaml');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.diagnostics.every((d) => d.severity === 'error')).toBe(true);
    return error.diagnostics.map(formatDiagnostic);
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

/** The ConfigError a config that must be rejected throws. */
function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, FILE, 'airlock.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

/**
 * One service `notes` (build and run on lines 5-6, `serviceLines` from line 7), then
 * `environmentsBlock` (default: staging on 4100, production on 4200).
 */
function withService(serviceLines: string, environmentsBlock?: string): string {
  return [
    'project: notes',
    'pipeline: [staging, production]',
    'services:',
    '  notes:',
    '    build: { command: node scripts/build.mjs, output: dist }',
    '    run: node server.js',
    ...(serviceLines ? serviceLines.trimEnd().split('\n') : []),
    'environments:',
    ...(
      environmentsBlock ??
      yaml`
        staging:
          services: { notes: { port: 4100 } }
        production:
          services: { notes: { port: 4200 } }
      `
    )
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`),
    '',
  ].join('\n');
}

describe('invalid configs: every diagnostic says where, what was expected, and the fix', () => {
  it('a YAML syntax error (an unclosed flow list)', () => {
    const error = errorOf(yaml`
      project: notes
      pipeline: [staging, production
      services: {}
    `);
    expect(error.message).toBe(
      'airlock.yaml:3:1: error: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]. Fix: close the [ list opened above with "]" on the same line, or write it as an indented block.',
    );
    expect(error.hint).toBe('Fix the YAML in airlock.yaml, then run `airlock config validate`.');
  });

  it('tabs used as indentation', () => {
    expect(errorsOf('project: notes\npipeline:\n\t- staging\n')).toEqual([
      'airlock.yaml:3:1: error: invalid YAML: Tabs are not allowed as indentation. Fix: indent with spaces, not tabs.',
    ]);
  });

  it('a key indented one space too far under environments: points at that line, not the key after it', () => {
    const text = VALID_EXAMPLE.replace(/^ {2}staging:$/m, '   staging:');
    const lines = text.split('\n');
    const staging = lines.indexOf('   staging:') + 1;
    const production = lines.indexOf('  production:') + 1;
    expect(staging).toBeGreaterThan(0);
    expect(production).toBeGreaterThan(staging);
    const environments = lines.indexOf('environments:') + 1;
    expect(errorsOf(text)).toEqual([
      `airlock.yaml:${staging}:4: error: invalid YAML: "staging:" on line ${staging} is indented 3 spaces, but the keys after it under "environments:" (line ${environments}) are indented 2 spaces, like "production:" on line ${production}. Fix: YAML nests by indentation, with spaces (never tabs), and the keys of one mapping start in the same column: indent line ${staging} by 2 spaces like line ${production}.`,
    ]);
  });

  it('one key indented wrong gives one error, however many keys follow it', () => {
    const three = VALID_EXAMPLE.replace(
      'pipeline: [staging, production]',
      'pipeline: [staging, qa, production]',
    ).replace('  production:', '  qa:\n    services: { notes: { port: 4300 } }\n  production:');
    const lines = three.split('\n');
    const staging = lines.indexOf('  staging:') + 1;
    const qa = lines.indexOf('  qa:') + 1;
    // The first environment too deep, or too shallow: the two after it line up.
    for (const wrong of ['   staging:', ' staging:']) {
      const errors = errorsOf(three.replace(/^ {2}staging:$/m, wrong));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(
        new RegExp(
          `^airlock\\.yaml:${staging}:\\d+: error: invalid YAML: "staging:" on line ${staging} is indented \\d spaces?, but the keys after it under "environments:" .* indent line ${staging} by 2 spaces like line ${qa}\\.$`,
        ),
      );
    }
    // A key in the middle of a mapping too shallow: it alone, not the keys after it as well.
    const run = VALID_EXAMPLE.split('\n').indexOf('    run: node server.js') + 1;
    expect(errorsOf(VALID_EXAMPLE.replace(/^ {4}run:/m, '   run:'))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^airlock\\.yaml:${run}:4: error: invalid YAML: "run: node server\\.js" on line ${run} is indented 3 spaces, which lines up with no mapping above it`,
        ),
      ),
    ]);
  });

  /** An environment whose `vars:` line is indented `spaces` (8 lines up with `port:`). */
  const varsIndentedBy = (spaces: number) =>
    `${yaml`
      project: notes
      pipeline: [staging]
      services:
        notes:
          build: { command: node scripts/build.mjs, output: dist }
          run: node server.js
      environments:
        staging:
          services:
            notes:
              port: 4100
    `}${' '.repeat(spaces)}vars: { LOG_LEVEL: debug }\n`;

  it('a key indented one space too little points at that line and the lines around it', () => {
    expect(errorsOf(varsIndentedBy(7))).toEqual([
      'airlock.yaml:12:8: error: invalid YAML: "vars: { LOG_LEVEL: debug }" on line 12 is indented 7 spaces, which lines up with no mapping above it ("port: 4100" on line 11 is indented 8 spaces, "notes:" on line 10 is indented 6 spaces). Fix: YAML nests by indentation, with spaces (never tabs), and the keys of one mapping start in the same column: indent line 12 by 8 spaces like line 11 or by 6 spaces like line 10, whichever mapping it belongs to.',
    ]);
  });

  it('a key indented deeper than the key: value line above it says YAML reads it as that value', () => {
    expect(errorsOf(varsIndentedBy(9))).toEqual([
      'airlock.yaml:12:10: error: invalid YAML: "vars: { LOG_LEVEL: debug }" on line 12 is indented 9 spaces, deeper than "port: 4100" on line 11 (8 spaces), so YAML reads it as more of that line\'s value. Fix: YAML nests by indentation, with spaces (never tabs), and the keys of one mapping start in the same column: indent line 12 by 8 spaces like line 11 if it is the next key of the same mapping.',
    ]);
  });

  it('a duplicate key names the key', () => {
    expect(
      errorsOf(yaml`
        project: notes
        pipeline: [staging]
        project: other
      `),
    ).toEqual([
      'airlock.yaml:3:1: error: invalid YAML: the key "project" appears twice in the same mapping. Fix: keep one of the two entries and delete the other (YAML keys must be unique).',
    ]);
  });

  it('an unknown top-level key suggests the closest one, without also reporting it missing', () => {
    const text = VALID_EXAMPLE.replace('services:\n  notes:', 'servics:\n  notes:');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:3:1: error: servics: unknown field "servics" (allowed here: $schema, project, state, artifacts, ci, github, notify, monitor, parity, secrets, releases, pipeline, services, environments). Fix: did you mean "services"?',
    ]);
  });

  it('secrets: a bad secret name, and an environment outside the pipeline, by line and field', () => {
    const [name] = errorsOf(`${VALID_EXAMPLE}secrets:\n  shared: [1BAD]\n`);
    expect(name).toMatch(
      /^airlock\.yaml:\d+:\d+: error: secrets\.shared\[0\]: expected a secret name \(letters, digits and _, not starting with a digit\), e\.g\. STRIPE_KEY/,
    );
    const [env] = errorsOf(
      `${VALID_EXAMPLE}secrets:\n  required:\n    prodution: [SESSION_SECRET]\n`,
    );
    expect(env).toMatch(
      /^airlock\.yaml:\d+:5: error: secrets\.required\.prodution: environment "prodution" is not in the pipeline\. Fix: did you mean "production"\?/,
    );
  });

  it('a typo in a service field (helth)', () => {
    expect(errorsOf(withService('    helth: { path: /health }'))).toEqual([
      'airlock.yaml:7:5: error: services.notes.helth: unknown field "helth" (allowed here: root, build, database, data, run, health, checks, vars, keepWarmMs, keepWarmReleases, drainTimeoutMs, stopTimeoutMs, cloudflare, fly, railway, command). Fix: did you mean "health"?',
    ]);
  });

  it('port at the top of a service says where it goes, with the real names', () => {
    expect(errorsOf(withService('    port: 4100'))).toEqual([
      'airlock.yaml:7:5: error: services.notes.port: "port" cannot be set here (allowed here: root, build, database, data, run, health, checks, vars, keepWarmMs, keepWarmReleases, drainTimeoutMs, stopTimeoutMs, cloudflare, fly, railway, command). Fix: port is set per environment, because each environment needs its own: move it to environments.staging.services.notes.port and environments.production.services.notes.port.',
    ]);
  });

  it('build inside an environment override is global-only', () => {
    const text = withService(
      '',
      yaml`
        staging:
          services:
            notes:
              port: 4100
              build: { command: node scripts/other.mjs, output: out }
        production:
          services: { notes: { port: 4200 } }
      `,
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:12:9: error: environments.staging.services.notes.build: "build" cannot be set here (allowed here: run, health, checks, vars, keepWarmMs, keepWarmReleases, drainTimeoutMs, stopTimeoutMs, cloudflare, fly, railway, command, port, databaseUrl). Fix: build is global-only: a release is built once and the same artifact is deployed to every environment. Set it under services.notes.build.',
    ]);
  });

  it('approval at the top of an environment belongs to the promotion policy', () => {
    const text = VALID_EXAMPLE.replace(
      'promotion: { approval: { required: 1 } }',
      'approval: { required: 1 }',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:15:5: error: environments.production.approval: "approval" cannot be set here (allowed here: provider, promotion, protected, onCheckFailure, checksLeaseMs, services). Fix: approval belongs to the promotion policy: write promotion: { approval: { required: 1 } }.',
    ]);
  });

  it('a wrong type (required: two)', () => {
    const text = VALID_EXAMPLE.replace('required: 1', 'required: two');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:15:40: error: environments.production.promotion.approval.required: expected a number, got "two". Fix: for example `required: 1`.',
    ]);
  });

  it('a number where a string is expected says to quote it', () => {
    const text = VALID_EXAMPLE.replace('{ port: 4100 }', '{ port: 4100, vars: { WORKERS: 4 } }');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:13:55: error: environments.staging.services.notes.vars.WORKERS: expected a string, got 4. Fix: quote it: `WORKERS: "4"`.',
    ]);
  });

  it('approval.identity: a typo suggests the value; oidc needs the repository', () => {
    const typo = VALID_EXAMPLE.replace('required: 1 }', 'required: 1, identity: signd }');
    expect(errorsOf(typo)).toEqual([
      expect.stringMatching(
        /^airlock\.yaml:15:\d+: error: environments\.production\.promotion\.approval\.identity: expected one of "signed", "oidc", "any", got "signd"\. Fix: did you mean "signed"\?$/,
      ),
    ]);
    const oidc = VALID_EXAMPLE.replace('required: 1 }', 'required: 1, identity: oidc }');
    expect(errorsOf(oidc)).toEqual([
      expect.stringMatching(
        /^airlock\.yaml:15:\d+: error: environments\.production\.promotion\.approval\.identity: is oidc, but approval\.oidc\.repository is not set.*Fix: add environments\.production\.promotion\.approval\.oidc: \{ repository: <owner>\/<name> \}\.$/,
      ),
    ]);
  });

  it('an enum typo (policy: automatc) suggests the value', () => {
    const text = VALID_EXAMPLE.replace(
      '{ approval: { required: 1 } }',
      '{ policy: automatc, approval: { required: 1 } }',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:15:26: error: environments.production.promotion.policy: expected one of "manual", "automatic", got "automatc". Fix: did you mean "automatic"?',
    ]);
  });

  it('the short promotion form lists every accepted form', () => {
    const text = VALID_EXAMPLE.replace('{ approval: { required: 1 } }', 'automatc');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:15:16: error: environments.production.promotion: expected "manual", "automatic" or a mapping (key: value), got "automatc". Fix: did you mean "automatic"?',
    ]);
  });

  it('a check with an unknown type', () => {
    const text = withService(
      yaml`
        checks:
          - { name: smoke, type: htp, path: /health }
      `.replace(/^/gm, '    '),
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:8:30: error: services.notes.checks[0].type: expected one of "http", "command", "latency", "perf", got "htp". Fix: did you mean "http"?',
    ]);
  });

  it('a check missing its type, and one missing a required field of its kind', () => {
    const text = withService(
      yaml`
        checks:
          - name: smoke
            path: /health
          - name: speed
            type: latency
            path: /health
      `.replace(/^/gm, '    '),
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:8:9: error: services.notes.checks[0].type: is required (one of "http", "command", "latency", "perf"). Fix: set type to one of http, command, latency, perf; each kind takes its own fields (docs/configuration.md).',
      'airlock.yaml:10:9: error: services.notes.checks[1].p95Ms: is required (expected a number). Fix: add `p95Ms: 200` under services.notes.checks[1].',
    ]);
  });

  it('a field that does not belong to the check kind', () => {
    const text = withService(
      '    checks:\n      - { name: e2e, type: command, run: npm run e2e, timeout: 5000 }',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:8:55: error: services.notes.checks[0].timeout: unknown field "timeout" (allowed here: name, type, run, cwd, env, timeoutMs). Fix: did you mean "timeoutMs"?',
    ]);
  });

  it('the pipeline names an environment that is not defined', () => {
    const text = VALID_EXAMPLE.replace('[staging, production]', '[staging, prodution]').replace(
      '  production:',
      '  prod:',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:2:21: error: pipeline[1]: environment "prodution" is not defined under environments. Fix: add an environments.prodution section, or remove "prodution" from the pipeline.',
      'airlock.yaml:14:3: error: environments.prod: environment "prod" is not in the pipeline, so nothing could ever reach it. Fix: add "prod" to pipeline (in promotion order), or remove environments.prod.',
    ]);
    const typo = VALID_EXAMPLE.replace('[staging, production]', '[staging, prodution]');
    expect(errorsOf(typo)[0]).toBe(
      'airlock.yaml:2:21: error: pipeline[1]: environment "prodution" is not defined under environments. Fix: did you mean "production"?',
    );
  });

  it('an environment that is not in the pipeline', () => {
    const text = `${VALID_EXAMPLE}  qa:\n    services: { notes: { port: 4300 } }\n`;
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:17:3: error: environments.qa: environment "qa" is not in the pipeline, so nothing could ever reach it. Fix: add "qa" to pipeline (in promotion order), or remove environments.qa.',
    ]);
  });

  it('an environment override for a service that does not exist', () => {
    const text = VALID_EXAMPLE.replace(
      'services: { notes: { port: 4100 } }',
      'services: { notes: { port: 4100 }, note: { port: 4101 } }',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:13:40: error: environments.staging.services.note: unknown service "note" (services are: notes). Fix: did you mean "notes"?',
    ]);
  });

  it('a missing port for the local provider', () => {
    const text = VALID_EXAMPLE.replace('port: 4200, keepWarmMs', 'keepWarmMs');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:16:17: error: environments.production.services.notes.port: is required: the local provider serves each environment on its own stable port. Fix: add `port: 4200` under environments.production.services.notes.',
    ]);
  });

  it('two environments on one port', () => {
    const text = VALID_EXAMPLE.replace('port: 4200', 'port: 4100');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:16:32: error: environments.production.services.notes.port: port 4100 is already used by environments.staging.services.notes.port; each environment and service needs its own port. Fix: choose a free port, e.g. `port: 4101`.',
    ]);
  });

  it('duplicate check names', () => {
    const text = VALID_EXAMPLE.replace('{ name: e2e,', '{ name: smoke,');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:10:17: error: services.notes.checks[1].name: check "smoke" is defined twice in this list (first at services.notes.checks[0]). Fix: give each check its own name; history and output refer to checks by name.',
    ]);
  });

  it('a negative timeout', () => {
    const text = VALID_EXAMPLE.replace('run: node e2e/notes.e2e.mjs', 'run: x, timeoutMs: -5');
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:10:56: error: services.notes.checks[1].timeoutMs: expected a number ≥ 0, got -5. Fix: for example `timeoutMs: 120000`.',
    ]);
  });

  it('a path that does not start with /', () => {
    expect(errorsOf(withService('    health: { path: health }'))).toEqual([
      'airlock.yaml:7:21: error: services.notes.health.path: expected a path starting with "/", got "health". Fix: for example `path: /health`.',
    ]);
  });

  it('names that break the naming rule suggest a valid one', () => {
    const text = VALID_EXAMPLE.replace('project: notes', 'project: Notes').replace(
      '{ port: 4100 }',
      '{ port: 4100, vars: { 1X: a } }',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:1:10: error: project: expected a project name (lowercase letters, digits and dashes, starting with a letter, at most 40 characters), got "Notes". Fix: for example `project: notes`.',
      'airlock.yaml:13:46: error: environments.staging.services.notes.vars.1X: expected an environment variable name (letters, digits and _, not starting with a digit), got "1X". Fix: rename it to "_1X".',
    ]);
    const service = VALID_EXAMPLE.replace('services:\n  notes:', 'services:\n  My_Notes:');
    expect(errorsOf(service)[0]).toBe(
      'airlock.yaml:4:3: error: services.My_Notes: expected a service name (lowercase letters, digits and dashes, starting with a letter, at most 40 characters), got "My_Notes". Fix: rename it to "my-notes".',
    );
  });

  it('an empty file, or one with only comments', () => {
    const expected = [
      'airlock.yaml:1:1: error: the file is empty: expected a mapping with project, pipeline, services and environments. Fix: start from the complete example at the top of docs/configuration.md.',
    ];
    expect(errorsOf('')).toEqual(expected);
    expect(errorsOf('# airlock\n\n')).toEqual(expected);
  });

  it('a file that is a list, not a mapping', () => {
    expect(errorsOf('- staging\n- production\n')).toEqual([
      'airlock.yaml:1:1: error: expected the file to be a mapping (key: value), got a list. Fix: write the file as a mapping with project, pipeline, services and environments (docs/configuration.md has a complete example).',
    ]);
  });

  it('an environment left empty', () => {
    const text = VALID_EXAMPLE.replace(
      '  staging:\n    services: { notes: { port: 4100 } }',
      '  staging:',
    );
    expect(errorsOf(text)).toEqual([
      'airlock.yaml:12:11: error: environments.staging: expected a mapping (key: value), got nothing. Fix: write `staging: {}` or give it fields (docs/configuration.md lists them).',
    ]);
  });

  it('a state URL of another kind is rejected without echoing it (it may hold a password)', () => {
    const text = VALID_EXAMPLE.replace(
      'project: notes\n',
      'project: notes\nstate: mysql://airlock:s3cret@db.example.com:3306/airlock\n',
    );
    const error = errorOf(text);
    expect(error.message).toBe(
      "airlock.yaml:2:8: error: state: expected a file path, a postgres:// or a d1:// URL, got a mysql:// URL (its value is not shown: it may hold a password). Fix: remove state (the default is state.db in Airlock's home), give a file path, a postgres:// URL or d1://<account-id>/<database-id>.",
    );
    expect(JSON.stringify(error.toJSON())).not.toContain('s3cret');
    expect(JSON.stringify(error.toJSON())).not.toContain('db.example.com');
  });

  it('several problems: error.message lists each, sorted by position, and the hint names the command', () => {
    const text = VALID_EXAMPLE.replace(
      'run: node server.js',
      'run: node server.js\n    helth: {}',
    ).replace('required: 1', 'required: -1');
    const error = errorOf(text);
    expect(error.message).toBe(
      [
        '2 problems in airlock.yaml:',
        '  airlock.yaml:7:5: error: services.notes.helth: unknown field "helth" (allowed here: root, build, database, data, run, health, checks, vars, keepWarmMs, keepWarmReleases, drainTimeoutMs, stopTimeoutMs, cloudflare, fly, railway, command). Fix: did you mean "health"?',
        '  airlock.yaml:16:40: error: environments.production.promotion.approval.required: expected a number ≥ 0, got -1. Fix: for example `required: 1`.',
      ].join('\n'),
    );
    expect(error.hint).toBe(
      'Fix airlock.yaml, then run `airlock config validate`. The reference is docs/configuration.md.',
    );
    expect(error.diagnostics[1]).toEqual({
      severity: 'error',
      file: 'airlock.yaml',
      line: 16,
      col: 40,
      path: 'environments.production.promotion.approval.required',
      message: 'expected a number ≥ 0, got -1.',
      fix: 'for example `required: 1`.',
    });
  });
});

describe('valid configs', () => {
  it('accepts the example and applies defaults', () => {
    const config = parseConfig(VALID_EXAMPLE, FILE, 'airlock.yaml');
    expect(config.warnings).toEqual([]);
    expect(config.project).toBe('notes');
    expect(config.dir).toBe('/tmp/x');
    // The embedded state sits in the project's Airlock home, outside the project folder.
    expect(config.home.dir).not.toContain('/tmp/x/');
    expect(config.state).toEqual({
      kind: 'sqlite',
      file: `${config.home.dir}/state.db`,
      display: `${config.home.dir}/state.db`,
    });
    expect(config.pipeline).toEqual(['staging', 'production']);
    expect(config.services).toEqual(['notes']);
    const staging = config.environments.staging!;
    const production = config.environments.production!;
    expect([staging.previous, staging.next, production.previous, production.next]).toEqual([
      null,
      'production',
      'staging',
      null,
    ]);
    // protected defaults to the last environment; onCheckFailure: keep first, rollback after.
    expect([staging.protected, production.protected]).toEqual([false, true]);
    expect([staging.onCheckFailure, production.onCheckFailure]).toEqual(['keep', 'rollback']);
    // Nothing beyond the approval count is on unless configured: no CI, soak, window or freeze.
    const unconfigured = {
      ci: false,
      soakMs: null,
      checksMaxAgeMs: null,
      livePrevious: true,
      rollbackRehearsal: 'off',
      window: null,
      freeze: [],
    };
    const approval = {
      allowSelfApproval: false,
      approvers: null,
      expiresAfterMs: null,
      identity: 'any',
      dashboardApprovals: false,
      allowedSigners: '.approvals/allowed_signers',
      oidc: null,
    };
    expect(staging.promotion).toEqual({
      policy: 'manual',
      approval: { required: 0, ...approval },
      ...unconfigured,
    });
    expect(production.promotion).toEqual({
      policy: 'manual',
      approval: { required: 1, ...approval },
      ...unconfigured,
    });
    expect(production.services.notes).toEqual({
      name: 'notes',
      root: '.',
      build: {
        command: 'node scripts/build.mjs',
        output: 'dist',
        env: {},
        allowLinksOutside: false,
      },
      database: {
        engine: 'sqlite',
        environment: 'production',
        migrations: 'migrations',
        migrationsDir: '/tmp/x/migrations',
        layout: { layout: 'airlock' },
        toolLedger: false,
        migrate: 'before-switch',
        url: `file://${config.home.dir}/envs/production/data/notes.db`,
        display: `file://${config.home.dir}/envs/production/data/notes.db`,
        lockTimeoutMs: 5000,
        statementTimeoutMs: 60000,
        drift: 'block',
      },
      run: 'node server.js',
      provider: { provider: 'local' },
      health: { path: '/health', timeoutMs: 30_000, intervalMs: 100 },
      checks: [
        {
          name: 'smoke',
          type: 'http',
          method: 'GET',
          path: '/version',
          expect: { status: 200, json: { release: '${release.id}' } },
          timeoutMs: 30_000,
          intervalMs: 500,
          requestTimeoutMs: 5_000,
        },
        { name: 'e2e', type: 'command', run: 'node e2e/notes.e2e.mjs', timeoutMs: 300_000 },
      ],
      vars: {},
      references: [],
      unset: [],
      port: 4200,
      keepWarmMs: 60_000,
      keepWarmReleases: 1,
      drainTimeoutMs: 30_000,
      stopTimeoutMs: 10_000,
    });
    expect(staging.services.notes?.port).toBe(4100);
    expect(staging.services.notes?.keepWarmMs).toBe(0);
  });

  it('explicit protected and onCheckFailure win over the defaults; promotion shorthands', () => {
    const text = VALID_EXAMPLE.replace(
      '  staging:\n',
      '  staging:\n    protected: true\n    onCheckFailure: rollback\n',
    ).replace(
      '    promotion: { approval: { required: 1 } }\n',
      '    promotion: automatic\n    protected: false\n    onCheckFailure: keep\n',
    );
    const config = parseConfig(text, FILE, 'airlock.yaml');
    const { staging, production } = config.environments;
    expect([staging?.protected, production?.protected]).toEqual([true, false]);
    expect([staging?.onCheckFailure, production?.onCheckFailure]).toEqual(['rollback', 'keep']);
    expect(production?.promotion).toMatchObject({
      policy: 'automatic',
      approval: { required: 0, allowSelfApproval: false },
      ci: false,
    });
  });

  it('inherits run, health and checks; an override replaces checks; vars are not inherited', () => {
    const text = yaml`
      project: notes
      pipeline: [staging, production]
      services:
        notes:
          build: { command: node scripts/build.mjs, output: dist }
          run: node server.js
          health: { path: /ready, timeoutMs: 5000 }
          checks:
            - { name: smoke, type: http, path: /health }
          vars: { LOG_LEVEL: debug }
      environments:
        staging:
          services:
            notes: { port: 4100, vars: { LOG_LEVEL: info } }
        production:
          services:
            notes:
              port: 4200
              run: node server.js --production
              health: { intervalMs: 250 }
              checks:
                - { name: speed, type: latency, path: /health, p95Ms: 200 }
    `;
    const config = parseConfig(text, FILE, 'airlock.yaml');
    const staging = config.environments.staging?.services.notes;
    const production = config.environments.production?.services.notes;
    expect(staging?.run).toBe('node server.js');
    expect(production?.run).toBe('node server.js --production');
    expect(staging?.health).toEqual({ path: '/ready', timeoutMs: 5000, intervalMs: 100 });
    expect(production?.health).toEqual({ path: '/ready', timeoutMs: 5000, intervalMs: 250 });
    expect(staging?.checks.map((c) => c.name)).toEqual(['smoke']);
    expect(production?.checks.map((c) => c.name)).toEqual(['speed']);
    expect(staging?.vars).toEqual({ LOG_LEVEL: 'info' });
    expect(production?.vars).toEqual({});
    expect(config.warnings.map(formatDiagnostic)).toEqual([
      "airlock.yaml:10:5: warning: services.notes.vars: vars exists at the top level, but not on environments.production.services.notes.vars. This is not what you probably want, since vars are not inherited by environments. Fix: copy the vars into environments.production.services.notes.vars (with that environment's values).",
    ]);
  });

  it('warns that a promotion policy on the first environment is ignored', () => {
    const text = VALID_EXAMPLE.replace('  staging:\n', '  staging:\n    promotion: automatic\n');
    const config = parseConfig(text, FILE, 'airlock.yaml');
    expect(config.warnings.map(formatDiagnostic)).toEqual([
      'airlock.yaml:13:5: warning: environments.staging.promotion: is ignored: staging is the first environment of the pipeline, so releases are deployed into it directly, not promoted. Fix: remove environments.staging.promotion.',
    ]);
  });
});

describe('loadConfig', () => {
  let root: string;

  beforeEach(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'airlock-config-')));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds airlock.yaml in a parent folder and resolves paths from its folder', async () => {
    await writeFile(join(root, 'airlock.yaml'), VALID_EXAMPLE);
    const cwd = join(root, 'e2e', 'deep');
    await mkdir(cwd, { recursive: true });
    const config = loadConfig({ cwd });
    expect(config.file).toBe(join(root, 'airlock.yaml'));
    expect(config.displayFile).toBe(join(root, 'airlock.yaml'));
    expect(config.dir).toBe(root);
    expect(config.environments.production?.services.notes?.database?.migrationsDir).toBe(
      join(root, 'migrations'),
    );
    expect(loadConfig({ cwd: root }).displayFile).toBe('airlock.yaml');
  });

  it('names the file relative to cwd in diagnostics, and reads -c <file>', async () => {
    await mkdir(join(root, 'deploy'));
    await writeFile(
      join(root, 'deploy', 'airlock.yml'),
      VALID_EXAMPLE.replace('run: node', 'rn: node'),
    );
    expect(() => loadConfig({ cwd: root, file: 'deploy/airlock.yml' })).toThrow(
      'deploy/airlock.yml:6:5: error: services.notes.rn: unknown field "rn"',
    );
    await writeFile(join(root, 'deploy', 'airlock.yml'), VALID_EXAMPLE);
    expect(loadConfig({ cwd: join(root, 'deploy') }).displayFile).toBe('airlock.yml');
  });

  it('CONFIG_NOT_FOUND when no folder up to / has airlock.yaml, or -c names a missing file', () => {
    let error: unknown;
    try {
      loadConfig({ cwd: root });
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'CONFIG_NOT_FOUND')).toBe(true);
    expect((error as ConfigError).message).toBe(`no airlock.yaml in ${root} or any parent folder.`);
    // The hint names `airlock init` (which writes one for the project), never a file inside
    // Airlock's own package.
    expect((error as ConfigError).hint).toBe(
      "Run `airlock init` in your project's folder to write one for it, or pass -c <file>. To see the whole flow on an example first, run `airlock demo`.",
    );
    expect((error as ConfigError).diagnostics).toEqual([]);
    // A missing file has no line to point at: the message says it does not exist.
    expect(() => loadConfig({ cwd: root, file: 'ops/airlock.yaml' })).toThrow(
      `ops/airlock.yaml does not exist (${join(root, 'ops', 'airlock.yaml')}).`,
    );
  });
});
