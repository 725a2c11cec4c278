import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CheckContext } from '../../src/checks/check.ts';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { runHttpCheck } from '../../src/checks/http-check.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { PostgresMigrationDriver } from '../../src/migrations/postgres-migration-driver.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  openConnections,
  type TestDatabase,
} from '../helpers/postgres.ts';

const run = promisify(execFile);
const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const NOTES = join(EXAMPLES, 'notes');
const STEP_2 = join(EXAMPLES, 'demo-steps/2-pinned-notes.patch');
const STEP_3 = join(EXAMPLES, 'demo-steps/3-broken-create.patch');

// ---------------------------------------------------------------------------------------------
// The engines. Every story below runs on each: SQLite (file: URL, no node_modules at all, as the
// example's zero-dependency promise says) and Postgres (a fresh database per test from
// test/helpers/postgres.ts, migrated by PostgresMigrationDriver, the build run with the
// production node_modules a user's `npm ci --omit=dev` gives). The Postgres stories skip
// locally when no server answers and fail in CI (`describeIfPostgres`).

interface Engine {
  name: 'sqlite' | 'postgres';
  /** The app's migrations folder for this engine. */
  migrations: string;
  /** A new, empty database for the current test (dropped after it). */
  database(): Promise<{ url: string; name: string }>;
  /** Readies the checkout for `node scripts/build.mjs` the way a user's build does. */
  install(): Promise<void>;
}

const databases: TestDatabase[] = [];
/** The temporary copy where `npm ci --omit=dev` ran (its node_modules is what builds get). */
let modulesDir: string | null = null;

const sqlite: Engine = {
  name: 'sqlite',
  migrations: 'migrations',
  async database() {
    const path = join(root, `notes-${randomBytes(4).toString('hex')}.db`);
    return { url: pathToFileURL(path).href, name: path };
  },
  async install() {},
};

const postgres: Engine = {
  name: 'postgres',
  migrations: 'migrations-postgres',
  async database() {
    const db = await createTestDatabase('airlock_notes');
    databases.push(db);
    return db;
  },
  async install() {
    if (!modulesDir) throw new Error('the production node_modules were not installed');
    await cp(join(modulesDir, 'node_modules'), join(app, 'node_modules'), {
      recursive: true,
      verbatimSymlinks: true,
    });
  },
};

/** `npm ci --omit=dev` once, from the example's committed lockfile, in a temporary copy. */
async function installProductionModules(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-notes-modules-'));
  await cp(join(NOTES, 'package.json'), join(dir, 'package.json'));
  await cp(join(NOTES, 'package-lock.json'), join(dir, 'package-lock.json'));
  await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    timeout: 120_000,
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------

let root: string;
let app: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-notes-'));
  app = join(root, 'app');
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c)));
  await Promise.all(databases.splice(0).map((d) => d.drop()));
  await rm(root, { recursive: true, force: true });
});

/** Copies the example (without build output or databases), then applies each of the demo's commits. */
async function checkout(...patches: string[]): Promise<void> {
  await cp(NOTES, app, {
    recursive: true,
    filter: (src) => {
      const rel = relative(NOTES, src);
      return !rel.startsWith('dist') && !rel.endsWith('.db') && !rel.includes('node_modules');
    },
  });
  for (const patch of patches) {
    await run('git', ['apply', patch], { cwd: app });
  }
}

async function build(): Promise<string> {
  await run(process.execPath, ['scripts/build.mjs'], { cwd: app });
  return join(app, 'dist');
}

/** Applies the engine's migrations of the current checkout; returns the versions that ran. */
async function migrate(engine: Engine, url: string, release: string): Promise<number[]> {
  const driver =
    engine.name === 'sqlite' ? new SqliteMigrationDriver(url) : new PostgresMigrationDriver(url);
  try {
    const files = await readMigrationDir(join(app, engine.migrations));
    const result = await new Migrator(driver, files).apply({ appliedBy: 'test', release });
    return result.applied.map((e) => e.version);
  } finally {
    await driver.close();
  }
}

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts `node server.js` in the build output on a free port (PORT=0; the app prints it). */
async function start(dist: string, databaseUrl: string, release: string): Promise<Running> {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: dist,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl,
      AIRLOCK_RELEASE: release,
      AIRLOCK_COMMIT: 'c0ffee',
      AIRLOCK_ENV: 'staging',
      AIRLOCK_DIGEST: 'd1'.repeat(32),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (c) => {
    output += c;
  });
  child.stderr!.on('data', (c) => {
    output += c;
  });
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`server did not start:\n${output}`)), 10_000);
    const look = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        ok(match[1]!);
      }
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((ok) => child.once('exit', (code) => ok(code)));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited(child);
  clearTimeout(timer);
}

function ctx(url: string, release = 'r1'): CheckContext {
  return {
    baseUrl: url,
    environment: 'staging',
    service: 'notes',
    release: { id: release, commit: 'c0ffee', digest: 'd'.repeat(64) },
    serviceRoot: app,
  };
}

const e2e = {
  name: 'e2e',
  type: 'command' as const,
  run: `"${process.execPath}" e2e/notes.e2e.mjs`,
  timeoutMs: 30_000,
};

async function getJson(url: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

async function treeHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  }
  return out;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

// ---------------------------------------------------------------------------------------------

describe('examples/notes on sqlite', () => stories(sqlite));
describeIfPostgres('examples/notes on postgres', () => stories(postgres));

/** Every story of the example, on one engine. */
function stories(engine: Engine): void {
  if (engine.name === 'postgres') {
    beforeAll(async () => {
      modulesDir = await installProductionModules();
    });
    afterAll(async () => {
      if (modulesDir) await rm(modulesDir, { recursive: true, force: true });
      modulesDir = null;
    });
  }

  it('builds deterministically: src/ (and any production node_modules) into dist/ with an ESM package.json', async () => {
    await checkout();
    await engine.install();
    const dist = await build();
    const first = await treeHashes(dist);
    const own = Object.keys(first).filter((f) => !f.startsWith('node_modules/'));
    expect(own.sort()).toEqual(['database.js', 'package.json', 'server.js']);
    if (engine.name === 'postgres') {
      const pgManifest = JSON.parse(
        await readFile(join(dist, 'node_modules/pg/package.json'), 'utf8'),
      );
      expect(pgManifest.version).toBe('8.23.1');
    } else {
      expect(Object.keys(first).length).toBe(own.length);
    }
    expect(JSON.parse(await readFile(join(dist, 'package.json'), 'utf8')).type).toBe('module');
    expect(await readFile(join(dist, 'server.js'), 'utf8')).toBe(
      await readFile(join(NOTES, 'src/server.js'), 'utf8'),
    );
    await rm(join(dist, 'server.js'));
    await build();
    expect(await treeHashes(dist)).toEqual(first);
  });

  it('migrates, serves /health and /version, and passes its E2E suite', async () => {
    await checkout();
    await engine.install();
    const dist = await build();
    const db = await engine.database();
    expect(await migrate(engine, db.url, 'r1')).toEqual([1, 2]);

    const server = await start(dist, db.url, 'r1');
    const version = await runHttpCheck(
      {
        name: 'version',
        type: 'http',
        method: 'GET',
        path: '/version',
        expect: {
          status: 200,
          json: {
            release: `\${release.id}`,
            commit: `\${release.commit}`,
            environment: `\${environment}`,
          },
        },
        timeoutMs: 2000,
        intervalMs: 100,
        requestTimeoutMs: 1000,
      },
      ctx(server.url),
    );
    expect(version.message).toMatch(/^GET \/version → 200/);
    expect(version.status).toBe('passed');
    expect(await getJson(`${server.url}/health`)).toEqual({
      status: 200,
      json: { status: 'ok' },
    });

    const result = await runCommandCheck(e2e, ctx(server.url));
    expect(result.details.outputTail).toContain('e2e: all steps passed');
    expect(result.status).toBe('passed');

    expect(await getJson(`${server.url}/nope`)).toEqual({
      status: 404,
      json: { error: 'no route for /nope' },
    });
    // Input Postgres text cannot hold is refused the same way on every engine.
    const nul = await fetch(`${server.url}/notes`, {
      method: 'POST',
      body: JSON.stringify({ title: 'a\u0000b' }),
    });
    expect(nul.status).toBe(400);
    expect(await getJson(`${server.url}/notes/9999999999999999`)).toMatchObject({ status: 404 });
  });

  it('answers 503 on /health until the migrations have run', async () => {
    await checkout();
    await engine.install();
    const dist = await build();
    const db = await engine.database();
    const server = await start(dist, db.url, 'r1');
    const before = await getJson(`${server.url}/health`);
    expect(before.status).toBe(503);
    expect(before.json).toMatchObject({ status: 'unavailable' });
    expect(JSON.stringify(before.json)).toContain('notes.updated_at');
    await migrate(engine, db.url, 'r1');
    expect((await getJson(`${server.url}/health`)).status).toBe(200);
  });

  it('stops gracefully on SIGTERM: an in-flight request finishes, then the database is closed and exit 0', async () => {
    await checkout();
    await engine.install();
    const dist = await build();
    const db = await engine.database();
    await migrate(engine, db.url, 'r1');
    const server = await start(dist, db.url, 'r1');
    const { port } = new URL(server.url);
    const response = new Promise<{ status: number; body: string }>((ok, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/notes',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', fail);
      // Half a request: the server is now handling it.
      req.write('{"title": "in flight", ');
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end('"body": "finished during the drain"}'), 200);
      }, 200);
    });
    const answer = await response;
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body)).toMatchObject({ title: 'in flight' });
    expect(await exited(server.child)).toBe(0);
    expect(server.output()).toContain('notes: SIGTERM, draining');
    expect(server.output()).toContain('notes: stopped');
    // The pool was ended, not abandoned: Postgres sees no connection left.
    if (engine.name === 'postgres') expect(await openConnections(db.name)).toBe(0);
  });

  it('step 2 (pinned notes): 3 migrations, E2E passes', async () => {
    await checkout(STEP_2);
    await engine.install();
    const dist = await build();
    const db = await engine.database();
    expect(await migrate(engine, db.url, 'r2')).toEqual([1, 2, 3]);
    const server = await start(dist, db.url, 'r2');
    const result = await runCommandCheck(e2e, ctx(server.url, 'r2'));
    expect(result.details.outputTail).toContain('✓ pin it to the top of the list');
    expect(result.status).toBe('passed');
  });

  it('step 2 code on a database without 0003 is unhealthy (the gate sees the missing migration)', async () => {
    await checkout();
    const db = await engine.database();
    await migrate(engine, db.url, 'r1');
    await rm(app, { recursive: true });
    await checkout(STEP_2);
    await engine.install();
    const server = await start(await build(), db.url, 'r2');
    const health = await getJson(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(JSON.stringify(health.json)).toContain('pinned');
    expect(await migrate(engine, db.url, 'r2')).toEqual([3]);
    expect((await getJson(`${server.url}/health`)).status).toBe(200);
  });

  it('step 3 (broken create): E2E fails on POST /notes while /health and /version stay fine', async () => {
    await checkout(STEP_2, STEP_3);
    await engine.install();
    const dist = await build();
    const db = await engine.database();
    await migrate(engine, db.url, 'r3');
    const server = await start(dist, db.url, 'r3');
    const result = await runCommandCheck(e2e, ctx(server.url, 'r3'));
    expect(result.status).toBe('failed');
    expect(result.details.exitCode).toBe(1);
    expect(result.message).toContain('✗ create a note: POST /notes → 500, expected 201');
    expect(server.output()).toContain('created_by');
    expect(await getJson(`${server.url}/health`)).toEqual({
      status: 200,
      json: { status: 'ok' },
    });
    expect((await getJson(`${server.url}/version`)).json).toEqual({
      release: 'r3',
      commit: 'c0ffee',
      environment: 'staging',
      digest: 'd1'.repeat(32),
    });
  });

  if (engine.name === 'postgres') {
    it('answers 503 on /health while Postgres does not answer, and still stops cleanly', async () => {
      await checkout();
      await engine.install();
      const url = `postgres://postgres@127.0.0.1:${await closedPort()}/notes`;
      const server = await start(await build(), url, 'r1');
      const health = await getJson(`${server.url}/health`);
      expect(health).toMatchObject({ status: 503, json: { status: 'unavailable' } });
      expect(JSON.stringify(health.json)).toContain('ECONNREFUSED');
      await stop(server.child);
      expect(server.child.exitCode).toBe(0);
    });
  }
}

describe('examples/notes without node_modules', () => {
  it('refuses a Postgres URL at start, saying how to build with pg (SQLite needs nothing)', async () => {
    await checkout();
    const dist = await build();
    await expect(start(dist, 'postgres://postgres@127.0.0.1:1/notes', 'r1')).rejects.toThrow(
      /exited with 1[\s\S]*pg package could not be loaded[\s\S]*npm ci --omit=dev/,
    );
  });
});

describe('examples/demo-steps', () => {
  it('each step is a commit with a message', async () => {
    for (const step of [STEP_2, STEP_3]) {
      const subject = /^Subject: \[PATCH \d\/\d\] (.+)$/m.exec(await readFile(step, 'utf8'));
      expect(subject?.[1]?.length).toBeGreaterThan(10);
    }
  });

  it('keeps the SQLite and Postgres migration folders in step (same numbered files)', async () => {
    const names = async (dir: string) =>
      (await readMigrationDir(join(app, dir))).map((f) => f.filename);
    await checkout();
    expect(await names('migrations-postgres')).toEqual(await names('migrations'));
    expect(await names('migrations')).toHaveLength(2);
    await rm(app, { recursive: true });
    await checkout(STEP_2, STEP_3);
    expect(await names('migrations-postgres')).toEqual(await names('migrations'));
    expect(await names('migrations')).toEqual([
      '0001_create_notes.sql',
      '0002_add_notes_updated_at.sql',
      '0003_add_notes_pinned.sql',
    ]);
  });
});
