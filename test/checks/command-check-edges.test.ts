import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandCheckSpec } from '../../src/checks/check.ts';
import { runCommandCheck } from '../../src/checks/command-check.ts';
import { context } from './test-server.ts';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-command-edges-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

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
});
