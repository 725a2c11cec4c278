/**
 * `airlock migrate adopt <env> --from wrangler` on an engine-d1 database (issue 6, seed 000: a
 * team that ran `wrangler d1 migrations apply` against production takes its ledger over):
 * remote mode through the FAKE D1 HTTP API (real HTTP, a real SQLite file per database; NOT
 * Cloudflare), local mode on the SQLite file wrangler dev keeps for the environment. Nothing
 * runs; a database whose schema the files do not reproduce is refused with nothing written.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { sumTextSync } from '../../../src/migrations/integrity.ts';
import { localD1DatabasePath } from '../../../src/migrations/local-d1-database.ts';
import { type FakeD1Api, startFakeD1Api } from '../../fakes/cloudflare/fake-d1-api.ts';
import { projectHome } from '../../helpers/project.ts';
import { REPO, SEED_000_WRANGLER } from './cloudflare-test-helpers.ts';

const STAGING_DB = '00000000-0000-4000-8000-00000000aaaa';
const PRODUCTION_DB = '00000000-0000-4000-8000-00000000bbbb';
const CREATE_NOTES = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n';
const ADD_BODY = 'ALTER TABLE notes ADD COLUMN body TEXT;\n';

const yaml = (mode: 'local' | 'remote') => `project: notes-worker
pipeline: [staging, production]
services:
  notes:
    build: { command: node build.mjs, output: dist }
    database: { engine: d1, binding: DB, migrations: migrations }
    cloudflare: { mode: ${mode} }
environments:
  staging:
    provider: cloudflare
    services: { notes: { port: 4300 } }
  production:
    provider: cloudflare
    services: { notes: { port: 4400 } }
`;

/** What `wrangler d1 migrations apply` leaves: its ledger table, its rows, the schema. */
function wranglerMigrated(file: string, ran: Array<[string, string]>, extra = ''): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new DatabaseSync(file);
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS d1_migrations(
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT UNIQUE,
      applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
    )`);
    for (const [name, sql] of ran) {
      db.exec(sql);
      db.prepare('INSERT INTO d1_migrations (name) VALUES (?)').run(name);
    }
    if (extra) db.exec(extra);
  } finally {
    db.close();
  }
}

function ledger(file: string): Array<{ version: number; applied_by: string }> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const has = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'airlock_migrations'")
      .get();
    if (!has) return [];
    return db
      .prepare('SELECT version, applied_by FROM airlock_migrations ORDER BY version')
      .all()
      .map((r) => ({ version: Number(r.version), applied_by: String(r.applied_by) }));
  } finally {
    db.close();
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function project(mode: 'local' | 'remote') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-d1-adopt-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'airlock.yaml'), yaml(mode));
  writeFileSync(path.join(dir, 'wrangler.toml'), SEED_000_WRANGLER);
  mkdirSync(path.join(dir, 'migrations'));
  writeFileSync(path.join(dir, 'migrations', '0001_create_notes.sql'), CREATE_NOTES);
  writeFileSync(path.join(dir, 'migrations', '0002_add_body.sql'), ADD_BODY);
  writeFileSync(
    path.join(dir, 'migrations', 'airlock.sum'),
    sumTextSync(path.join(dir, 'migrations')),
  );
  let api: FakeD1Api | null = null;
  if (mode === 'remote') {
    const started = await startFakeD1Api(dir);
    api = started;
    cleanup.push(() => started.close());
    api.createDatabase(STAGING_DB);
    api.createDatabase(PRODUCTION_DB);
  }
  const env: Record<string, string> = api
    ? {
        CLOUDFLARE_API_TOKEN: api.token,
        CLOUDFLARE_ACCOUNT_ID: api.accountId,
        CLOUDFLARE_API_BASE_URL: api.baseUrl,
      }
    : {};
  const cli = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(REPO, 'bin', 'airlock.js'), ...args],
        {
          cwd: dir,
          env: {
            ...process.env,
            ...env,
            AIRLOCK_FROM_SOURCE: '1',
            AIRLOCK_ACTOR: 'dev@example.com',
            CI: '1',
            NO_COLOR: '1',
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
  return { dir, api, cli };
}

describe('adopting wrangler’s D1 ledger (engine d1)', () => {
  it('remote (FAKE D1 API): adopts what wrangler ran on production without running it; then only the newer file is pending', async () => {
    const { api, cli } = await project('remote');
    if (!api) throw new Error('no fake');
    wranglerMigrated(api.file(PRODUCTION_DB), [['0001_create_notes.sql', CREATE_NOTES]]);

    const dry = await cli(['migrate', 'adopt', 'production', '--from', 'wrangler', '--dry-run']);
    expect(dry.out).toContain('Would adopt 1 migration');
    expect(ledger(api.file(PRODUCTION_DB))).toEqual([]);

    const adopted = await cli(['migrate', 'adopt', 'production', '--from', 'wrangler', '--yes']);
    expect(adopted.out).toContain('d1_migrations in');
    expect(adopted.out).toContain('Adopted 1 migration');
    expect(adopted.code).toBe(0);
    expect(adopted.out).not.toContain(api.token);
    expect(ledger(api.file(PRODUCTION_DB))).toEqual([
      { version: 1, applied_by: 'adopted from wrangler' },
    ]);
    // The lock row was taken for the write and dropped afterwards.
    expect(
      api.requests.some((r) => JSON.stringify(r.body).includes('airlock_migration_lock')),
    ).toBe(true);
    const tables = new DatabaseSync(api.file(PRODUCTION_DB), { readOnly: true });
    expect(
      tables.prepare("SELECT name FROM sqlite_master WHERE name = 'airlock_migration_lock'").get(),
    ).toBeUndefined();
    tables.close();

    const status = await cli(['migrate', 'status', 'production', '--json']);
    const pending = JSON.stringify(JSON.parse(status.out));
    expect(pending).toContain('0002_add_body');
    expect(pending).not.toMatch(/"pending":\[[^\]]*0001_create_notes/);

    const again = await cli(['migrate', 'adopt', 'production', '--from', 'wrangler', '--yes']);
    expect(again.out).toContain('Nothing to adopt');
  });

  it('remote: a schema changed by hand is refused, naming the table, and nothing is written', async () => {
    const { api, cli } = await project('remote');
    if (!api) throw new Error('no fake');
    wranglerMigrated(
      api.file(STAGING_DB),
      [['0001_create_notes.sql', CREATE_NOTES]],
      'CREATE TABLE made_by_hand (x TEXT)',
    );
    const result = await cli(['migrate', 'adopt', 'staging', '--from', 'wrangler']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('made_by_hand');
    expect(result.out).toContain('nothing was written');
    expect(ledger(api.file(STAGING_DB))).toEqual([]);
  });

  it('remote: a database wrangler never migrated has nothing to adopt, and says what to run', async () => {
    const { cli } = await project('remote');
    const result = await cli(['migrate', 'adopt', 'staging', '--from', 'wrangler']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('has no rows in d1_migrations');
    expect(result.out).toContain('airlock migrate apply staging');
  });

  it('local: adopts the ledger of the D1 file wrangler dev keeps for the environment', async () => {
    const { dir, cli } = await project('local');
    const persist = path.join(projectHome(dir), 'envs', 'staging', 'wrangler');
    const file = localD1DatabasePath({
      projectDir: persist,
      databaseId: STAGING_DB,
      persistTo: persist,
    });
    wranglerMigrated(file, [
      ['0001_create_notes.sql', CREATE_NOTES],
      ['0002_add_body.sql', ADD_BODY],
    ]);
    const result = await cli(['migrate', 'adopt', 'staging', '--from', 'wrangler']);
    expect(result.out).toContain('Adopted 2 migrations');
    expect(result.code).toBe(0);
    expect(ledger(file).map((r) => r.version)).toEqual([1, 2]);
  });
});
