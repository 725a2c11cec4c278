/**
 * Twenty distinct secret values never leave their place, in team mode (state in Postgres):
 * environment secrets of both environments, database passwords in both URL forms (`user:pw@`
 * and `?password=`), the state URL's password, platform tokens, GITHUB_TOKEN, a webhook signing
 * secret and a cloud key, all held by the shell that runs Airlock. The project then runs what
 * makes them leak when masking is missing: an app that prints its environment at boot, a check
 * that prints its environment (and fails on production), a failed promotion, an app that crashes
 * at boot while printing its environment, every read command with `--json`, and a signed webhook
 * receiver for the notifications. A search of everything printed, Airlock's own logs, every
 * notification received and a `pg_dump` of the state database finds none of the values; the
 * staging check's environment holds no production credential.
 *
 * The apps' own log files are left out of the search on purpose: they are the app's output
 * stream (what `fly logs` shows on a platform), kept 0600 beside the local secrets file that
 * holds the values by design; what Airlock reads back from them (log tails) is masked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { localSecretsFile, writeLocalSecrets } from '../../src/providers/local/local-secrets.ts';
import { postgresProjectTestWith } from '../helpers/fixtures.ts';
import { describeIfPostgres } from '../helpers/postgres.ts';
import { projectHome, REVIEWER } from '../helpers/project.ts';
import { type Receiver, startReceiver } from '../notify/receiver.ts';

const STAGING_SECRETS = {
  API_KEY: 'sk_staging_5f1c9e2a7b',
  SESSION_SECRET: 'staging-session-8d1e44',
  STRIPE_KEY: 'rk_staging_c0ffee91',
};
const PRODUCTION_SECRETS = {
  API_KEY: 'sk_production_77b1d0c3',
  SESSION_SECRET: 'production-session-2b9f',
  STRIPE_KEY: 'rk_production_beef0042',
};
const SHELL_VALUES = {
  stagingUserPassword: 'stagingUserPw-31c8',
  stagingQueryPassword: 'stagingQueryPw-90de',
  productionUserPassword: 'prodUserPw-6e0b',
  productionQueryPassword: 'prodQueryPw-1a7d',
  statePassword: 'statePw-4411aa',
  flyToken: 'fo1_seeded_fly_9d3e',
  flyProductionToken: 'fo1_seeded_fly_production_91c2',
  cloudflareToken: 'cf-seeded-api-token-33aa',
  cloudflareStagingToken: 'cf-seeded-staging-token-58bb',
  railwayToken: 'rw-seeded-token-7c7c',
  railwayApiToken: 'rw-seeded-api-token-e1e1',
  githubToken: 'ghp_seededGithubToken0042',
  webhookSecret: 'whsec-seeded-0b5e6f',
  awsSecret: 'aws-seeded-secret-KeyQ9',
};
const ALL = { ...STAGING_SECRETS, ...PRODUCTION_SECRETS, ...SHELL_VALUES };
const PRODUCTION_ONLY = [
  ...Object.values(PRODUCTION_SECRETS),
  SHELL_VALUES.productionUserPassword,
  SHELL_VALUES.productionQueryPassword,
  SHELL_VALUES.flyProductionToken,
];

const dumps = mkdtempSync(path.join(os.tmpdir(), 'airlock-check-env-'));
afterAll(() => rmSync(dumps, { recursive: true, force: true }));
let receiver: Receiver | undefined;
afterAll(() => receiver?.close());

// A check that writes its environment where the test reads it, prints it, and fails on production.
const ENV_DUMP = `node -e "const fs=require('fs');const e=process.env;fs.writeFileSync(e.DUMP_DIR+'/'+e.AIRLOCK_ENV+'.json',JSON.stringify(e));console.log('check env:',JSON.stringify(e));process.exit(e.AIRLOCK_ENV==='production'?1:0)"`;

const test = postgresProjectTestWith({
  config(doc) {
    doc.setIn(
      ['services', 'notes', 'checks'],
      [{ name: 'env-dump', type: 'command', run: ENV_DUMP, env: { DUMP_DIR: dumps } }],
    );
    doc.set('notify', [{ kind: 'webhook', url: '${HOOK_URL}', secret: '${HOOK_SECRET}' }]);
  },
  commitMessage: 'a check that prints its environment, and a signed webhook',
});

/** Every file under `dir` (recursively) whose name matches. */
function filesUnder(dir: string, match: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile() && match(f));
}

describeIfPostgres('twenty secrets in team mode', () => {
  test('appear nowhere: output, --json, notifications, logs, pg_dump of the state', async ({
    project,
    stateDatabase,
  }) => {
    receiver = await startReceiver();
    const home = projectHome(project.dir);
    writeLocalSecrets(localSecretsFile(home, 'staging', 'notes'), STAGING_SECRETS);
    writeLocalSecrets(localSecretsFile(home, 'production', 'notes'), PRODUCTION_SECRETS);
    const stateUrl = new URL(stateDatabase.url);
    stateUrl.password = SHELL_VALUES.statePassword; // trust auth: accepted, never needed
    const env = {
      AIRLOCK_STATE_URL: stateUrl.href,
      HOOK_URL: `${receiver.url}/hook`,
      HOOK_SECRET: SHELL_VALUES.webhookSecret,
      STAGING_DATABASE_URL: `postgres://app:${SHELL_VALUES.stagingUserPassword}@db.internal:5432/staging`,
      STAGING_REPLICA_URL: `postgres://db.internal/staging?user=app&password=${SHELL_VALUES.stagingQueryPassword}`,
      PRODUCTION_DATABASE_URL: `postgres://app:${SHELL_VALUES.productionUserPassword}@db.internal:5432/prod`,
      PRODUCTION_REPLICA_URL: `postgres://db.internal/prod?user=app&password=${SHELL_VALUES.productionQueryPassword}`,
      FLY_API_TOKEN: SHELL_VALUES.flyToken,
      FLY_API_TOKEN_PRODUCTION: SHELL_VALUES.flyProductionToken,
      CLOUDFLARE_API_TOKEN: SHELL_VALUES.cloudflareToken,
      CLOUDFLARE_API_TOKEN_STAGING: SHELL_VALUES.cloudflareStagingToken,
      RAILWAY_TOKEN: SHELL_VALUES.railwayToken,
      RAILWAY_API_TOKEN: SHELL_VALUES.railwayApiToken,
      GITHUB_TOKEN: SHELL_VALUES.githubToken,
      AWS_SECRET_ACCESS_KEY: SHELL_VALUES.awsSecret,
    };
    const outputs: string[] = [];
    const cli = async (args: string[], actor?: string) => {
      const r = await project.cli(args, { env: actor ? { ...env, AIRLOCK_ACTOR: actor } : env });
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    // The app prints its environment at boot (and keeps serving): staging passes its checks.
    const server = readFileSync(path.join(project.dir, 'src', 'server.js'), 'utf8');
    project.commitFiles(
      { 'src/server.js': `console.log('booting with', JSON.stringify(process.env));\n${server}` },
      'an app that prints its environment',
    );
    const staged = await cli(['deploy', 'staging', '--json']);
    expect(staged.code, staged.stderr).toBe(0);
    expect(staged.stdout).toContain('check env:'); // the check's output did reach the result
    await cli(['approve', 'production'], REVIEWER);
    const promoted = await cli(['promote', 'production', '--yes', '--json']);
    expect(promoted.code).not.toBe(0); // production's env-dump check fails

    // An app that prints its environment and crashes at boot.
    project.commitFiles(
      {
        'src/server.js': `console.error('env:', Object.entries(process.env).map(([k, v]) => k + '=' + v).join(' '));\nprocess.exit(3);\n${server}`,
      },
      'an app that prints its environment and crashes',
    );
    const crashed = await cli(['deploy', 'staging', '--json']);
    expect(crashed.code).not.toBe(0);
    expect(crashed.stdout).toContain('env:');

    for (const args of [
      ['status', '--json'],
      ['history', '--json'],
      ['plan', 'production', '--json'],
      ['releases', '--json'],
      ['diff', 'staging', 'production', '--json'],
      ['config', 'show', '--json'],
      ['secret', 'list', 'production', '--json'],
      ['audit', 'verify', '--json'],
    ]) {
      await cli(args);
    }
    expect(outputs.join('\n')).toContain('***');

    // Notifications were sent (signed), and say nothing secret.
    expect(receiver.requests.length).toBeGreaterThan(2);
    const notifications = receiver.requests.map((r) => JSON.stringify(r.headers) + r.body);

    // Airlock's own logs and event files (builds, the local runtime), not the apps' output
    // streams (`envs/<env>/logs/<service>-<release>.log`).
    const appLog = /\/envs\/[^/]+\/logs\//;
    const logs = filesUnder(home, (f) => /\.(log|jsonl)$/.test(f) && !appLog.test(f)).map((f) =>
      readFileSync(f, 'latin1'),
    );
    expect(logs.length).toBeGreaterThan(0);

    const dump = execFileSync('pg_dump', ['--data-only', '--inserts', stateDatabase.url], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(dump).toContain('env-dump'); // the dump holds the runs, checks and audit events
    for (const [name, value] of Object.entries(ALL)) {
      for (const text of [...outputs, ...notifications, ...logs, dump])
        expect(text, `${name} leaked`).not.toContain(value);
    }

    // The staging check saw its own environment's variables, never production's or the shell's.
    const stagingCheckEnv = readFileSync(path.join(dumps, 'staging.json'), 'utf8');
    for (const value of [...PRODUCTION_ONLY, SHELL_VALUES.githubToken, SHELL_VALUES.statePassword])
      expect(stagingCheckEnv).not.toContain(value);
    expect(JSON.parse(stagingCheckEnv)).toMatchObject({ AIRLOCK_ENV: 'staging' });
  });
});
