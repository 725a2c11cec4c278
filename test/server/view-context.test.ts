/**
 * A request's view of the state (`viewContext`) answers exactly what the store answers, also
 * where it reads a window of rows once (for every environment of the pipeline in one query) and
 * answers narrower questions from it: past the window (a release deployed long ago, a run older
 * than the newest hundred) it asks the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AirlockContext } from '../../src/pipeline/context.ts';
import { viewContext } from '../../src/server/view-context.ts';
import { PostgresStateStore } from '../../src/state/postgres-state-store.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';
import type { StateStore } from '../../src/state/state-store.ts';
import { createTestDatabase, describeIfPostgres, type TestDatabase } from '../helpers/postgres.ts';

/** In one transaction (hundreds of rows). */
function seed(store: StateStore): Promise<void> {
  return store.transaction(async (tx) => seedRows(tx));
}

async function seedRows(store: StateStore): Promise<void> {
  const at = new Date().toISOString();
  // r-old once, then 120 deployments of r-new: r-old is outside the newest hundred.
  for (let i = 0; i < 121; i++) {
    const releaseId = i === 0 ? 'r-old' : 'r-new';
    const d = await store.createDeployment({
      runId: null,
      environment: 'staging',
      releaseId,
      kind: 'deploy',
      actor: 'alice',
      previousReleaseId: null,
      startedAt: at,
    });
    await store.setServing({
      environment: i % 2 ? 'staging' : 'production',
      service: `svc-${i % 3}`,
      releaseId,
      deploymentId: d.id,
      since: at,
    });
  }
  for (let i = 0; i < 105; i++) {
    const run = await store.createRun({
      kind: 'deploy',
      environment: i === 0 ? 'production' : 'staging',
      releaseId: 'r-new',
      actor: 'alice',
      pid: 1,
      host: 'h',
      startedAt: at,
    });
    await store.updateRun(run.id, { status: 'interrupted' });
  }
}

async function answersAsTheStore(store: StateStore): Promise<void> {
  await store.acquireLock({
    environment: 'production',
    token: 't',
    holder: 'alice',
    runId: null,
    pid: 1,
    host: 'h',
    message: 'm',
    ttlMs: 60_000,
    now: new Date(),
  });
  const config = { pipeline: ['staging', 'production'] };
  const view = viewContext({ store, config } as unknown as AirlockContext).store;
  const questions = [
    { environment: 'staging', limit: 1 },
    { environment: 'staging', limit: 100 },
    { environment: 'staging', releaseId: 'r-new', limit: 20 },
    { environment: 'staging', releaseId: 'r-old', limit: 20 },
    { environment: 'production', limit: 5 },
    { environment: 'staging', limit: 200 },
  ];
  for (const q of questions)
    expect(await view.listDeployments(q), JSON.stringify(q)).toEqual(
      await store.listDeployments(q),
    );
  for (const q of [
    { status: 'interrupted' as const, environment: 'staging', limit: 20 },
    { status: 'interrupted' as const, environment: 'production', limit: 20 },
  ])
    expect(await view.listRuns(q), JSON.stringify(q)).toEqual(await store.listRuns(q));
  for (const environment of ['staging', 'production', 'nowhere']) {
    expect(await view.getServing(environment)).toEqual(await store.getServing(environment));
    expect(await view.getLock(environment)).toEqual(await store.getLock(environment));
  }
  expect((await view.getLock('production'))?.holder).toBe('alice');
  // Outside the pipeline: asked of the store.
  expect(await view.listDeployments({ environment: 'nowhere', limit: 5 })).toEqual([]);
  expect(await view.listIncidents({ status: 'open', environment: 'staging', limit: 20 })).toEqual(
    [],
  );
  expect(await view.listSecretFingerprints()).toEqual(await store.listSecretFingerprints());
}

describe('a view over SQLite (its reads one by one)', () => {
  let dir: string;
  let store: SqliteStateStore;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-view-'));
    store = await SqliteStateStore.open({ file: path.join(dir, 'state.db') });
    await seed(store);
  });
  afterAll(async () => {
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  test('answers as the store does, inside and past the rows it reads once', () =>
    answersAsTheStore(store));
});

describeIfPostgres('a view over Postgres (the pipeline read in one statement)', () => {
  let db: TestDatabase;
  let store: PostgresStateStore;
  beforeAll(async () => {
    db = await createTestDatabase('airlock_view');
    store = await PostgresStateStore.open({ url: db.url });
    await seed(store);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });
  test('answers as the store does, inside and past the rows it reads once', () =>
    answersAsTheStore(store));
});
