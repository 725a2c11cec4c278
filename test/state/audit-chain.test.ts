/**
 * The audit log's hash chain, attacked the ways a person with the database can: each
 * alteration is found by a full verification with the first bad event's number, fails the
 * `audit` gate (the tail check, or the break recorded on the head), and stops failing once
 * accepted. Real SQLite files (attacked through a second connection, as the sqlite3 shell
 * would) and real Postgres (attacked as its owner).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { evaluateAuditGate } from '../../src/gates/audit-gate.ts';
import type { GateInputs } from '../../src/gates/gate.ts';
import { describeAlteration, formatAuditHead } from '../../src/state/audit-chain.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import {
  createTestDatabase,
  describeIfPostgres,
  type TestDatabase,
  withAdminClient,
} from '../helpers/postgres.ts';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function event(i: number, environment = 'staging') {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    actor: 'dev@example.com',
    action: 'lock.acquired' as const,
    environment,
    releaseId: `r${i}`,
    runId: null,
    result: 'ok' as const,
    // Non-ASCII text: Postgres hashes the same UTF-8 bytes as Node.
    detail: { i, note: 'déployé ✓ 😀 "quoted"\n' },
  };
}

async function append(store: StateStore, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await store.appendAudit(event(i));
}

/** The `audit` gate as a promotion would see it now (tail check + recorded break). */
async function gate(store: StateStore) {
  const v = await store.verifyAudit({ tail: 32 });
  return evaluateAuditGate({
    audit: {
      ok: v.ok,
      head: v.head ? formatAuditHead(v.head) : null,
      alteration: describeAlteration(v),
    },
  } as GateInputs);
}

/**
 * What `airlock audit verify` then `accept` do: the full check names `firstBad`, the break is
 * recorded, gates fail; after the accept, the chain verifies and gates hold.
 */
async function expectCaughtThenAccepted(store: StateStore, firstBad: number): Promise<void> {
  const v = await store.verifyAudit();
  expect(v.ok).toBe(false);
  expect(v.problems[0]?.id, JSON.stringify(v.problems)).toBe(firstBad);
  await store.markAuditBroken(firstBad, v.problems[0]?.reason ?? '');
  const blocked = await gate(store);
  expect(blocked.status).toBe('fails');
  expect(blocked.reason).toContain(`audit log altered at #${firstBad}`);
  await store.acceptAudit({
    ...event(999),
    action: 'audit.accepted',
    environment: null,
    detail: { from: firstBad, reason: 'test' },
  });
  const after = await store.verifyAudit();
  expect(after.problems).toEqual([]);
  expect(after.accepted[0]?.id).toBe(firstBad);
  expect((await gate(store)).status).toBe('holds');
  // The chain carries on after the new segment.
  await store.appendAudit(event(1000));
  expect((await store.verifyAudit()).ok).toBe(true);
}

describe('audit chain on SQLite', () => {
  async function open() {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-chain-'));
    const file = path.join(dir, 'state.db');
    const store = await SqliteStateStore.open({ file });
    const raw = new DatabaseSync(file, { timeout: 5000 });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => store.close());
    cleanups.push(() => raw.close());
    return { store, raw, file };
  }

  it('chains concurrent appends from three processes on one file, and verifies', async () => {
    const { store, file } = await open();
    const module = new URL('../../src/state/sqlite-state-store.ts', import.meta.url).href;
    const script = `const { SqliteStateStore } = await import(${JSON.stringify(module)});
      const store = await SqliteStateStore.open({ file: process.argv[1] });
      for (let i = 0; i < 15; i++)
        await store.appendAudit({ at: new Date().toISOString(), actor: 'p' + process.pid, action: 'lock.acquired',
          environment: 'staging', releaseId: null, runId: null, result: 'ok', detail: { i } });
      await store.close();`;
    const run = () =>
      new Promise<number | null>((resolve) =>
        spawn(process.execPath, ['--input-type=module', '-e', script, file], {
          stdio: 'inherit',
        }).on('exit', resolve),
      );
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const v = await store.verifyAudit();
    expect(v).toMatchObject({ ok: true, checked: 45, problems: [] });
    expect(v.head?.seq).toBe(45);
    expect((await gate(store)).status).toBe('holds');
  });

  it('refuses INSERT OR REPLACE; with the guard dropped, the replaced event is found', async () => {
    const { store, raw, file } = await open();
    await append(store, 5);
    const replace = `INSERT OR REPLACE INTO audit_events (id, at, actor, action, environment, release_id, run_id, result, detail, prev_hash, hash)
      SELECT id, at, 'evil', action, environment, release_id, run_id, result, detail, prev_hash, hash FROM audit_events WHERE id = 3`;
    expect(() => raw.exec(replace)).toThrow(/append-only/);
    raw.exec('DROP TRIGGER audit_events_no_replace');
    raw.exec(replace); // recursive_triggers is off in this connection: the delete guard stays quiet
    expect(
      (raw.prepare('SELECT actor FROM audit_events WHERE id = 3').get() as { actor: string }).actor,
    ).toBe('evil');
    await expectCaughtThenAccepted(store, 3);
    // The next open finds the dropped guard, creates it again, and says so in the log.
    const again = await SqliteStateStore.open({ file });
    cleanups.push(() => again.close());
    const [restored] = await again.listAudit({ limit: 1 });
    expect(restored).toMatchObject({
      action: 'audit.guard-restored',
      detail: { triggers: ['audit_events_no_replace'] },
    });
    expect(() => raw.exec(replace)).toThrow(/append-only/);
    expect((await again.verifyAudit()).ok).toBe(true);
  });

  it("Airlock's own connection fires the delete guard on REPLACE (recursive_triggers)", async () => {
    const { store } = await open();
    await append(store, 2);
    const db = (store as SqliteStateStore).db;
    const { sql } = await import('kysely');
    await sql`DROP TRIGGER audit_events_no_replace`.execute(db);
    await expect(
      sql`INSERT OR REPLACE INTO audit_events (id, at, actor, action, result, detail) VALUES (1, 't', 'evil', 'x', 'ok', '{}')`.execute(
        db,
      ),
    ).rejects.toThrow(/append-only/);
  });

  it('finds a DROP TRIGGER + DELETE in the middle and at the tail', async () => {
    const { store, raw } = await open();
    await append(store, 6);
    raw.exec('DROP TRIGGER audit_events_no_delete; DELETE FROM audit_events WHERE id = 4');
    const v = await store.verifyAudit();
    expect(v.problems[0]).toMatchObject({
      id: 4,
      reason: expect.stringContaining('event #4 is missing'),
    });
    raw.exec('DELETE FROM audit_events WHERE id = 6');
    const tail = await store.verifyAudit({ tail: 32 });
    expect(tail.problems.map((p) => p.id)).toEqual([4, 6]);
    await expectCaughtThenAccepted(store, 4);
  });

  it("finds a direct UPDATE of one event's detail", async () => {
    const { store, raw } = await open();
    await append(store, 5);
    raw.exec(
      `DROP TRIGGER audit_events_no_update; UPDATE audit_events SET detail = '{"i":99}' WHERE id = 2`,
    );
    await expectCaughtThenAccepted(store, 2);
  });

  it('finds an event rewritten with its hash recomputed at the next event', async () => {
    const { store, raw } = await open();
    await append(store, 4);
    const { chainHash, eventContent } = await import('../../src/state/audit-chain.ts');
    const row = raw.prepare('SELECT * FROM audit_events WHERE id = 2').get() as Record<
      string,
      never
    >;
    const forged = { ...(row as object), actor: 'evil' } as Parameters<typeof eventContent>[0] & {
      prev_hash: string;
    };
    raw.exec('DROP TRIGGER audit_events_no_update');
    raw
      .prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE id = 2')
      .run('evil', chainHash(forged.prev_hash, eventContent(forged)));
    const v = await store.verifyAudit();
    expect(v.problems[0]).toMatchObject({
      id: 3,
      reason: expect.stringContaining('does not follow #2'),
    });
  });

  it('starts the chain after the events a store held before the upgrade', async () => {
    const { store, raw, file } = await open();
    await store.close();
    // As an older Airlock left it: three unchained events and no head row.
    raw.exec(`DROP TRIGGER audit_head_no_delete; DELETE FROM audit_head;
      DROP TRIGGER audit_events_no_replace;
      INSERT INTO audit_events (id, at, actor, action, result, detail) VALUES
        (1, 't', 'a', 'lock.acquired', 'ok', '{}'), (2, 't', 'a', 'lock.acquired', 'ok', '{}'), (3, 't', 'a', 'lock.acquired', 'ok', '{}');
      INSERT INTO audit_head (id, seq, hash, chain_start) VALUES (1, 3, '${'0'.repeat(64)}', 4)`);
    const again = await SqliteStateStore.open({ file });
    cleanups.push(() => again.close());
    await append(again, 2);
    const v = await again.verifyAudit();
    expect(v).toMatchObject({ ok: true, unchained: 3 });
    // guard-restored (4) and the two appends (5, 6) are chained.
    expect(v.checked).toBe(3);
  });
});

describeIfPostgres('audit chain on Postgres', () => {
  let db: TestDatabase;

  async function open() {
    db = await createTestDatabase('airlock_chain');
    cleanups.push(() => db.drop());
    const store = await PostgresStateStore.open({ url: db.url });
    cleanups.push(() => store.close());
    const owner = new pg.Client({ connectionString: db.url });
    owner.on('error', () => {}); // the database is dropped under it at the end
    await owner.connect();
    cleanups.push(() => owner.end());
    return { store, owner };
  }

  it('chains concurrent appends from several stores, and verifies', async () => {
    const { store } = await open();
    const others = await Promise.all([1, 2].map(() => PostgresStateStore.open({ url: db.url })));
    for (const o of others) cleanups.push(() => o.close());
    const all = [store, ...others];
    await Promise.all(Array.from({ length: 30 }, (_, i) => all[i % 3]?.appendAudit(event(i))));
    const v = await store.verifyAudit();
    expect(v).toMatchObject({ ok: true, checked: 30, problems: [] });
    expect(v.head?.seq).toBe(30);
  });

  it('refuses TRUNCATE; with the trigger dropped by the owner, the wipe is found', async () => {
    const { store, owner } = await open();
    await append(store, 4);
    await expect(owner.query('TRUNCATE airlock.audit_events')).rejects.toThrow(/append-only/);
    await owner.query('DROP TRIGGER audit_events_no_truncate ON airlock.audit_events');
    expect(await store.missingAuditGuards()).toEqual(['audit_events_no_truncate']);
    await owner.query('TRUNCATE airlock.audit_events');
    const v = await store.verifyAudit({ tail: 32 });
    expect(v.problems[0]?.reason).toContain('events #1–#4 are missing');
    await expectCaughtThenAccepted(store, 1);
    // The next open (as the owner) recreates the guard, and says so in the log.
    const again = await PostgresStateStore.open({ url: db.url });
    cleanups.push(() => again.close());
    expect(await again.missingAuditGuards()).toEqual([]);
    expect((await again.listAudit({ limit: 1 }))[0]).toMatchObject({
      action: 'audit.guard-restored',
      detail: { triggers: ['audit_events_no_truncate'] },
    });
    await expect(owner.query('TRUNCATE airlock.audit_events')).rejects.toThrow(/append-only/);
    expect((await again.verifyAudit()).ok).toBe(true);
  });

  it('refuses an UPDATE under session_replication_role = replica; with the trigger back to normal, finds it', async () => {
    const { store, owner } = await open();
    await append(store, 5);
    await owner.query('SET session_replication_role = replica');
    await expect(
      owner.query(`UPDATE airlock.audit_events SET detail = '{"i":42}' WHERE id = 3`),
    ).rejects.toThrow(/append-only/);
    await owner.query('ALTER TABLE airlock.audit_events ENABLE TRIGGER audit_events_append_only');
    expect(await store.missingAuditGuards()).toEqual(['audit_events_append_only']);
    await owner.query(`UPDATE airlock.audit_events SET detail = '{"i":42}' WHERE id = 3`);
    await owner.query('DELETE FROM airlock.audit_events WHERE id = 5');
    await owner.query('SET session_replication_role = origin');
    const v = await store.verifyAudit();
    expect(v.problems.map((p) => p.id)).toEqual([3, 5]);
    await expectCaughtThenAccepted(store, 3);
  });

  it("finds a direct UPDATE of one event's detail by the owner", async () => {
    const { store, owner } = await open();
    await append(store, 3);
    await owner.query('ALTER TABLE airlock.audit_events DISABLE TRIGGER audit_events_append_only');
    await owner.query(`UPDATE airlock.audit_events SET detail = '{"i":7}' WHERE id = 1`);
    await expectCaughtThenAccepted(store, 1);
  });

  it('state grant: the CI role appends and reads events, but cannot update, delete or truncate them', async () => {
    const { store, owner } = await open();
    await append(store, 2);
    const { applyStateGrants, stateGrantStatements } = await import('../../src/state/grants.ts');
    const role = `${db.name}_ci`;
    const login = `${db.name}_login`;
    await applyStateGrants(store, stateGrantStatements('airlock', role));
    await owner.query(`CREATE ROLE ${login} LOGIN IN ROLE ${role}`);
    cleanups.push(async () => {
      await db.drop();
      await withAdminClient(async (c) => {
        await c.query(`DROP ROLE IF EXISTS ${login}`);
        await c.query(`DROP ROLE IF EXISTS ${role}`);
      });
    });
    const url = new URL(db.url);
    url.username = login;
    const ci = await PostgresStateStore.open({ url: url.toString() });
    try {
      await ci.appendAudit(event(3));
      expect((await ci.verifyAudit()).ok).toBe(true);
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      try {
        for (const attack of [
          `UPDATE airlock.audit_events SET actor = 'evil'`,
          'DELETE FROM airlock.audit_events',
          'TRUNCATE airlock.audit_events',
          'DELETE FROM airlock.audit_head',
          'DROP TRIGGER audit_events_append_only ON airlock.audit_events',
        ])
          await expect(client.query(attack), attack).rejects.toThrow(
            /permission denied|must be owner/,
          );
      } finally {
        await client.end();
      }
    } finally {
      await ci.close();
    }
  });
});
