// The local runtime's checks lease, in process: a switch that nobody confirms is switched back
// when its lease runs out (and the audit log records it); renewals keep it, a confirmation ends it.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditRuntimeEvent } from '../../../src/cli/runtime-audit.ts';
import { LocalRuntime } from '../../../src/providers/local/local-runtime.ts';
import type { RuntimeEvent } from '../../../src/providers/local/runtime-events.ts';
import { isProcessAlive } from '../../../src/providers/local/runtime-files.ts';
import { openStateStore } from '../../../src/state/open-state-store.ts';
import type { StateStore } from '../../../src/state/state-store.ts';
import {
  type DeploymentInput,
  echoDeployment,
  freePort,
  killAll,
  makeHome,
  servedRelease,
  waitFor,
} from './local-test-helpers.ts';

const LEASE_MS = 400;

let home: string;
let runtime: LocalRuntime;
let events: RuntimeEvent[];
let store: StateStore;
let port: number;

const deployment = (release: string, extra: Partial<DeploymentInput> = {}) => ({
  ...echoDeployment({ release, port, artifactDir: home, keepWarmMs: 60_000, ...extra }),
  checksLeaseMs: LEASE_MS,
});

beforeEach(async () => {
  home = await makeHome();
  events = [];
  port = await freePort();
  const file = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-lease-')), 'state.db');
  store = await openStateStore({ kind: 'sqlite', file, display: file });
  runtime = new LocalRuntime({
    home,
    onEvent: (event) => {
      events.push(event);
      void auditRuntimeEvent(store, event);
    },
  });
});

afterEach(async () => {
  await runtime.shutdown();
  const leaked = events
    .filter((event) => event.type === 'process.started')
    .map((event) => event.pid as number)
    .filter(isProcessAlive);
  killAll(leaked);
  await store.close();
  await fs.rm(home, { recursive: true, force: true });
  expect(leaked, 'app processes left running after shutdown()').toEqual([]);
});

describe('checks lease', () => {
  it('switches back to the previous release when the lease runs out, and audits it', async () => {
    const first = await runtime.deploy(deployment('r1'));
    expect(first.checksLeaseMs).toBeUndefined(); // nothing served before: nothing to go back to
    const outcome = await runtime.deploy(deployment('r2'));
    expect(outcome.checksLeaseMs).toBe(LEASE_MS);
    expect(await servedRelease(port)).toBe('r2');
    expect(runtime.checksLease('staging', 'web', 'r2', 'renew')).toMatchObject({
      pending: true,
      serving: 'r2',
    });

    const expired = await waitFor('lease.expired', () =>
      events.find((e) => e.type === 'lease.expired'),
    );
    expect(expired).toMatchObject({
      release: 'r2',
      details: { previousRelease: 'r1', reverted: true, leaseMs: LEASE_MS },
    });
    expect(expired.details?.servedUncheckedMs).toBeGreaterThanOrEqual(LEASE_MS);
    expect(await servedRelease(port)).toBe('r1');
    // The CLI that comes back too late learns that r2 no longer serves.
    expect(runtime.checksLease('staging', 'web', 'r2', 'confirm')).toEqual({
      pending: false,
      serving: 'r1',
      expiresAt: null,
    });
    const audit = await waitFor('runtime.reverted in the audit log', async () =>
      (await store.listAudit({ environment: 'staging', limit: 10 })).find(
        (e) => e.action === 'runtime.reverted',
      ),
    );
    expect(audit).toMatchObject({
      actor: 'airlock-runtime',
      releaseId: 'r2',
      result: 'ok',
      detail: { service: 'web', previousRelease: 'r1', reverted: true },
    });
  });

  it('keeps the release while renewed, and for good once confirmed', async () => {
    await runtime.deploy(deployment('r1'));
    await runtime.deploy(deployment('r2'));
    for (let i = 0; i < 4; i++) {
      await sleep(LEASE_MS / 2);
      expect(runtime.checksLease('staging', 'web', 'r2', 'renew').pending).toBe(true);
    }
    expect(runtime.checksLease('staging', 'web', 'r2', 'confirm')).toMatchObject({
      pending: false,
      serving: 'r2',
    });
    await sleep(LEASE_MS * 2);
    expect(await servedRelease(port)).toBe('r2');
    expect(events.some((e) => e.type === 'lease.expired')).toBe(false);
  });
});
