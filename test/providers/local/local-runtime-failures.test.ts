// LocalRuntime in-process, when things go wrong: a candidate that never turns healthy, one that
// exits during boot, an aborted deploy, and a serving process that crashes. In every case the
// previous release must keep serving and no candidate may be left running.
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError } from '../../../src/errors.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { LocalRuntime } from '../../../src/providers/local/local-runtime.ts';
import type { RuntimeEvent } from '../../../src/providers/local/runtime-events.ts';
import {
  emptyServiceState,
  isProcessAlive,
  urlFor,
} from '../../../src/providers/local/runtime-files.ts';
import { digestTree } from '../../../src/releases/tree-digest.ts';
import {
  type DeploymentInput,
  echoDeployment,
  freePort,
  get,
  killAll,
  localTarget,
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
const eventOf = (type: RuntimeEvent['type'], release: string) =>
  events.find((event) => event.type === type && event.release === release);

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

describe('LocalRuntime failures', () => {
  it('fails with HEALTH_TIMEOUT when the candidate never answers 200; r1 keeps serving', async () => {
    await runtime.deploy(deployment('r1'));
    const r1Pid = (await runtime.describe('staging', 'web', port)).pid;

    const error = await runtime
      .deploy(deployment('r2', { env: { FAIL_HEALTH: '1' }, healthTimeoutMs: 8_000 }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ProviderError);
    const { code, details, hint, message } = error as ProviderError;
    expect(code).toBe('HEALTH_TIMEOUT');
    expect(message).toContain('HTTP 500');
    expect(hint).toContain('web-r2.log');
    expect(hint).toContain('r1 keeps serving');
    expect(details.logTail).toContain('echo-app r2 listening');
    expect(isProcessAlive(details.pid as number)).toBe(false);

    expect(await servedRelease(port)).toBe('r1');
    expect(await runtime.describe('staging', 'web', port)).toMatchObject({
      release: 'r1',
      pid: r1Pid,
      healthy: true,
    });
    expect(eventOf('deploy.failed', 'r2')?.details).toMatchObject({ code: 'HEALTH_TIMEOUT' });
  });

  it("HEALTH_TIMEOUT's log tail shows the first line of the error the app logs on every probe", async () => {
    // Every probe logs a 24-line `pg` error: the last 20 lines of the log are its properties,
    // `routine: 'parserOpenTable'` and the like; the line that explains is the first one.
    const error = await runtime
      .deploy(deployment('r1', { env: { HEALTH_ERROR: '1' }, healthTimeoutMs: 1_500 }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'HEALTH_TIMEOUT' });
    const { message, details } = error as ProviderError;
    expect(message).toContain('HTTP 500');
    const log = await fs.readFile(details.logFile as string, 'utf8');
    const dumps = log.split('error: relation "healthz" does not exist').length - 1;
    expect(dumps).toBeGreaterThan(3);

    const tail = (details.logTail as string).split('\n');
    expect(tail.length).toBeLessThanOrEqual(28);
    expect(tail[0]).toBe('error: relation "healthz" does not exist');
    expect(tail).toContain("  routine: 'parserOpenTable'");
    // One copy of the error, and how often it was written.
    expect(tail.filter((l) => l.includes("code: '42P01'"))).toHaveLength(1);
    expect(tail.join('\n')).toMatch(/… \(the \d+ lines above, written \d+ times in a row\)/);
    // What the app printed on its way out stays last.
    expect(tail.at(-1)).toBe('echo-app r1: SIGTERM, closing');
  });

  it('HEALTH_TIMEOUT names the port the app listens on when it is not PORT', async () => {
    const elsewhere = await freePort();
    const error = await runtime
      .deploy(deployment('r1', { env: { LISTEN_PORT: String(elsewhere) }, healthTimeoutMs: 4_000 }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'HEALTH_TIMEOUT' });
    const { message, hint, details } = error as ProviderError;
    expect(message).toMatch(
      new RegExp(
        `It listens on port ${elsewhere}, not on \\d+: make it listen on the PORT environment variable Airlock sets\\.$`,
      ),
    );
    expect(hint).toContain('Start the app on $PORT');
    expect(details.listeningOn).toEqual([elsewhere]);
  });

  it('fails fast with APP_EXITED when the candidate exits during boot, with its output', async () => {
    await runtime.deploy(deployment('r1'));

    const started = performance.now();
    const error = await runtime
      .deploy(deployment('r2', { env: { BOOT_EXIT: '3' }, healthTimeoutMs: 30_000 }))
      .catch((caught: unknown) => caught);
    const elapsedMs = performance.now() - started;

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'APP_EXITED', details: { exitCode: 3, release: 'r2' } });
    expect(elapsedMs).toBeLessThan(5_000); // not the 30 s health timeout
    const { details } = error as ProviderError;
    expect(details.logTail).toContain('refusing to boot (BOOT_EXIT=3)');
    expect(await servedRelease(port)).toBe('r1');
  });

  it('answers 502 with a JSON error while nothing serves', async () => {
    const error = await runtime
      .deploy(deployment('r1', { env: { BOOT_EXIT: '1' } }))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'APP_EXITED' });
    expect((error as ProviderError).hint).toContain('nothing was serving before');

    const response = await get(`http://127.0.0.1:${port}/release`);
    expect(response.status).toBe(502);
    expect(response.json).toMatchObject({ error: expect.stringContaining('Nothing serves web') });
    // Not "deploy": a later environment gets its releases by promotion.
    expect((response.json as { error: string }).error).toContain(
      '`airlock status` shows what should serve here',
    );
  });

  it('aborts a slow boot when the signal fires; the candidate is stopped and r1 keeps serving', async () => {
    await runtime.deploy(deployment('r1'));
    const controller = new AbortController();
    const deploying = runtime
      .deploy(deployment('r2', { env: { BOOT_DELAY_MS: '20000' } }), { signal: controller.signal })
      .catch((caught: unknown) => caught);
    const started = await waitFor('the r2 candidate', () => eventOf('process.started', 'r2'));
    await sleep(150);
    controller.abort();

    const error = await deploying;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'DEPLOY_ABORTED' });
    expect((error as ProviderError).hint).toContain('r1 keeps serving');
    expect(isProcessAlive(started.pid as number)).toBe(false);
    expect(await servedRelease(port)).toBe('r1');
    expect(eventOf('deploy.aborted', 'r2')).toBeDefined();
    expect(eventOf('switched', 'r2')).toBeUndefined();
  });

  it('restarts a crashed serving process (503 + Retry-After meanwhile) and reports the crash', async () => {
    await runtime.deploy(deployment('r1'));
    const firstPid = (await runtime.describe('staging', 'web', port)).pid as number;

    expect((await get(`http://127.0.0.1:${port}/crash`)).status).toBe(200);
    await waitFor('process.crashed', () => eventOf('process.crashed', 'r1'), 5_000, 5);
    const during = await get(`http://127.0.0.1:${port}/release`);
    expect(during.status).toBe(503);
    expect(Number(during.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    const restarted = await waitFor('process.restarted', () => eventOf('process.restarted', 'r1'));
    expect(restarted.pid).not.toBe(firstPid);
    expect(await servedRelease(port)).toBe('r1');
    const state = await runtime.describe('staging', 'web', port);
    expect(state).toMatchObject({
      release: 'r1',
      pid: restarted.pid,
      healthy: true,
      lastCrash: { release: 'r1', exitCode: 1, signal: null },
    });
    expect(state.restarts).toBeGreaterThanOrEqual(1);
    expect(isProcessAlive(firstPid)).toBe(false);
    expect(eventOf('process.crashed', 'r1')?.details).toMatchObject({
      exitCode: 1,
      restartInMs: 200,
    });
  });

  // Copies as the pipeline makes them: under the home's envs/, read-only files.
  const copyOf = async (release: string) => {
    const artifactDir = path.join(home, 'envs', 'staging', 'releases', release, 'web');
    await fs.mkdir(artifactDir, { recursive: true });
    await fs.writeFile(path.join(artifactDir, 'server.js'), `// ${release}\n`, { mode: 0o444 });
    const d = deployment(release, { artifactDir });
    d.release.digest = (await digestTree(artifactDir)).digest;
    return d;
  };
  const change = async (artifactDir: string) => {
    await fs.chmod(path.join(artifactDir, 'server.js'), 0o644);
    await fs.appendFile(path.join(artifactDir, 'server.js'), '// changed\n');
  };

  it('does not restart a crashed process whose copy changed: the previous release serves, and says why', async () => {
    await runtime.deploy(await copyOf('r0'));
    const r1 = await copyOf('r1');
    await runtime.deploy(r1);
    expect(await servedRelease(port)).toBe('r1');

    await change(r1.artifactDir);
    expect((await get(`http://127.0.0.1:${port}/crash`)).status).toBe(200);
    const refused = await waitFor('the refused restart', () => eventOf('restart.refused', 'r1'));
    expect(refused.details).toMatchObject({ previousRelease: 'r0', fellBack: true });
    expect(refused.details?.reason).toContain('changed since it was deployed');
    expect(eventOf('process.restarted', 'r1')).toBeUndefined();
    expect(await servedRelease(port)).toBe('r0');
    expect(await runtime.describe('staging', 'web', port)).toMatchObject({
      release: 'r0',
      healthy: true,
    });
  });

  it('after a refused restart with nothing to fall back to, its port is still its own: a redeploy passes the preflight and serves', async () => {
    const r1 = await copyOf('r1');
    await runtime.deploy(r1);
    await change(r1.artifactDir);
    expect((await get(`http://127.0.0.1:${port}/crash`)).status).toBe(200);
    await waitFor('the refused restart', () => eventOf('restart.refused', 'r1'));
    const state = await runtime.describe('staging', 'web', port);
    expect(state).toMatchObject({ release: null, listening: true, url: urlFor(port) });

    // The runtime's proxy holds the port: the preflight knows it from the state, while the same
    // port with nothing of ours on it is another process's.
    const provider = new LocalProvider({ home });
    const target = localTarget('staging', 'web', port, home);
    await expect(provider.preflight(target, state)).resolves.toBeUndefined();
    await expect(
      provider.preflight(target, emptyServiceState('staging', 'web', port)),
    ).rejects.toMatchObject({ code: 'PORT_IN_USE' });

    await runtime.deploy(await copyOf('r2'));
    expect(await servedRelease(port)).toBe('r2');
  });

  it('verifies a copy the pipeline left to a warm process before starting it (copyUnverified)', async () => {
    await runtime.deploy(await copyOf('r0'));
    const r1 = await copyOf('r1');
    await change(r1.artifactDir);
    // The pipeline counted on a warm r1 that is not there (gone, or unhealthy): the runtime
    // starts r1 itself, so it checks the copy first.
    const refused = await runtime
      .deploy({ ...r1, copyUnverified: true })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as ProviderError).code).toBe('DIGEST_MISMATCH');
    expect((refused as ProviderError).message).toContain('changed since it was deployed');
    expect(eventOf('process.started', 'r1')).toBeUndefined();
    expect(await servedRelease(port)).toBe('r0');
    // A copy the pipeline verified itself (no flag) is not read again here.
    await runtime.deploy(r1);
    expect(await servedRelease(port)).toBe('r1');
  });
});
