/**
 * The state-store contract. One spec, looped over every implementation (Kysely runs each test
 * on every dialect); a new store passes by being added to `stateImplementations`
 * (test/helpers/state-implementations.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LATEST_LOCK_EXPIRY } from '../../src/state/lock-queries.ts';
import { STATE_SCHEMA_VERSION } from '../../src/state/schema.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { NewRelease, StateStore } from '../../src/state/state-store.ts';
import { stateImplementations } from '../helpers/state-implementations.ts';

const implementations = stateImplementations;

const digest = (c: string) => c.repeat(64).slice(0, 64);
const commit = (c: string) => c.repeat(40).slice(0, 40);

function newRelease(overrides: Partial<NewRelease> = {}): NewRelease {
  return {
    digest: digest('a'),
    commit: commit('1'),
    dirty: false,
    subject: 'first',
    createdAt: '2026-11-21T10:00:00.000Z',
    createdBy: 'dev@example.com',
    buildMs: 120,
    services: {
      web: { digest: digest('b'), bytes: 10, files: 1, migrationsDigest: null, migrations: [] },
    },
    ...overrides,
  };
}

for (const impl of implementations) {
  impl.describe(`StateStore contract: ${impl.name}`, () => {
    let store: StateStore;
    let cleanup: () => void;
    let reopen: () => Promise<StateStore>;

    beforeEach(async () => {
      ({ store, cleanup, reopen } = await impl.open());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('finds the clean release of a commit: the newest built without uncommitted changes', async () => {
      expect(await store.findCleanRelease(commit('1'))).toBeUndefined();
      await store.insertRelease(newRelease({ dirty: true, digest: digest('c') }));
      expect(await store.findCleanRelease(commit('1'))).toBeUndefined();

      await store.insertRelease(newRelease()); // r2: clean
      await store.insertRelease(newRelease({ digest: digest('d') })); // r3: clean, rebuilt
      await store.insertRelease(newRelease({ dirty: true, digest: digest('e') })); // r4: dirty
      await store.insertRelease(newRelease({ commit: commit('2'), digest: digest('f') })); // r5
      expect((await store.findCleanRelease(commit('1')))?.id).toBe('r3');
      expect((await store.findCleanRelease(commit('2')))?.id).toBe('r5');
      // The full sha only: a prefix is a reference to resolve first, not a commit.
      expect(await store.findCleanRelease(commit('1').slice(0, 7))).toBeUndefined();
    });

    it('numbers releases r1, r2, … and finds them by id, digest prefix and commit prefix', async () => {
      const r1 = await store.insertRelease(newRelease());
      const r2 = await store.insertRelease(
        newRelease({ digest: digest('c'), commit: commit('2') }),
      );
      expect([r1.id, r2.id]).toEqual(['r1', 'r2']);
      expect((await store.findRelease('r2'))?.digest).toBe(digest('c'));
      expect((await store.findRelease('R1'))?.id).toBe('r1');
      expect((await store.findRelease('ccccccc'))?.id).toBe('r2');
      expect((await store.findRelease('2222222'))?.id).toBe('r2');
      expect(await store.findRelease('r9')).toBeUndefined();
      expect(await store.findRelease('not-a-ref')).toBeUndefined();
      expect((await store.findReleaseByContent(commit('1'), digest('a'), false))?.id).toBe('r1');
      expect(await store.findReleaseByContent(commit('1'), digest('a'), true)).toBeUndefined();
      expect((await store.listReleases(10)).map((r) => r.id)).toEqual(['r2', 'r1']);
      expect(r1.services.web?.bytes).toBe(10);
    });

    it('keeps one release per content: the same commit, digest and dirtiness twice is one release', async () => {
      const first = await store.insertRelease(newRelease());
      const again = await store.insertRelease(newRelease());
      expect(again.id).toBe(first.id);
      expect((await store.listReleases(10)).map((r) => r.id)).toEqual(['r1']);
    });

    it('persists runs and every step transition', async () => {
      const run = await store.createRun({
        kind: 'deploy',
        environment: 'staging',
        releaseId: 'r1',
        actor: 'dev@example.com',
        pid: 123,
        host: 'h',
        startedAt: '2026-11-21T10:00:00.000Z',
      });
      expect(run.status).toBe('running');
      const step = {
        runId: run.id,
        index: 0,
        name: 'deploy:web',
        title: 'Deploy web',
        status: 'running' as const,
        startedAt: '2026-11-21T10:00:01.000Z',
        finishedAt: null,
        durationMs: null,
        message: null,
        output: null,
      };
      await store.saveStep(step);
      await store.saveStep({ ...step, status: 'succeeded', durationMs: 40, output: { url: 'x' } });
      const steps = await store.listSteps(run.id);
      expect(steps).toHaveLength(1);
      expect(steps[0]).toMatchObject({ status: 'succeeded', durationMs: 40, output: { url: 'x' } });
      await store.updateRun(run.id, {
        status: 'succeeded',
        finishedAt: '2026-11-21T10:00:02.000Z',
      });
      expect((await store.getRun(run.id))?.status).toBe('succeeded');
      expect(await store.listRuns({ status: 'running', limit: 10 })).toEqual([]);
    });

    it('keeps deployments, what serves where, and check results', async () => {
      const d = await store.createDeployment({
        runId: null,
        environment: 'staging',
        releaseId: 'r1',
        kind: 'deploy',
        actor: 'a',
        previousReleaseId: null,
        startedAt: '2026-11-21T10:00:00.000Z',
      });
      await store.updateDeployment(d.id, {
        switchedAt: '2026-11-21T10:00:01.000Z',
        checksStatus: 'passed',
        status: 'succeeded',
      });
      expect(await store.getDeployment(d.id)).toMatchObject({
        status: 'succeeded',
        checksStatus: 'passed',
      });
      await store.setServing({
        environment: 'staging',
        service: 'web',
        releaseId: 'r1',
        deploymentId: d.id,
        since: 't1',
      });
      await store.setServing({
        environment: 'staging',
        service: 'web',
        releaseId: 'r2',
        deploymentId: d.id,
        since: 't2',
      });
      expect(await store.getServing('staging')).toEqual([
        {
          environment: 'staging',
          service: 'web',
          releaseId: 'r2',
          deploymentId: d.id,
          since: 't2',
        },
      ]);
      expect(await store.getServing('production')).toEqual([]);
      await store.recordCheckResults([
        {
          deploymentId: d.id,
          service: 'web',
          at: 't',
          name: 'smoke',
          type: 'http',
          status: 'passed',
          durationMs: 12.6,
          attempts: 1,
          message: 'ok',
          details: { status: 200 },
        },
      ]);
      const results = await store.listCheckResults(d.id);
      expect(results[0]).toMatchObject({ name: 'smoke', durationMs: 13, details: { status: 200 } });
      expect(
        (await store.listDeployments({ environment: 'staging', limit: 5 })).map((x) => x.id),
      ).toEqual([d.id]);
    });

    it('records approvals in order', async () => {
      await store.addApproval({
        environment: 'production',
        releaseId: 'r1',
        actor: 'a',
        decision: 'approved',
        comment: null,
        at: 't1',
        identity: 'unverified',
        nonce: null,
        evidence: null,
      });
      const signed = {
        environment: 'production',
        releaseId: 'r1',
        actor: 'b',
        decision: 'rejected' as const,
        comment: 'no',
        at: 't2',
        identity: 'signed' as const,
        nonce: 'n-1',
        evidence: {
          kind: 'ssh' as const,
          statement: '{}',
          signature: 'sig',
          fingerprint: 'SHA256:x',
          submittedBy: null,
        },
      };
      await store.addApproval(signed);
      const list = await store.listApprovals('production', 'r1');
      expect(list.map((a) => [a.actor, a.decision, a.identity])).toEqual([
        ['a', 'approved', 'unverified'],
        ['b', 'rejected', 'signed'],
      ]);
      expect(list[1]?.evidence).toEqual(signed.evidence);
      expect(await store.listApprovals('production', 'r2')).toEqual([]);
      // A nonce records one approval: the same signature again is refused by the store itself.
      expect(await store.approvalNonceUsed('n-1')).toBe(true);
      expect(await store.approvalNonceUsed('n-2')).toBe(false);
      await expect(store.addApproval({ ...signed, at: 't3' })).rejects.toThrow();
      await store.addApproval({ ...signed, nonce: null, identity: 'unverified', evidence: null });
      await store.addApproval({ ...signed, nonce: null, identity: 'unverified', evidence: null });
    });

    it('gives a lock to one holder at a time, with a growing fence, and frees it on expiry or release', async () => {
      const now = new Date('2026-11-21T10:00:00.000Z');
      const base = {
        environment: 'staging',
        holder: 'a',
        runId: null,
        pid: 1,
        host: 'h',
        message: 'm',
        ttlMs: 30_000,
      };
      const a = await store.acquireLock({ ...base, token: 'ta', now });
      expect(a.acquired).toBe(true);
      const b = await store.acquireLock({ ...base, holder: 'b', token: 'tb', now });
      expect(b).toMatchObject({ acquired: false, holder: { holder: 'a', token: 'ta' } });
      // another environment is independent
      expect(
        (await store.acquireLock({ ...base, environment: 'production', token: 'tp', now }))
          .acquired,
      ).toBe(true);
      // renewing extends; a stale token cannot renew or release
      expect(await store.renewLock('staging', 'ta', 30_000, new Date(now.getTime() + 20_000))).toBe(
        true,
      );
      expect(await store.renewLock('staging', 'tb', 30_000, now)).toBe(false);
      expect(await store.releaseLock('staging', 'tb')).toBe(false);
      // still held at +40 s thanks to the renewal, expired at +60 s
      expect(
        (await store.acquireLock({ ...base, token: 'tb', now: new Date(now.getTime() + 40_000) }))
          .acquired,
      ).toBe(false);
      const c = await store.acquireLock({
        ...base,
        holder: 'c',
        token: 'tc',
        now: new Date(now.getTime() + 60_000),
      });
      expect(c.acquired && c.lock.fence).toBe(2);
      // the old holder can no longer renew (fencing)
      expect(await store.renewLock('staging', 'ta', 30_000, now)).toBe(false);
      // takeover of a known-dead holder by its token
      const d = await store.acquireLock({
        ...base,
        holder: 'd',
        token: 'td',
        now,
        takeoverToken: 'tc',
      });
      expect(d.acquired && d.lock.fence).toBe(3);
      expect(await store.releaseLock('staging', 'td')).toBe(true);
      expect(await store.getLock('staging')).toBeUndefined();
      const e = await store.acquireLock({ ...base, token: 'te', now });
      expect(e.acquired && e.lock.fence).toBe(4);
    });

    it('keeps a lease that reaches past year 9999 (a manual lock taken as the clock ticks) held', async () => {
      // A manual lock's ttl is computed from one reading of the clock and applied at the next; a
      // millisecond between them used to make its expiry `+010000-…`, which sorts as expired.
      const now = new Date('2026-11-21T10:00:00.000Z');
      const base = { environment: 'staging', runId: null, pid: 0, host: 'h', message: 'm', now };
      const ttlMs = Date.parse(LATEST_LOCK_EXPIRY) - now.getTime() + 5;
      const manual = await store.acquireLock({
        ...base,
        kind: 'manual',
        holder: 'ann',
        token: 'tm',
        ttlMs,
      });
      expect(manual.acquired && manual.lock.expiresAt).toBe(LATEST_LOCK_EXPIRY);
      const run = await store.acquireLock({ ...base, holder: 'bob', token: 'tr', ttlMs: 30_000 });
      expect(run).toMatchObject({ acquired: false, holder: { holder: 'ann', kind: 'manual' } });
      expect(await store.renewLock('staging', 'tm', ttlMs, now)).toBe(true);
      expect((await store.getLock('staging'))?.expiresAt).toBe(LATEST_LOCK_EXPIRY);
      expect(
        (await store.acquireLock({ ...base, holder: 'bob', token: 'tr', ttlMs: 30_000 })).acquired,
      ).toBe(false);
    });

    it('appends audit events and lists them newest first, per environment, with paging', async () => {
      for (let i = 0; i < 5; i++) {
        await store.appendAudit({
          at: `t${i}`,
          actor: 'a',
          action: i === 2 ? 'step.succeeded' : 'deployment.succeeded',
          environment: i % 2 ? 'production' : 'staging',
          releaseId: 'r1',
          runId: null,
          result: 'ok',
          detail: { i },
        });
      }
      const all = await store.listAudit({ limit: 10 });
      expect(all.map((e) => e.detail.i)).toEqual([4, 3, 2, 1, 0]);
      // Without each step's own events (what `airlock history` shows unless --steps).
      expect((await store.listAudit({ limit: 3, steps: false })).map((e) => e.detail.i)).toEqual([
        4, 3, 1,
      ]);
      expect(
        (await store.listAudit({ environment: 'production', limit: 10 })).map((e) => e.detail.i),
      ).toEqual([3, 1]);
      expect(
        (await store.listAudit({ limit: 2, beforeId: all[1]!.id })).map((e) => e.detail.i),
      ).toEqual([2, 1]);
    });

    it('refuses every write of a fenced view once its lock is taken over (fencing)', async () => {
      const now = new Date();
      const base = {
        environment: 'staging',
        runId: null,
        pid: 1,
        host: 'h',
        message: 'm',
        ttlMs: 30_000,
      };
      expect((await store.acquireLock({ ...base, holder: 'a', token: 'ta', now })).acquired).toBe(
        true,
      );
      const a = store.fenced({ environment: 'staging', token: 'ta' });
      const run = await a.createRun({
        kind: 'deploy',
        environment: 'staging',
        releaseId: 'r1',
        actor: 'a',
        pid: 1,
        host: 'h',
        startedAt: 't',
      });
      await a.appendAudit({
        at: 't',
        actor: 'a',
        action: 'lock.acquired',
        environment: 'staging',
        releaseId: null,
        runId: run.id,
        result: 'ok',
        detail: {},
      });
      // b takes the lock over (a's lease ran out while a was paused)
      const later = new Date(now.getTime() + 60_000);
      expect(
        (await store.acquireLock({ ...base, holder: 'b', token: 'tb', now: later })).acquired,
      ).toBe(true);
      await expect(a.updateRun(run.id, { status: 'succeeded' })).rejects.toMatchObject({
        code: 'LOCK_LOST',
      });
      await expect(
        a.appendAudit({
          at: 't',
          actor: 'a',
          action: 'lock.released',
          environment: 'staging',
          releaseId: null,
          runId: run.id,
          result: 'ok',
          detail: {},
        }),
      ).rejects.toMatchObject({
        code: 'LOCK_LOST',
        message: expect.stringContaining('b (pid 1 on h) took it over'),
      });
      await expect(
        a.setServing({
          environment: 'staging',
          service: 'web',
          releaseId: 'r9',
          deploymentId: 1,
          since: 't',
        }),
      ).rejects.toMatchObject({ code: 'LOCK_LOST' });
      expect((await store.getRun(run.id))?.status).toBe('running');
      expect(await store.getServing('staging')).toEqual([]);
      expect((await store.listAudit({ limit: 10 })).map((e) => e.action)).toEqual([
        'lock.acquired',
      ]);
      // b's own fenced view writes fine
      await store
        .fenced({ environment: 'staging', token: 'tb' })
        .updateRun(run.id, { status: 'failed' });
      expect((await store.getRun(run.id))?.status).toBe('failed');
    });

    it('writes a transaction all or nothing', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.appendAudit({
            at: 't',
            actor: 'a',
            action: 'ci.passed',
            environment: null,
            releaseId: null,
            runId: null,
            result: 'ok',
            detail: {},
          });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.listAudit({ limit: 10 })).toEqual([]);
      await store.transaction(async (tx) => {
        await tx.appendAudit({
          at: 't',
          actor: 'a',
          action: 'ci.passed',
          environment: null,
          releaseId: null,
          runId: null,
          result: 'ok',
          detail: {},
        });
        await tx.appendAudit({
          at: 't',
          actor: 'a',
          action: 'ci.failed',
          environment: null,
          releaseId: null,
          runId: null,
          result: 'ok',
          detail: {},
        });
      });
      expect((await store.listAudit({ limit: 10 })).map((e) => e.action)).toEqual([
        'ci.failed',
        'ci.passed',
      ]);
    });

    it('queues: a newer automatic promotion supersedes older automatic ones, never manual ones', async () => {
      const now = new Date('2026-11-21T10:00:00.000Z');
      const entry = (releaseId: string, releaseSeq: number, kind: 'automatic' | 'manual') => ({
        environment: 'production',
        releaseId,
        releaseSeq,
        kind,
        actor: 'a',
        pid: 1,
        host: 'h',
        createdAt: now.toISOString(),
      });
      const r3auto = (await store.enqueue(entry('r3', 3, 'automatic'), now)).entry;
      const r3manual = (await store.enqueue(entry('r3', 3, 'manual'), now)).entry;
      const r4 = await store.enqueue(entry('r4', 4, 'automatic'), now);
      expect(r4.superseded.map((q) => q.id)).toEqual([r3auto.id]);
      expect((await store.getQueueEntry(r3auto.id))?.status).toBe('superseded');
      expect((await store.getQueueEntry(r3manual.id))?.status).toBe('waiting');
      // an older release arriving later supersedes nothing
      expect((await store.enqueue(entry('r2', 2, 'automatic'), now)).superseded).toEqual([]);
      expect(await store.updateQueueEntry(r4.entry.id, 'started', null, now)).toBe(true);
      expect(await store.updateQueueEntry(r4.entry.id, 'gave-up', null, now)).toBe(false);
      expect((await store.listQueue('production', 'waiting')).map((q) => q.releaseId)).toEqual([
        'r3',
        'r2',
      ]);
    });

    it('keeps a manual lock until released, and finds several releases at once', async () => {
      const now = new Date();
      const lock = await store.acquireLock({
        environment: 'production',
        kind: 'manual',
        token: 'tm',
        holder: 'ann',
        runId: null,
        pid: 0,
        host: 'h',
        message: 'freeze',
        ttlMs: 10 * 365 * 86_400_000,
        now,
      });
      expect(lock).toMatchObject({ acquired: true, lock: { kind: 'manual', message: 'freeze' } });
      expect((await store.getLock('production'))?.kind).toBe('manual');
      await store.insertRelease(newRelease());
      await store.insertRelease(newRelease({ digest: digest('c'), commit: commit('2') }));
      expect((await store.findReleases(['r2', 'r1', 'r9'])).map((r) => r.id).sort()).toEqual([
        'r1',
        'r2',
      ]);
    });

    it('survives reopening (schema migrations are idempotent) and keeps its data', async () => {
      await store.insertRelease(newRelease());
      const again = await reopen();
      expect((await again.findRelease('r1'))?.commit).toBe(commit('1'));
      await again.close();
    });
  });
}

describe('SqliteStateStore', () => {
  it('refuses to edit or delete audit events (append-only, enforced by the database)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-state-'));
    const file = path.join(dir, 'state.db');
    const store = await SqliteStateStore.open({ file });
    await store.appendAudit({
      at: 't',
      actor: 'a',
      action: 'lock.acquired',
      environment: null,
      releaseId: null,
      runId: null,
      result: 'ok',
      detail: {},
    });
    await store.close();
    const raw = new DatabaseSync(file);
    expect(() => raw.exec("UPDATE audit_events SET actor = 'mallory'")).toThrow(/append-only/);
    expect(() => raw.exec('DELETE FROM audit_events')).toThrow(/append-only/);
    expect(raw.prepare('SELECT count(*) AS n FROM audit_events').get()).toEqual(
      expect.objectContaining({ n: 1 }),
    );
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('SqliteStateStore schema version', () => {
  it('records its schema version and refuses a state written by a newer Airlock', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-state-'));
    const file = path.join(dir, 'state.db');
    await (await SqliteStateStore.open({ file })).close();
    const raw = new DatabaseSync(file);
    expect(raw.prepare('PRAGMA user_version').get()).toEqual(
      expect.objectContaining({ user_version: STATE_SCHEMA_VERSION }),
    );
    raw.exec('PRAGMA user_version = 99');
    raw.close();
    await expect(SqliteStateStore.open({ file })).rejects.toMatchObject({
      code: 'STATE_SCHEMA_TOO_NEW',
    });
    rmSync(dir, { recursive: true, force: true });
  });
});
