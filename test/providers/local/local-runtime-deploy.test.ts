// LocalRuntime in-process: deploy, zero-downtime switch with drain, warm rollback, WebSocket-style
// upgrades through the proxy, and a taken proxy port. Real app processes, real HTTP on 127.0.0.1.
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../../src/errors.ts';
import { LocalRuntime } from '../../../src/providers/local/local-runtime.ts';
import type { RuntimeEvent } from '../../../src/providers/local/runtime-events.ts';
import { isProcessAlive } from '../../../src/providers/local/runtime-files.ts';
import {
  type DeploymentInput,
  echoDeployment,
  freePort,
  get,
  killAll,
  makeHome,
  servedRelease,
  waitFor,
} from './local-test-helpers.ts';

let home: string;
let runtime: LocalRuntime;
let events: RuntimeEvent[];
let port: number;

const deployment = (release: string, extra: Partial<DeploymentInput> = {}) =>
  echoDeployment({ release, port, artifactDir: home, ...extra });
const startedPids = () =>
  events.filter((event) => event.type === 'process.started').map((event) => event.pid as number);

beforeEach(async () => {
  home = await makeHome();
  events = [];
  port = await freePort();
  runtime = new LocalRuntime({ home, onEvent: (event) => events.push(event) });
});

afterEach(async () => {
  await runtime.shutdown();
  const leaked = startedPids().filter(isProcessAlive);
  killAll(leaked);
  await fs.rm(home, { recursive: true, force: true });
  expect(leaked, 'app processes left running after shutdown()').toEqual([]);
});

describe('LocalRuntime deploy', () => {
  it('serves r1 on the proxy port, describes it and records it in state.json (0600)', async () => {
    const outcome = await runtime.deploy(deployment('r1'));
    expect(outcome).toMatchObject({
      url: `http://127.0.0.1:${port}`,
      reusedWarm: false,
      previousRelease: null,
    });
    expect(outcome.bootMs).toBeGreaterThan(0);

    expect(await servedRelease(port)).toBe('r1');
    const state = await runtime.describe('staging', 'web', port);
    expect(state).toMatchObject({ release: 'r1', healthy: true, restarts: 0, warm: [] });
    expect(state.pid).toEqual(expect.any(Number));
    expect(isProcessAlive(state.pid as number)).toBe(true);

    const stateFile = path.join(home, 'local', 'state.json');
    expect((await fs.stat(stateFile)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await fs.readFile(stateFile, 'utf8'));
    expect(saved.services).toMatchObject([
      { environment: 'staging', service: 'web', pid: state.pid, deployment: { port } },
    ]);
    expect(events.map((event) => event.type)).toEqual([
      'process.started',
      'process.healthy',
      'switched',
    ]);
    expect(await runtime.describe('staging', 'api', 1234)).toMatchObject({
      release: null,
      pid: null,
      url: 'http://127.0.0.1:1234',
    });
  });

  it('switches r1 → r2 → r1 under load without a failed request, draining a slow request', async () => {
    await runtime.deploy(deployment('r1'));
    const r1Pid = (await runtime.describe('staging', 'web', port)).pid as number;

    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const loop = async () => {
      while (!stop) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/release`);
          const body = (await response.json()) as { release: string };
          if (response.status === 200) {
            ok += 1;
            seen.add(body.release);
          } else failures.push(`HTTP ${response.status} ${JSON.stringify(body)}`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    try {
      await waitFor('traffic through the proxy', () => ok > 20);
      const slow = get(`http://127.0.0.1:${port}/slow?ms=1500`);
      await sleep(100); // the slow request is now in flight to r1

      const started = performance.now();
      const toR2 = await runtime.deploy(deployment('r2'));
      const deployMs = performance.now() - started;
      expect(toR2.previousRelease).toBe('r1');

      const slowResponse = await slow;
      expect(slowResponse.status).toBe(200);
      expect(slowResponse.json).toMatchObject({ release: 'r1' });
      // The deploy waited for the slow request before stopping r1.
      expect(deployMs).toBeGreaterThan(1_000);
      const drained = events.find((event) => event.type === 'drained' && event.release === 'r1');
      expect(drained?.details).toMatchObject({ timedOut: false });
      expect(isProcessAlive(r1Pid)).toBe(false);

      await waitFor('r2 seen by the load', () => seen.has('r2'));
      const r2Pid = (await runtime.describe('staging', 'web', port)).pid as number;
      const okBefore = ok;
      const back = await runtime.deploy(deployment('r1'));
      expect(back).toMatchObject({ previousRelease: 'r2', reusedWarm: false });
      await waitFor('more traffic after the switch back', () => ok > okBefore + 20);
      expect(isProcessAlive(r2Pid)).toBe(false);
      expect(await servedRelease(port)).toBe('r1');
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual(['r1', 'r2']);
    expect(ok).toBeGreaterThan(50);
  });

  it('rolls back to a warm process within 100 ms, without a boot', async () => {
    await runtime.deploy(deployment('r1', { keepWarmMs: 60_000 }));
    const r1Pid = (await runtime.describe('staging', 'web', port)).pid as number;
    await runtime.deploy(deployment('r2', { keepWarmMs: 60_000 }));
    expect(await runtime.describe('staging', 'web', port)).toMatchObject({
      release: 'r2',
      warm: ['r1'],
    });
    expect(isProcessAlive(r1Pid)).toBe(true);

    const started = performance.now();
    const rollingBack = runtime.deploy(deployment('r1', { keepWarmMs: 60_000 }));
    await waitFor('r1 served again', async () => (await servedRelease(port)) === 'r1', 2_000, 1);
    const servedAfterMs = performance.now() - started;
    const outcome = await rollingBack;

    expect(outcome).toMatchObject({ reusedWarm: true, bootMs: 0, previousRelease: 'r2' });
    expect(servedAfterMs).toBeLessThan(100);
    const state = await runtime.describe('staging', 'web', port);
    expect(state).toMatchObject({ release: 'r1', pid: r1Pid, warm: ['r2'] });
    expect(startedPids()).toHaveLength(2); // no third process was started
  });

  it('stops a warm process once its keep-warm window ends', async () => {
    await runtime.deploy(deployment('r1', { keepWarmMs: 300 }));
    const r1Pid = (await runtime.describe('staging', 'web', port)).pid as number;
    await runtime.deploy(deployment('r2', { keepWarmMs: 300 }));
    expect((await runtime.describe('staging', 'web', port)).warm).toEqual(['r1']);
    const stopped = await waitFor(
      'r1 stopped',
      () => events.find((event) => event.type === 'process.stopped' && event.pid === r1Pid),
      5_000,
    );
    expect(stopped.details).toMatchObject({ reason: 'warm window ended' });
    expect(isProcessAlive(r1Pid)).toBe(false);
    expect((await runtime.describe('staging', 'web', port)).warm).toEqual([]);
  });

  it('keeps at most keepWarmReleases warm: the oldest warm process beyond the cap is stopped', async () => {
    await runtime.deploy(deployment('r1', { keepWarmMs: 60_000 }));
    const r1Pid = (await runtime.describe('staging', 'web', port)).pid as number;
    await runtime.deploy(deployment('r2', { keepWarmMs: 60_000 }));
    await runtime.deploy(deployment('r3', { keepWarmMs: 60_000 }));
    expect((await runtime.describe('staging', 'web', port)).warm).toEqual(['r2']);
    const stopped = events.find((event) => event.type === 'process.stopped' && event.pid === r1Pid);
    expect(stopped?.details).toMatchObject({ reason: expect.stringContaining('keepWarmReleases') });
    expect(isProcessAlive(r1Pid)).toBe(false);
    // A cap of 2 keeps both earlier releases.
    await runtime.deploy({ ...deployment('r4', { keepWarmMs: 60_000 }), keepWarmReleases: 2 });
    expect((await runtime.describe('staging', 'web', port)).warm).toEqual(['r2', 'r3']);
  });

  it('stops one environment and leaves the others serving', async () => {
    const productionPort = await freePort();
    await runtime.deploy(deployment('r1', { keepWarmMs: 60_000 }));
    await runtime.deploy(deployment('r2', { keepWarmMs: 60_000 }));
    await runtime.deploy(deployment('r1', { environment: 'production', port: productionPort }));
    const stagingPids = startedPids().slice(0, 2);

    await runtime.stopEnvironment('staging');
    expect(stagingPids.filter(isProcessAlive)).toEqual([]);
    await expect(get(`http://127.0.0.1:${port}/release`)).rejects.toThrow(/ECONNREFUSED/);
    expect(await runtime.describe('staging', 'web', port)).toMatchObject({ release: null });
    expect(await servedRelease(productionPort)).toBe('r1');
    const saved = JSON.parse(await fs.readFile(path.join(home, 'local', 'state.json'), 'utf8'));
    expect(saved.services.map((record: { environment: string }) => record.environment)).toEqual([
      'production',
    ]);
  });

  it('proxies an HTTP upgrade and counts the upgraded socket as in flight', async () => {
    // r1 ignores the open socket on SIGTERM, so keep its grace period short.
    await runtime.deploy(deployment('r1', { stopTimeoutMs: 300 }));
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      'GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await waitFor('101 Switching Protocols', () => received.includes('\r\n\r\n'), 5_000);
    expect(received.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    received = '';
    socket.write('ping-42 through the proxy');
    await waitFor('echo', () => received === 'ping-42 through the proxy', 5_000);

    // While the socket is open, r1 has one request in flight: the switch to r2 drains until timeout.
    await runtime.deploy(deployment('r2', { drainTimeoutMs: 300 }));
    const drained = events.find((event) => event.type === 'drained' && event.release === 'r1');
    expect(drained?.details).toMatchObject({ timedOut: true, inflight: 1 });
    await closed; // r1 was stopped, which closes the upgraded connection
  });

  it('serializes concurrent deploys of the same service', async () => {
    await runtime.deploy(deployment('r1'));
    const [toR2, toR3] = await Promise.all([
      runtime.deploy(deployment('r2')),
      runtime.deploy(deployment('r3')),
    ]);
    expect(toR2.previousRelease).toBe('r1');
    expect(toR3.previousRelease).toBe('r2');
    expect(await servedRelease(port)).toBe('r3');
    const switched = events.filter((event) => event.type === 'switched').map((e) => e.release);
    expect(switched).toEqual(['r1', 'r2', 'r3']);
    // r3's candidate only started once r2's deploy had finished (r1 drained and stopped).
    const order = events.map((event) => `${event.type}:${event.release}`);
    expect(order.indexOf('process.started:r3')).toBeGreaterThan(
      order.indexOf('process.stopped:r1'),
    );
  });

  it('refuses a proxy port another process listens on with PORT_IN_USE', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const error = await runtime.deploy(deployment('r1')).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({
        code: 'PORT_IN_USE',
        details: { port, environment: 'staging', service: 'web' },
      });
      const { message, hint } = error as ProviderError;
      expect(message).toContain(String(port));
      expect(message).toContain('staging');
      expect(message).toContain('web');
      expect(hint).toContain('airlock.yaml');
      expect(startedPids()).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
