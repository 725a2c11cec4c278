import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckContext } from '../../src/checks/check.ts';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { runHttpCheck } from '../../src/checks/http-check.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { Migrator } from '../../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../../src/migrations/sqlite-migration-driver.ts';

const run = promisify(execFile);
const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const NOTES = join(EXAMPLES, 'notes');
const STEP_2 = join(EXAMPLES, 'demo-steps/2-pinned-notes.patch');
const STEP_3 = join(EXAMPLES, 'demo-steps/3-broken-create.patch');

let root: string;
let app: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-notes-'));
  app = join(root, 'app');
});

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c)));
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

async function migrate(dbPath: string, release: string) {
  const driver = new SqliteMigrationDriver(dbPath);
  try {
    return await new Migrator(driver, await readMigrationDir(join(app, 'migrations'))).apply({
      appliedBy: 'test',
      release,
    });
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
async function start(dist: string, dbPath: string, release: string): Promise<Running> {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: dist,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: pathToFileURL(dbPath).href,
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

describe('examples/notes', () => {
  it('builds deterministically: src/ copied into dist/ with an ESM package.json', async () => {
    await checkout();
    const dist = await build();
    const first = await treeHashes(dist);
    expect(Object.keys(first).sort()).toEqual(['package.json', 'server.js']);
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
    const dist = await build();
    const dbPath = join(root, 'envs/staging/notes.db');
    const applied = await migrate(dbPath, 'r1');
    expect(applied.applied.map((e) => e.name)).toEqual(['create_notes', 'add_notes_updated_at']);

    const server = await start(dist, dbPath, 'r1');
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
    expect(await getJson(`${server.url}/health`)).toEqual({ status: 200, json: { status: 'ok' } });

    const result = await runCommandCheck(e2e, ctx(server.url));
    expect(result.details.outputTail).toContain('e2e: all steps passed');
    expect(result.status).toBe('passed');

    expect(await getJson(`${server.url}/nope`)).toEqual({
      status: 404,
      json: { error: 'no route for /nope' },
    });
  });

  it('answers 503 on /health until the migrations have run', async () => {
    await checkout();
    const dist = await build();
    const dbPath = join(root, 'empty.db');
    const server = await start(dist, dbPath, 'r1');
    const before = await getJson(`${server.url}/health`);
    expect(before.status).toBe(503);
    expect(before.json).toMatchObject({ status: 'unavailable' });
    await migrate(dbPath, 'r1');
    expect((await getJson(`${server.url}/health`)).status).toBe(200);
  });

  it('stops gracefully on SIGTERM: an in-flight request finishes, then exit 0', async () => {
    await checkout();
    const dist = await build();
    const dbPath = join(root, 'notes.db');
    await migrate(dbPath, 'r1');
    const server = await start(dist, dbPath, 'r1');
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
  });
});

describe('examples/demo-steps', () => {
  it('each step is a commit with a message', async () => {
    for (const step of [STEP_2, STEP_3]) {
      const subject = /^Subject: \[PATCH \d\/\d\] (.+)$/m.exec(await readFile(step, 'utf8'));
      expect(subject?.[1]?.length).toBeGreaterThan(10);
    }
  });

  it('step 2 (pinned notes): 3 migrations, E2E passes', async () => {
    await checkout(STEP_2);
    const dist = await build();
    const dbPath = join(root, 'notes.db');
    const applied = await migrate(dbPath, 'r2');
    expect(applied.applied.map((e) => e.version)).toEqual([1, 2, 3]);
    const server = await start(dist, dbPath, 'r2');
    const result = await runCommandCheck(e2e, ctx(server.url, 'r2'));
    expect(result.details.outputTail).toContain('✓ pin it to the top of the list');
    expect(result.status).toBe('passed');
  });

  it('step 2 code on a database without 0003 is unhealthy (the gate sees the missing migration)', async () => {
    await checkout();
    const dbPath = join(root, 'notes.db');
    await migrate(dbPath, 'r1');
    await rm(app, { recursive: true });
    await checkout(STEP_2);
    const server = await start(await build(), dbPath, 'r2');
    const health = await getJson(`${server.url}/health`);
    expect(health.status).toBe(503);
    expect(JSON.stringify(health.json)).toContain('pinned');
    const applied = await migrate(dbPath, 'r2');
    expect(applied.applied.map((e) => e.version)).toEqual([3]);
    expect((await getJson(`${server.url}/health`)).status).toBe(200);
  });

  it('step 3 (broken create): E2E fails on POST /notes while /health and /version stay fine', async () => {
    await checkout(STEP_2, STEP_3);
    const dist = await build();
    const dbPath = join(root, 'notes.db');
    await migrate(dbPath, 'r3');
    const server = await start(dist, dbPath, 'r3');
    const result = await runCommandCheck(e2e, ctx(server.url, 'r3'));
    expect(result.status).toBe('failed');
    expect(result.details.exitCode).toBe(1);
    expect(result.message).toContain('✗ create a note: POST /notes → 500, expected 201');
    expect(await getJson(`${server.url}/health`)).toEqual({ status: 200, json: { status: 'ok' } });
    expect((await getJson(`${server.url}/version`)).json).toEqual({
      release: 'r3',
      commit: 'c0ffee',
      environment: 'staging',
      digest: 'd1'.repeat(32),
    });
  });
});
