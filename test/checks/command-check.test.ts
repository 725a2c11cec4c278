import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandCheckSpec } from '../../src/checks/check.ts';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { context, startServer, type TestServer } from './test-server.ts';

let root: string;
const servers: TestServer[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-command-check-'));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

function spec(run: string, overrides: Partial<CommandCheckSpec> = {}): CommandCheckSpec {
  return { name: 'e2e', type: 'command', run, timeoutMs: 10_000, ...overrides };
}

/** True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** Waits up to 2 s for `pid` to be gone (signals are delivered asynchronously). */
async function isAlive(pid: number): Promise<boolean> {
  const until = Date.now() + 2000;
  while (isRunning(pid)) {
    if (Date.now() > until) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('runCommandCheck', () => {
  it("sees the least environment: PATH and HOME, never another environment's credentials or the CLI's tokens", async () => {
    const planted = {
      PRODUCTION_DATABASE_URL: 'postgres://app:prod-pw-7f3a@db.internal/prod',
      FLY_API_TOKEN_PRODUCTION: 'fo1_production_token_91c2',
      GITHUB_TOKEN: 'ghp_cli_token_55aa',
      AIRLOCK_STATE_URL: 'postgres://airlock:state-pw@db/state',
      npm_config__authToken: 'npm-token-0c0c',
      npm_config_registry: 'http://127.0.0.1:4873/',
    };
    Object.assign(process.env, planted);
    try {
      const result = await runCommandCheck(
        spec(
          "env | grep -E '^(PRODUCTION_DATABASE_URL|FLY_API_TOKEN_PRODUCTION|GITHUB_TOKEN|AIRLOCK_STATE_URL|npm_config__authToken|npm_config_registry|DECLARED|BASE_URL|PATH)='",
          {
            env: { DECLARED: 'on purpose' },
          },
        ),
        context('http://127.0.0.1:9', { serviceRoot: root }),
      );
      expect(result.status).toBe('passed');
      const seen = Object.fromEntries(
        String(result.details.outputTail)
          .split('\n')
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      for (const name of [
        'PRODUCTION_DATABASE_URL',
        'FLY_API_TOKEN_PRODUCTION',
        'GITHUB_TOKEN',
        'AIRLOCK_STATE_URL',
        'npm_config__authToken',
      ])
        expect(seen[name], name).toBeUndefined();
      expect(seen.PATH).toBe(process.env.PATH);
      expect(seen.npm_config_registry).toBe('http://127.0.0.1:4873/');
      expect(seen.DECLARED).toBe('on purpose');
      expect(seen.BASE_URL).toBe('http://127.0.0.1:9');
    } finally {
      for (const name of Object.keys(planted)) delete process.env[name];
    }
  });

  it('passes on exit 0 with the Airlock variables set, in the service root', async () => {
    const result = await runCommandCheck(
      spec(
        'echo "$BASE_URL|$AIRLOCK_ENV|$AIRLOCK_RELEASE|$AIRLOCK_COMMIT|$AIRLOCK_SERVICE|$FROM_SPEC|$(pwd)"',
        { env: { FROM_SPEC: 'yes' } },
      ),
      context('http://127.0.0.1:9', { serviceRoot: root }),
    );
    expect(result.status).toBe('passed');
    expect(result.attempts).toBe(1);
    expect(result.details.exitCode).toBe(0);
    expect(result.details.outputTail).toBe(
      `http://127.0.0.1:9|staging|r3|c0ffee|notes|yes|${root}`,
    );
  });

  it('lets the command reach the live environment through BASE_URL', async () => {
    const s = await startServer((req, res) => res.end(req.url === '/ping' ? 'pong' : 'no'));
    servers.push(s);
    const script =
      "fetch(process.env.BASE_URL + '/ping').then((r) => r.text()).then((t) => { console.log('got ' + t); process.exit(t === 'pong' ? 0 : 1); })";
    const result = await runCommandCheck(
      spec(`"${process.execPath}" -e "${script}"`),
      context(s.url, { serviceRoot: root }),
    );
    expect(result.details.outputTail).toBe('got pong');
    expect(result.status).toBe('passed');
  });

  it('fails on a non-zero exit with its code, last line and the last 20 lines of output', async () => {
    const result = await runCommandCheck(
      spec(
        'for i in $(seq 1 30); do echo "line $i"; done; echo "expected 201, got 500" >&2; exit 3',
      ),
      context('http://127.0.0.1:9', { serviceRoot: root }),
    );
    expect(result.status).toBe('failed');
    expect(result.details.exitCode).toBe(3);
    expect(result.message).toContain('exited 3: expected 201, got 500');
    const tail = String(result.details.outputTail).split('\n');
    expect(tail).toHaveLength(20);
    expect(tail[0]).toBe('line 12');
    expect(tail.at(-1)).toBe('expected 201, got 500');
  });

  it('runs in cwd relative to the service root', async () => {
    await mkdir(join(root, 'e2e'));
    const result = await runCommandCheck(
      spec('pwd', { cwd: 'e2e' }),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.details.outputTail).toBe(join(root, 'e2e'));
    const missing = await runCommandCheck(
      spec('pwd', { cwd: 'nope' }),
      context('http://x', { serviceRoot: root }),
    );
    expect(missing.status).toBe('failed');
    expect(missing.message).toContain(`${join(root, 'nope')} does not exist`);
  });

  it('kills the whole process group after timeoutMs', async () => {
    const pidFile = join(root, 'child.pid');
    const started = performance.now();
    const result = await runCommandCheck(
      spec(`sleep 30 & echo $! > "${pidFile}"; echo waiting; sleep 30`, { timeoutMs: 300 }),
      context('http://x', { serviceRoot: root }),
    );
    expect(performance.now() - started).toBeLessThan(3000);
    expect(result.status).toBe('failed');
    expect(result.details.timedOut).toBe(true);
    expect(result.details.exitCode).toBeNull();
    expect(result.message).toBe(
      `\`sleep 30 & echo $! > "${pidFile}"; echo waiting; sleep 30\` timed out after 300 ms and was killed`,
    );
    expect(result.details.outputTail).toBe('waiting');
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    expect(grandchild).toBeGreaterThan(0);
    expect(await isAlive(grandchild)).toBe(false);
  });

  it('does not wait for (and does not leak) background processes left by a finished command', async () => {
    const pidFile = join(root, 'bg.pid');
    const started = performance.now();
    const result = await runCommandCheck(
      spec(`sleep 30 & echo $! > "${pidFile}"; echo done`),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.status).toBe('passed');
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await isAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });
});
