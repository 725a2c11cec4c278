// Shared helpers of the local-provider tests: temp homes, free ports, deployments of the echo
// fixture app, small HTTP helpers and polling.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  ProcessDeployment,
  ServiceDeployment,
  ServiceTarget,
} from '../../../src/providers/provider.ts';

export const ECHO_APP = fileURLToPath(new URL('../../fixtures/apps/echo-app.mjs', import.meta.url));

/** A fresh temp directory to use as the `.airlock` home. */
export function makeHome(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'airlock-local-'));
}

/** A random free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface DeploymentInput {
  release: string;
  port: number;
  artifactDir: string;
  environment?: string;
  service?: string;
  env?: Record<string, string>;
  healthTimeoutMs?: number;
  drainTimeoutMs?: number;
  keepWarmMs?: number;
  stopTimeoutMs?: number;
}

/** `p` as the pipeline hands it to a provider (kind deploy, local settings). */
export function asServiceDeployment(p: ProcessDeployment): ServiceDeployment {
  return { ...localTarget(p.environment, p.service, p.port, p.artifactDir), ...p, kind: 'deploy' };
}

/** A local provider's view of one service of one environment. */
export function localTarget(
  environment: string,
  service: string,
  port: number,
  dir = os.tmpdir(),
): ServiceTarget {
  return {
    environment,
    service,
    port,
    projectDir: dir,
    serviceDir: dir,
    settings: { provider: 'local' },
  };
}

/** A deployment of the echo fixture app as release `release`. */
export function echoDeployment(input: DeploymentInput): ProcessDeployment {
  const environment = input.environment ?? 'staging';
  return {
    environment,
    service: input.service ?? 'web',
    release: {
      id: input.release,
      digest: createHash('sha256').update(input.release).digest('hex'),
      commit: 'c'.repeat(40),
    },
    artifactDir: input.artifactDir,
    run: `"${process.execPath}" "${ECHO_APP}"`,
    env: { AIRLOCK_ENV: environment, AIRLOCK_RELEASE: input.release, ...input.env },
    port: input.port,
    health: { path: '/health', timeoutMs: input.healthTimeoutMs ?? 10_000, intervalMs: 25 },
    drainTimeoutMs: input.drainTimeoutMs ?? 5_000,
    keepWarmMs: input.keepWarmMs ?? 0,
    stopTimeoutMs: input.stopTimeoutMs ?? 3_000,
  };
}

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: unknown;
}

/** GET over a fresh connection (no keep-alive). Rejects on connection errors. */
export function get(url: string, timeoutMs = 5_000): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => {
        let json: unknown = null;
        try {
          json = JSON.parse(body);
        } catch {
          // not JSON
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json });
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
  });
}

/** The release the proxy on `port` serves right now (via GET /release), or null. */
export async function servedRelease(port: number): Promise<string | null> {
  try {
    const response = await get(`http://127.0.0.1:${port}/release`, 2_000);
    return response.status === 200 ? (response.json as { release: string }).release : null;
  } catch {
    return null;
  }
}

/** Polls `check` every `intervalMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Pids of live runtime daemons started for `home` (found in /proc/<pid>/cmdline); with
 * `watchdogs`, their watchdogs (`--watchdog`) too.
 */
export async function daemonsFor(home: string, watchdogs = false): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    const homeIndex = args.indexOf('--home');
    if (
      args.some((arg) => /runtime-(daemon-main\.ts|entry\.(ts|mjs))$/.test(arg)) &&
      homeIndex >= 0 &&
      path.resolve(args[homeIndex + 1] ?? '') === path.resolve(home) &&
      (watchdogs || !args.includes('--watchdog'))
    ) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

/** Sends SIGKILL to every pid still alive (test cleanup of last resort). */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
