/** The engine on a real SQLite store: every transition is persisted as it happens. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InternalError, ProviderError, UserError } from '../../src/errors.ts';
import { runSteps, type Step } from '../../src/pipeline/engine.ts';
import type { PipelineEvent } from '../../src/pipeline/events.ts';
import { SqliteStateStore } from '../../src/state/sqlite-state-store.ts';

let dir: string;
let store: SqliteStateStore;
let runId: number;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-engine-'));
  store = await SqliteStateStore.open({ file: path.join(dir, 'state.db') });
  runId = (
    await store.createRun({
      kind: 'deploy',
      environment: 'staging',
      releaseId: 'r1',
      actor: 'a',
      pid: 1,
      host: 'h',
      startedAt: 't',
    })
  ).id;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function step(name: string, run: Step['run'], when: Step['when'] = 'on-success'): Step {
  return { name, title: name, when, run };
}

async function go(steps: Step[], events: PipelineEvent[] = []) {
  return runSteps({
    store,
    runId,
    title: 't',
    steps,
    sink: { emit: (e) => events.push(e) },
    signal: new AbortController().signal,
  });
}

describe('runSteps', () => {
  it('writes each step as running before it runs and with its outcome after', async () => {
    const seen: string[] = [];
    const result = await go([
      step('a', async () => {
        const steps = await store.listSteps(runId);
        seen.push(steps.map((s) => `${s.name}:${s.status}`).join(','));
        return { status: 'succeeded', message: 'done a', output: { n: 1 } };
      }),
      step('b', async () => {
        const steps = await store.listSteps(runId);
        seen.push(steps.map((s) => `${s.name}:${s.status}`).join(','));
        return { status: 'succeeded' };
      }),
    ]);
    expect(seen).toEqual(['a:running,b:pending', 'a:succeeded,b:running']);
    expect(result.status).toBe('succeeded');
    const [a] = await store.listSteps(runId);
    expect(a).toMatchObject({ status: 'succeeded', message: 'done a', output: { n: 1 } });
    expect(a?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('after a failure skips the remaining steps and runs the on-failure ones', async () => {
    const ran: string[] = [];
    const events: PipelineEvent[] = [];
    const result = await go(
      [
        step('deploy', async () => {
          ran.push('deploy');
          return { status: 'succeeded' };
        }),
        step('check', async () => {
          ran.push('check');
          return { status: 'failed', message: 'e2e failed' };
        }),
        step('record', async () => {
          ran.push('record');
          return { status: 'succeeded' };
        }),
        step(
          'rollback',
          async (ctx) => {
            ran.push(`rollback(${ctx.results.get('check')?.message})`);
            return { status: 'succeeded' };
          },
          'on-failure',
        ),
      ],
      events,
    );
    expect(ran).toEqual(['deploy', 'check', 'rollback(e2e failed)']);
    expect(result).toMatchObject({
      status: 'failed',
      failedStep: { name: 'check', status: 'failed', message: 'e2e failed' },
    });
    const steps = await store.listSteps(runId);
    expect(steps.map((s) => s.status)).toEqual(['succeeded', 'failed', 'skipped', 'succeeded']);
    expect(steps[2]?.message).toBe('skipped: check did not succeed');
    expect(events.at(-1)).toMatchObject({ type: 'run.finished', status: 'failed' });
  });

  it('skips on-failure steps when nothing failed', async () => {
    const result = await go([
      step('a', async () => ({ status: 'succeeded' })),
      step('undo', async () => ({ status: 'succeeded' }), 'on-failure'),
    ]);
    expect(result.status).toBe('succeeded');
    expect((await store.listSteps(runId)).map((s) => s.status)).toEqual(['succeeded', 'skipped']);
  });

  it('keeps business failures apart from technical faults', async () => {
    const user = await go([
      step('migrate', async () => {
        throw new UserError('MIGRATION_FAILED', 'syntax error in 0003');
      }),
    ]);
    expect(user).toMatchObject({
      status: 'failed',
      failedStep: { status: 'failed', code: 'MIGRATION_FAILED' },
    });
    const boot = await go([
      step('deploy', async () => {
        throw new ProviderError('HEALTH_TIMEOUT', 'not healthy');
      }),
    ]);
    expect(boot.status).toBe('failed');
    const platform = await go([
      step('deploy', async () => {
        throw new ProviderError('PROVIDER_UNAVAILABLE', 'runtime down');
      }),
    ]);
    expect(platform.status).toBe('errored');
    const bug = await go([
      step('x', async () => {
        throw new InternalError('INTERNAL', 'boom');
      }),
    ]);
    expect(bug.status).toBe('errored');
    const plain = await go([
      step('x', async () => {
        throw new TypeError('undefined is not a function');
      }),
    ]);
    expect(plain).toMatchObject({ status: 'errored', failedStep: { code: 'INTERNAL' } });
  });

  it('calls a waiting step again after retryAfterMs', async () => {
    let calls = 0;
    const result = await go([
      step('wait', async () =>
        ++calls < 3 ? { status: 'running', retryAfterMs: 5 } : { status: 'succeeded' },
      ),
    ]);
    expect(calls).toBe(3);
    expect(result.status).toBe('succeeded');
  });
});
