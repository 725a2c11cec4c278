/**
 * What the D1 state store adds to the state-store contract (`state-store.test.ts`), against the
 * FAKE D1 HTTP API (Cloudflare's envelope over a real SQLite file): conditional writes keep the
 * audit chain whole when two processes append at once, a transaction is one batch, the schema
 * is migrated once by concurrent openers, a dropped guard trigger comes back, and the token
 * never shows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { d1StateLocation } from '../../src/config/resolve-databases.ts';
import { openD1StateClient } from '../../src/providers/cloudflare/d1-state-client.ts';
import { openStateStore } from '../../src/state/open-state-store.ts';
import type { NewAuditEvent, StateStore } from '../../src/state/state-store.ts';
import { type FakeD1Api, startFakeD1Api } from '../fakes/cloudflare/fake-d1-api.ts';

let dir: string;
let api: FakeD1Api;
let databaseId: string;
const stores: StateStore[] = [];

async function open(env: Record<string, string> = {}): Promise<StateStore> {
  const location = d1StateLocation(`d1://${api.accountId}/${databaseId}`, {
    AIRLOCK_STATE_TOKEN: api.token,
    CLOUDFLARE_API_BASE_URL: api.baseUrl,
    ...env,
  });
  const store = await openStateStore(location!, { d1Client: openD1StateClient });
  stores.push(store);
  return store;
}

const event = (i: number, actor = 'a'): NewAuditEvent => ({
  at: '2026-12-05T10:00:00.000Z',
  actor,
  action: 'ci.passed',
  environment: 'staging',
  releaseId: null,
  runId: null,
  result: 'ok',
  detail: { i },
});

/** Requests that wrote (a batch with an insert or update), since `from`. */
const writes = (from: number) =>
  api.requests.slice(from).filter((r) => {
    const batch = (r.body as { batch?: { sql: string }[] }).batch ?? [];
    return batch.some((s) => /^\s*(insert|update)/i.test(s.sql));
  });

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-d1-store-'));
  api = await startFakeD1Api(dir);
  databaseId = api.createDatabase();
});

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('D1StateStore', () => {
  it('keeps the audit chain whole when two processes append at the same time', async () => {
    const [a, b] = [await open(), await open()];
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => a.appendAudit(event(i, 'a'))),
      ...Array.from({ length: 10 }, (_, i) => b.appendAudit(event(i, 'b'))),
    ]);
    const events = await a.listAudit({ limit: 100 });
    expect(events).toHaveLength(20);
    expect(new Set(events.map((e) => e.id)).size).toBe(20);
    const verified = await b.verifyAudit();
    expect(verified).toMatchObject({ ok: true, checked: 20, problems: [] });
  });

  it('sends a transaction as one batch: a step and its audit events land together', async () => {
    const store = await open();
    const run = await store.createRun({
      kind: 'deploy',
      environment: 'staging',
      releaseId: 'r1',
      actor: 'a',
      pid: 1,
      host: 'h',
      startedAt: 't',
    });
    const from = api.requests.length;
    await store.transaction(async (tx) => {
      await tx.saveStep({
        runId: run.id,
        index: 0,
        name: 'deploy',
        title: 'Deploy',
        status: 'succeeded',
        startedAt: 't',
        finishedAt: 't',
        durationMs: 5,
        message: null,
        output: null,
      });
      await tx.appendAudit(event(1));
      await tx.appendAudit(event(2));
    });
    expect(writes(from)).toHaveLength(1);
    expect(api.requests.length - from).toBe(2); // the chain read, then the batch
    expect((await store.listSteps(run.id)).map((s) => s.status)).toEqual(['succeeded']);
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('migrates a new database once when several processes open it at the same time', async () => {
    const opened = await Promise.all([open(), open(), open()]);
    await opened[0]!.insertRelease({
      digest: 'a'.repeat(64),
      commit: '1'.repeat(40),
      dirty: false,
      subject: 's',
      createdAt: 't',
      createdBy: 'a',
      buildMs: 1,
      services: {},
    });
    expect((await opened[2]!.findRelease('r1'))?.commit).toBe('1'.repeat(40));
    const db = new DatabaseSync(api.file(databaseId), { readOnly: true });
    const lockTables = db
      .prepare("SELECT name FROM sqlite_master WHERE name = 'airlock_migration_lock'")
      .all();
    db.close();
    expect(lockTables).toEqual([]); // the migration lease left nothing behind
  });

  it('recreates an audit guard dropped outside Airlock, and says so in the audit log', async () => {
    await (await open()).appendAudit(event(1));
    const db = new DatabaseSync(api.file(databaseId));
    db.exec('DROP TRIGGER audit_events_no_update');
    db.close();
    const store = await open();
    const [restored] = await store.listAudit({ limit: 1 });
    expect(restored).toMatchObject({
      action: 'audit.guard-restored',
      detail: { triggers: ['audit_events_no_update'] },
    });
    const again = new DatabaseSync(api.file(databaseId));
    expect(() => again.exec('UPDATE audit_events SET actor = 1')).toThrow(/append-only/);
    again.close();
  });

  it("refuses an environment's application database (one that carries its claim)", async () => {
    const db = new DatabaseSync(api.file(databaseId));
    db.exec(
      "CREATE TABLE airlock_claim (id INTEGER PRIMARY KEY, project TEXT, environment TEXT, claimed_at TEXT); INSERT INTO airlock_claim VALUES (1, 'notes', 'production', 't')",
    );
    db.close();
    await expect(open()).rejects.toMatchObject({
      code: 'STATE_IN_APPLICATION_DATABASE',
      message: expect.stringContaining('environment production'),
    });
  });

  it('refuses a wrong or missing token with PROVIDER_AUTH, never printing the token', async () => {
    await expect(open({ AIRLOCK_STATE_TOKEN: 'wrong-token-0123456789' })).rejects.toMatchObject({
      code: 'PROVIDER_AUTH',
      message: expect.not.stringContaining('wrong-token-0123456789'),
    });
    const location = d1StateLocation(`d1://${api.accountId}/${databaseId}`, {});
    await expect(openStateStore(location!, { d1Client: openD1StateClient })).rejects.toMatchObject({
      code: 'PROVIDER_AUTH',
      message: expect.stringContaining('AIRLOCK_STATE_TOKEN'),
    });
  });
});
