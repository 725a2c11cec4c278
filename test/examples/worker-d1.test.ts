/**
 * Seed 000 end to end, through the real CLI (bin/airlock.js as a child process): the
 * examples/worker-d1 project (a Worker with a D1 database; wrangler.toml's top level is staging,
 * [env.production] is production) copied into a fresh git repository, its node_modules linked
 * to Airlock's own so the pinned wrangler builds it and runs it (real workerd through
 * `wrangler dev`), with `wrangler` on PATH as `npx airlock` puts it there.
 *
 * deploy staging (build once, migrate staging's D1, checks /health and /version) → promote
 * production (the same bundle: both environments report one digest; production's D1 migrated
 * on its own) → a second release through both → rollback production (still warm: a switch).
 */
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { localD1DatabasePath } from '../../src/migrations/local-d1-database.ts';
import { findFreePort } from '../../src/providers/local/app-process.ts';
import { projectHome } from '../helpers/project.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(REPO, 'examples', 'worker-d1');
const BIN = path.join(REPO, 'bin', 'airlock.js');
const STAGING_DB = '7f166034-0000-4000-8000-00000000a001';
const PRODUCTION_DB = '7f166034-0000-4000-8000-00000000b001';

/** Why workerd cannot run on this machine, or null when it can. */
function workerdMissing(): string | null {
  try {
    const bin = (createRequire(import.meta.url)('workerd') as { default: string }).default;
    const result = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    return result.status === 0
      ? null
      : `workerd --version failed: ${result.stderr || result.error}`;
  } catch (error) {
    return `workerd is not installed: ${(error as Error).message}`;
  }
}

const missing = workerdMissing();
if (missing) console.warn(`Skipping the worker-d1 end-to-end test: ${missing}`);

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(missing !== null)('examples/worker-d1 (seed 000) through the CLI', () => {
  let dir: string;
  const ports = { staging: 0, production: 0 };
  const url = (environment: 'staging' | 'production') => `http://127.0.0.1:${ports[environment]}`;

  const cli = (args: string[]) =>
    new Promise<Cli>((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: dir,
          env: {
            ...process.env,
            // As `npx airlock` runs it: the project's node_modules/.bin first on PATH.
            PATH: `${path.join(dir, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
            AIRLOCK_FROM_SOURCE: '1',
            AIRLOCK_ACTOR: 'dev@airlock.demo',
            CI: '1',
            NO_COLOR: '1',
          },
          timeout: 120_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const git = (...args: string[]) =>
    spawnSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'Dev',
        GIT_AUTHOR_EMAIL: 'dev@airlock.demo',
        GIT_COMMITTER_NAME: 'Dev',
        GIT_COMMITTER_EMAIL: 'dev@airlock.demo',
      },
    });
  const get = async (environment: 'staging' | 'production', route: string) => {
    const response = await fetch(`${url(environment)}${route}`, {
      signal: AbortSignal.timeout(5_000),
    });
    return (await response.json()) as Record<string, unknown> & Record<number, unknown>;
  };
  /** The D1 database of an environment, read directly: the SQLite file wrangler dev uses. */
  const d1 = <T>(environment: 'staging' | 'production', sql: string): T[] => {
    const file = localD1DatabasePath({
      projectDir: dir,
      databaseId: environment === 'staging' ? STAGING_DB : PRODUCTION_DB,
      persistTo: path.join(projectHome(dir), 'envs', environment, 'wrangler'),
    });
    const db = new DatabaseSync(file, { readOnly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  };
  const expectOk = (result: Cli) => {
    if (result.code !== 0)
      throw new Error(`airlock failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-worker-d1-'));
    cpSync(EXAMPLE, dir, {
      recursive: true,
      filter: (src) =>
        !/(^|\/)(dist|node_modules|\.airlock|\.wrangler)(\/|$)/.test(path.relative(EXAMPLE, src)),
    });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    ports.staging = await findFreePort();
    ports.production = await findFreePort();
    const file = path.join(dir, 'airlock.yaml');
    const doc = parseDocument(readFileSync(file, 'utf8'));
    doc.setIn(['environments', 'staging', 'services', 'notes', 'port'], ports.staging);
    doc.setIn(['environments', 'production', 'services', 'notes', 'port'], ports.production);
    writeFileSync(file, doc.toString());
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'Notes Worker v1');
  });

  afterAll(async () => {
    if (!dir) return;
    await cli(['local', 'stop']);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('deploy staging (builds once, migrates staging’s D1, checks pass), promote production (the same bundle, its own D1), a second release through both, then production rolls back to r1 (warm: a switch)', async () => {
    const result = await cli(['deploy', 'staging']);
    expectOk(result);
    expect(result.stdout).toContain('Migrate notes (2 pending)');
    expect(result.stdout).toMatch(/Check notes \(health, version\).*2 passed/);
    expect(result.stdout).toContain(`r1 deployed to staging`);

    const version = await get('staging', '/version');
    expect(version).toMatchObject({
      release: 'r1',
      environment: 'staging',
      title: 'Notes (staging)',
    });
    const r1Digest = String(version.digest);
    expect(r1Digest).toMatch(/^[0-9a-f]{64}$/);

    // The Worker writes through its D1 binding into the very file Airlock migrated.
    const created = await fetch(`${url('staging')}/notes`, {
      method: 'POST',
      body: JSON.stringify({ title: 'first note' }),
    });
    expect(created.status).toBe(201);
    expect(d1<{ title: string }>('staging', 'SELECT title FROM notes')).toEqual([
      { title: 'first note' },
    ]);
    expect(
      d1<{ version: number; release: string }>(
        'staging',
        'SELECT version, release FROM airlock_migrations',
      ),
    ).toEqual([
      { version: 1, release: 'r1' },
      { version: 2, release: 'r1' },
    ]);

    // Promote production: the same bundle (one digest), production’s own D1 migrated separately, checks pass.
    const promoted = await cli(['promote', 'production', '--yes']);
    expectOk(promoted);
    expect(promoted.stdout).toContain('Migrate notes (2 pending)');
    expect(promoted.stdout).toContain('r1 promoted to production');

    const staging = await get('staging', '/version');
    const production = await get('production', '/version');
    expect(production).toMatchObject({ release: 'r1', environment: 'production', title: 'Notes' });
    expect(production.digest).toBe(staging.digest);
    expect(production.digest).toBe(r1Digest);
    expect(production.commit).toBe(staging.commit);

    // Separate databases: production has the schema and its own ledger, not staging's rows.
    expect(await get('production', '/notes')).toEqual([]);
    expect(d1<{ version: number }>('production', 'SELECT version FROM airlock_migrations')).toEqual(
      [{ version: 1 }, { version: 2 }],
    );

    // A second release goes through both, then production rolls back to r1 (warm: a switch).
    const source = path.join(dir, 'src', 'index.js');
    writeFileSync(
      source,
      readFileSync(source, 'utf8').replace(
        'title: env.NOTES_TITLE ?? null,',
        'title: env.NOTES_TITLE ?? null,\n        build: 2,',
      ),
    );
    git('commit', '-q', '-am', 'Notes Worker v2');
    expectOk(await cli(['deploy', 'staging']));
    expectOk(await cli(['promote', 'production', '--yes']));
    const r2 = await get('production', '/version');
    expect(r2).toMatchObject({ release: 'r2', build: 2 });
    expect(r2.digest).not.toBe(r1Digest);
    expect((await get('staging', '/version')).digest).toBe(r2.digest);

    const rollback = await cli(['rollback', 'production', '--yes']);
    expectOk(rollback);
    expect(rollback.stdout).toMatch(/switched to warm r1/);
    const back = await get('production', '/version');
    expect(back).toMatchObject({ release: 'r1', digest: r1Digest });
    expect(back.build).toBeUndefined();
    // Staging is untouched by production's rollback.
    expect((await get('staging', '/version')).release).toBe('r2');
  });
});
