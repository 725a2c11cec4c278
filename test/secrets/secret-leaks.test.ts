/**
 * Secrets never reach output or state: an app that prints its whole environment while crashing
 * at boot, with the environment's secrets, database URLs (password in the user info and as
 * `?password=`), platform tokens and GITHUB_TOKEN seeded with distinctive values. Its log tail goes
 * into `deploy --json` and into the failed step's row; after masking, a search of everything the
 * commands printed and of the state database's bytes finds none of the values.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { localSecretsFile, writeLocalSecrets } from '../../src/providers/local/local-secrets.ts';
import { projectTest } from '../helpers/fixtures.ts';
import { projectHome } from '../helpers/project.ts';

const SECRETS = {
  stagingApiKey: 'sk_staging_5f1c9e2a7b',
  stagingSession: 'staging-session-8d1e44',
  productionApiKey: 'sk_production_77b1d0c3',
  githubToken: 'ghp_seededGithubToken0042',
  flyToken: 'fo1_seeded_fly_production_91c2',
  cloudflareToken: 'cf-seeded-api-token-33aa',
  prodUserPassword: 'prodUserPw-6e0b',
  prodQueryPassword: 'prodQueryPw-1a7d',
};

projectTest(
  'a crashing app that prints its environment leaks no secret into output or state',
  async ({ project }) => {
    const home = projectHome(project.dir);
    writeLocalSecrets(localSecretsFile(home, 'staging', 'notes'), {
      API_KEY: SECRETS.stagingApiKey,
      SESSION_SECRET: SECRETS.stagingSession,
    });
    writeLocalSecrets(localSecretsFile(home, 'production', 'notes'), {
      API_KEY: SECRETS.productionApiKey,
    });
    const server = readFileSync(path.join(project.dir, 'src', 'server.js'), 'utf8');
    project.commitFiles(
      {
        'src/server.js': `console.log('booting with', JSON.stringify(process.env));\nconsole.error('env:', Object.entries(process.env).map(([k, v]) => k + '=' + v).join(' '));\nprocess.exit(3);\n${server}`,
      },
      'an app that prints its environment and crashes at boot',
    );
    const env = {
      GITHUB_TOKEN: SECRETS.githubToken,
      FLY_API_TOKEN_PRODUCTION: SECRETS.flyToken,
      CLOUDFLARE_API_TOKEN: SECRETS.cloudflareToken,
      PRODUCTION_DATABASE_URL: `postgres://app:${SECRETS.prodUserPassword}@db.internal:5432/prod`,
      REPLICA_DATABASE_URL: `postgres://db.internal/prod?user=app&password=${SECRETS.prodQueryPassword}`,
    };
    const deploy = await project.cli(['deploy', 'staging', '--json'], { env });
    expect(deploy.code).not.toBe(0);
    // The crash's output did reach the result (masked), so the test would see a leak.
    expect(deploy.stdout).toContain('booting with');
    expect(deploy.stdout).toContain('***');
    const outputs = [deploy.stdout, deploy.stderr];
    for (const args of [
      ['deploy', 'staging'],
      ['history', '--json'],
      ['status', '--json'],
    ]) {
      const r = await project.cli(args, { env });
      outputs.push(r.stdout, r.stderr);
    }
    const state = readdirSync(home)
      .filter((f) => f.startsWith('state.db'))
      .map((f) => readFileSync(path.join(home, f)).toString('latin1'));
    expect(state.length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(SECRETS)) {
      for (const text of [...outputs, ...state]) expect(text, name).not.toContain(value);
    }
  },
);
