/**
 * Remote mode through the real CLI and pipeline, against the two FAKES that stand in for
 * Cloudflare (its API cannot be reached from here): the FAKE wrangler as the project's
 * node_modules/.bin/wrangler, and the FAKE D1 HTTP API (CLOUDFLARE_API_BASE_URL, as wrangler
 * honours it) for the migrations. deploy staging → promote production (same bundle, each D1
 * database migrated on its own) → a second release → rollback production through
 * `wrangler rollback <version>`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sumTextSync } from '../../../src/migrations/integrity.ts';
import { type FakeD1Api, startFakeD1Api } from '../../fakes/cloudflare/fake-d1-api.ts';
import {
  installFakeWrangler,
  REPO,
  SEED_000_WRANGLER,
  type WorkerProject,
  workerSource,
} from './cloudflare-test-helpers.ts';

const STAGING_DB = '00000000-0000-4000-8000-00000000aaaa';
const PRODUCTION_DB = '00000000-0000-4000-8000-00000000bbbb';

const AIRLOCK_YAML = `project: notes-worker
pipeline: [staging, production]
services:
  notes:
    build:
      command: node build.mjs
      output: dist
    database:
      engine: d1
      binding: DB
      migrations: migrations
    cloudflare:
      mode: remote
environments:
  staging:
    provider: cloudflare
  production:
    provider: cloudflare
    # The FAKE workers.dev URLs are not served on this machine: judge staging by the records.
    promotion: { livePrevious: false }
`;

describe('cloudflare remote mode through the CLI (FAKE wrangler, FAKE D1 API)', () => {
  let dir: string;
  let api: FakeD1Api;
  let fake: ReturnType<typeof installFakeWrangler>;
  let env: Record<string, string>;

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(REPO, 'bin', 'airlock.js'), ...args],
        {
          cwd: dir,
          env: {
            ...env,
            // This test file's temporary Airlock home (test/setup-home.ts), not the user's.
            AIRLOCK_HOME: process.env.AIRLOCK_HOME ?? '',
            AIRLOCK_FROM_SOURCE: '1',
            AIRLOCK_ACTOR: 'ci@example.com',
            CI: '1',
            NO_COLOR: '1',
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          resolve({
            code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
            stdout,
            stderr,
          }),
      );
    });
  const git = (...args: string[]) =>
    spawnSync('git', args, {
      cwd: dir,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'CI',
        GIT_AUTHOR_EMAIL: 'ci@example.com',
        GIT_COMMITTER_NAME: 'CI',
        GIT_COMMITTER_EMAIL: 'ci@example.com',
      },
    });
  const ok = async (args: string[]) => {
    const result = await cli(args);
    if (result.code !== 0)
      throw new Error(`airlock ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  };
  const tables = (databaseId: string) => {
    const db = new DatabaseSync(api.file(databaseId), { readOnly: true });
    try {
      return db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all()
        .map((r) => String(r.name));
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-cf-remote-cli-'));
    api = await startFakeD1Api(dir);
    api.createDatabase(STAGING_DB);
    api.createDatabase(PRODUCTION_DB);
    writeFileSync(path.join(dir, 'airlock.yaml'), AIRLOCK_YAML);
    writeFileSync(path.join(dir, 'wrangler.toml'), SEED_000_WRANGLER);
    writeFileSync(
      path.join(dir, '.gitignore'),
      'dist/\nnode_modules/\n.airlock/\nfake-cloudflare/\n*.sqlite*\n',
    );
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'src', 'index.js'), workerSource('v1'));
    writeFileSync(
      path.join(dir, 'build.mjs'),
      "import { cpSync } from 'node:fs';\ncpSync('src/index.js', 'dist/index.js');\n",
    );
    mkdirSync(path.join(dir, 'migrations'));
    writeFileSync(
      path.join(dir, 'migrations', '0001_create_notes.sql'),
      'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n',
    );
    writeFileSync(
      path.join(dir, 'migrations', 'airlock.sum'),
      sumTextSync(path.join(dir, 'migrations')),
    );
    fake = installFakeWrangler({ dir } as WorkerProject);
    env = {
      ...fake.env,
      CLOUDFLARE_API_TOKEN: api.token,
      CLOUDFLARE_ACCOUNT_ID: api.accountId,
      CLOUDFLARE_API_BASE_URL: api.baseUrl,
    };
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'v1');
  });
  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploys staging, promotes the same bundle to production (each D1 database migrated on its own), rolls production back with wrangler rollback, and the drift gate reads each remote D1 schema', async () => {
    const staging = await ok(['deploy', 'staging']);
    expect(staging).toContain('applied 0001_create_notes');
    expect(staging).toContain('→ https://notes-worker.airlock-fake.workers.dev');
    expect(tables(STAGING_DB)).toEqual(['airlock_claim', 'airlock_migrations', 'notes']);
    expect(tables(PRODUCTION_DB)).toEqual([]);

    const production = await ok(['promote', 'production', '--yes']);
    expect(production).toContain('→ https://notes-worker-production.airlock-fake.workers.dev');
    expect(tables(PRODUCTION_DB)).toEqual(['airlock_claim', 'airlock_migrations', 'notes']);

    const a = fake.worker('notes-worker')?.versions[0];
    const b = fake.worker('notes-worker-production')?.versions[0];
    expect(b?.main_sha256).toBe(a?.main_sha256);
    expect(b?.vars.AIRLOCK_DIGEST).toBe(a?.vars.AIRLOCK_DIGEST);
    expect(b?.main_sha256).toBe(
      createHash('sha256')
        .update(readFileSync(path.join(dir, 'src', 'index.js')))
        .digest('hex'),
    );
    // Every D1 request carried the token; none of them was refused.
    expect(api.requests.every((r) => r.auth === 'valid' && r.status === 200)).toBe(true);

    // Rolls production back with wrangler rollback to the version of the earlier release.
    writeFileSync(path.join(dir, 'src', 'index.js'), workerSource('v2'));
    git('commit', '-q', '-am', 'v2');
    await ok(['deploy', 'staging']);
    await ok(['promote', 'production', '--yes']);
    const worker = () => fake.worker('notes-worker-production');
    const [r1, r2] = worker()?.versions ?? [];
    expect([r1?.tag, r2?.tag]).toEqual(['r1', 'r2']);

    // As on a fresh CI runner: the shared state knows what served, this machine's record of
    // the Worker's versions and URL is gone. The version is found by its tag; the URL comes
    // from the state (the deployment that served before recorded it).
    const records = readdirSync(process.env.AIRLOCK_HOME ?? '', { recursive: true })
      .map(String)
      .filter((f) =>
        f.endsWith(path.join('envs', 'production', 'cloudflare', 'notes', 'deployments.json')),
      );
    expect(records.length).toBe(1);
    for (const f of records) rmSync(path.join(process.env.AIRLOCK_HOME ?? '', f));
    const rollback = await ok(['rollback', 'production', '--yes']);
    expect(rollback).toContain('r1 rolled back on production');
    expect(rollback).toContain('→ https://notes-worker-production.airlock-fake.workers.dev');
    const last = fake.invocations().at(-1);
    expect(last?.argv.slice(0, 2)).toEqual(['rollback', r1?.id]);
    expect(worker()?.deployments.at(-1)?.versions).toEqual([
      { version_id: r1?.id, percentage: 100 },
    ]);

    const status = JSON.parse(await ok(['status', '--json'])) as {
      environments: { environment: string; services: { release: string | null }[] }[];
    };
    expect(
      Object.fromEntries(status.environments.map((e) => [e.environment, e.services[0]?.release])),
    ).toEqual({ staging: 'r2', production: 'r1' });

    // The drift gate reads each remote D1 schema (a snapshot through the D1 HTTP API).
    const db = new DatabaseSync(api.file(PRODUCTION_DB));
    db.exec('CREATE TABLE made_by_hand (x TEXT)');
    db.close();
    const plan = await cli(['plan', 'production']);
    expect(plan.stdout).toMatch(/✖ drift .*made_by_hand/);
    expect(plan.stdout).not.toContain('could not be checked');
  });
});
