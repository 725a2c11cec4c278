import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandCheckSpec } from '../../src/checks/check.ts';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { context, startServer, type TestServer } from './test-server.ts';

let root: string;
const servers: TestServer[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-command-edges-'));
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await rm(root, { recursive: true, force: true });
});

/**
 * A `pnpm` on PATH (in `root/bin`) that prints what pnpm 9 prints around a failing
 * `pnpm run <script>`: the script banner on stdout, then ` ELIFECYCLE  Command failed with exit
 * code N.` on stderr. The script itself is `node <script>.mjs` from `root`.
 */
async function fakePnpm(): Promise<Record<string, string>> {
  await mkdir(join(root, 'bin'));
  const pnpm = join(root, 'bin', 'pnpm');
  await writeFile(
    pnpm,
    [
      '#!/bin/sh',
      'echo',
      'echo "> todo@1.0.0 $2 $PWD"',
      'echo "> node $2.mjs"',
      'echo',
      `"${process.execPath}" "$2.mjs"`,
      'code=$?',
      '[ "$code" -eq 0 ] || echo " ELIFECYCLE  Command failed with exit code $code." >&2',
      'exit "$code"',
      '',
    ].join('\n'),
  );
  await chmod(pnpm, 0o755);
  return { PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}` };
}

function spec(run: string, overrides: Partial<CommandCheckSpec> = {}): CommandCheckSpec {
  return { name: 'e2e', type: 'command', run, timeoutMs: 10_000, ...overrides };
}

/** True while `pid` runs; a zombie (dead, not yet reaped) counts as gone. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

async function stopsWithin(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (isRunning(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

describe('runCommandCheck edge cases', () => {
  it('is cancelled by ctx.signal, killing the whole group', async () => {
    const pidFile = join(root, 'child.pid');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    const result = await runCommandCheck(
      spec(`sleep 30 & echo $! > "${pidFile}"; sleep 30`),
      context('http://x', { serviceRoot: root, signal: controller.signal }),
    );
    expect(performance.now() - started).toBeLessThan(3000);
    expect(result.status).toBe('failed');
    expect(result.message).toBe(`\`sleep 30 & echo $! > "${pidFile}"; sleep 30\` cancelled`);
    expect(result.details).toMatchObject({ cancelled: true, timedOut: false, exitCode: null });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(await stopsWithin(pid, 2000)).toBe(true);
  });

  it('is cancelled at once when ctx.signal is already aborted', async () => {
    const started = performance.now();
    const result = await runCommandCheck(
      spec('sleep 30'),
      context('http://x', { serviceRoot: root, signal: AbortSignal.abort() }),
    );
    expect(performance.now() - started).toBeLessThan(3000);
    expect(result.message).toBe('`sleep 30` cancelled');
  });

  it('reports a command killed by a signal', async () => {
    const result = await runCommandCheck(
      spec('echo about to die; kill -TERM $$'),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.status).toBe('failed');
    expect(result.details).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false });
    expect(result.message).toBe(
      '`echo about to die; kill -TERM $$` was killed by SIGTERM: about to die',
    );
  });

  it('ignores trailing blank output when naming the last line', async () => {
    const result = await runCommandCheck(
      spec('echo "step 1 ok"; echo "step 2: expected 201, got 500"; echo; echo "   "; exit 2'),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.message).toBe(
      '`echo "step 1 ok"; echo "step 2: expected 201, got 500"; echo; echo "   "; exit 2` exited 2: step 2: expected 201, got 500',
    );
    expect(result.details.outputTail).toBe('step 1 ok\nstep 2: expected 201, got 500');
  });

  it('keeps only the end of a huge output, even one without newlines', async () => {
    const script =
      "process.stdout.write('x'.repeat(400000)); process.stderr.write('\\nlast words\\n'); process.exit(4)";
    const result = await runCommandCheck(
      spec(`"${process.execPath}" -e "${script}"`),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.status).toBe('failed');
    expect(result.message.endsWith('exited 4: last words')).toBe(true);
    const tail = String(result.details.outputTail);
    expect(tail.endsWith('x\nlast words')).toBe(true);
    expect(tail.length).toBeLessThanOrEqual(64 * 1024);
  });

  it('truncates a very long last line in the message', async () => {
    const result = await runCommandCheck(
      spec(`printf '%0300d\\n' 7; exit 1`),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.message).toBe(`\`printf '%0300d\\n' 7; exit 1\` exited 1: ${'0'.repeat(157)}...`);
  });

  it("names the test's own failure, not the package manager's ELIFECYCLE line", async () => {
    const app = await startServer((req, res) => {
      res.writeHead(req.method === 'POST' ? 500 : 200).end();
    });
    servers.push(app);
    await writeFile(
      join(root, 'e2e.mjs'),
      [
        'const list = await fetch(`${process.env.BASE_URL}/todos`);',
        'console.log(`GET /todos -> ${list.status}`);',
        "const created = await fetch(`${process.env.BASE_URL}/todos`, { method: 'POST' });",
        'if (created.status !== 201) {',
        '  console.error(`POST /todos -> ${created.status}`);',
        '  process.exit(1);',
        '}',
      ].join('\n'),
    );
    const result = await runCommandCheck(
      spec('pnpm run e2e', { env: await fakePnpm() }),
      context(app.url, { serviceRoot: root }),
    );
    expect(result.status).toBe('failed');
    expect(result.message).toBe('`pnpm run e2e` exited 1: POST /todos -> 500');
    // The whole output is still in the tail, pnpm's line included.
    expect(result.details.outputTail).toContain('GET /todos -> 200');
    expect(result.details.outputTail).toContain(' ELIFECYCLE  Command failed with exit code 1.');
  });

  it("names a thrown assertion, not its stack, its properties or Node's version line", async () => {
    const app = await startServer((_req, res) => res.writeHead(500).end());
    servers.push(app);
    await writeFile(
      join(root, 'e2e.mjs'),
      [
        "import assert from 'node:assert';",
        "const created = await fetch(`${process.env.BASE_URL}/todos`, { method: 'POST' });",
        'assert.equal(created.status, 201, `POST /todos -> ${created.status}`);',
      ].join('\n'),
    );
    const result = await runCommandCheck(
      spec('pnpm run e2e', { env: await fakePnpm() }),
      context(app.url, { serviceRoot: root }),
    );
    expect(result.status).toBe('failed');
    // Node printed the stack, `{ generatedMessage: false, code: 'ERR_ASSERTION', … }`, a blank
    // line and `Node.js v…` after it; pnpm its ELIFECYCLE line.
    expect(result.details.outputTail).toMatch(/code: 'ERR_ASSERTION'[\s\S]*Node\.js v\d/);
    expect(result.message).toBe(
      '`pnpm run e2e` exited 1: AssertionError [ERR_ASSERTION]: POST /todos -> 500',
    );
  });

  it("skips npm and yarn boilerplate, and names npm's own error when the script printed nothing", async () => {
    const npm = await runCommandCheck(
      spec(
        [
          'echo "npm error Missing script: \\"e2e\\"" >&2',
          'echo "npm error" >&2',
          'echo "npm error To see a list of scripts, run:" >&2',
          'echo "npm error   npm run" >&2',
          'echo "npm error A complete log of this run can be found in: /tmp/x.log" >&2',
          'exit 1',
        ].join('; '),
      ),
      context('http://x', { serviceRoot: root }),
    );
    expect(npm.message.endsWith('exited 1: npm error Missing script: "e2e"')).toBe(true);

    const yarn = await runCommandCheck(
      spec(
        [
          'echo "yarn run v1.22.22"',
          'echo "$ node e2e.mjs"',
          'echo "expected 3 todos, got 2"',
          'echo "error Command failed with exit code 1." >&2',
          'echo "info Visit https://yarnpkg.com/en/docs/cli/run for documentation about this command."',
          'exit 1',
        ].join('; '),
      ),
      context('http://x', { serviceRoot: root }),
    );
    expect(yarn.message.endsWith('exited 1: expected 3 todos, got 2')).toBe(true);
  });

  it('leaves the period off the line it quotes, so the sentence around it ends once', async () => {
    const result = await runCommandCheck(
      spec('echo "Expected 201, got 500."; exit 1'),
      context('http://x', { serviceRoot: root }),
    );
    expect(result.message).toBe(
      '`echo "Expected 201, got 500."; exit 1` exited 1: Expected 201, got 500',
    );
  });
});
