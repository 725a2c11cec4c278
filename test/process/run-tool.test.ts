/**
 * The runners of src/process/ on real child processes: a known program run to completion
 * (`runTool`, `runToolPipe`, `runToolSync`) and a long-lived child writing to a log file
 * (`startBackground`). The user's shell commands (`shell.ts`) are covered through the providers
 * and checks that run them.
 */
import {
  chmodSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBackground } from '../../src/process/background.ts';
import { runTool, runToolPipe, runToolSync } from '../../src/process/run-tool.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-run-tool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const script = (name: string, body: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
};

/** True while `pid` runs (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(test: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (test()) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return test();
}

describe('runTool', () => {
  it('keeps stdout whole, masks stderr, every line passed on and the tail', async () => {
    const bin = script(
      'echoer',
      'read v; echo "got $v"; echo "token=$TOK" >&2; echo \'{"ok":true}\'',
    );
    const lines: string[] = [];
    const result = await runTool({
      command: bin,
      args: [],
      cwd: dir,
      env: { PATH: process.env.PATH, TOK: 'tok-123456' },
      stdin: 'secret-value\n',
      redact: ['secret-value', 'tok-123456'],
      onLine: (line) => lines.push(line),
      tailLines: 2,
    });
    expect(result.exitCode).toBe(0);
    expect(result.spawnError).toBeNull();
    expect(lines.sort()).toEqual(['got ***', 'token=***', '{"ok":true}'].sort());
    expect(result.stderr).toBe('token=***\n');
    expect(result.tail).toHaveLength(2);
    // stdout is the caller's to parse: as written.
    expect(result.stdout).toBe('got secret-value\n{"ok":true}\n');
  });

  it('reports a program that is not there as ENOENT, and one that cannot run with its reason', async () => {
    const missing = await runTool({ command: path.join(dir, 'nope'), args: [] });
    expect(missing.spawnError?.code).toBe('ENOENT');
    expect(missing.exitCode).toBeNull();
    const notExecutable = path.join(dir, 'plain');
    writeFileSync(notExecutable, 'echo hi\n');
    const refused = await runTool({ command: notExecutable, args: [], tailLines: 5 });
    expect(refused.spawnError?.code).toBe('EACCES');
    expect(refused.stderr).toContain('EACCES');
  });

  it('passes the exit code and stops keeping stdout once it reached maxStdout', async () => {
    const result = await runTool({
      command: 'sh',
      args: ['-c', 'printf 01234; sleep 0.2; printf 56789; exit 3'],
      maxStdout: 4,
    });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('01234');
    expect(result.stdoutTruncated).toBe(true);
  });

  it('stops its whole process group on timeout when it runs in its own', async () => {
    const pidFile = path.join(dir, 'pid');
    const bin = script('spawner', `sleep 30 & echo $! > ${pidFile}; wait`);
    const started = performance.now();
    const result = await runTool({
      command: bin,
      args: [],
      ownGroup: true,
      timeoutMs: 300,
      killGraceMs: 200,
    });
    expect(result.timedOut).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(await waitUntil(() => !alive(grandchild), 3_000)).toBe(true);
  });

  it('stops only the program on abort when it shares Airlock’s group', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await runTool({
      command: 'sleep',
      args: ['30'],
      signal: controller.signal,
    });
    expect(result.aborted).toBe(true);
    expect(result.signal).toBe('SIGTERM');
  });

  it('does not start what an already aborted signal stops at once', async () => {
    const started = performance.now();
    const result = await runTool({ command: 'sleep', args: ['30'], signal: AbortSignal.abort() });
    expect(result.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('runToolPipe', () => {
  it('feeds the first program’s output to the second', async () => {
    const [first, second] = await runToolPipe(
      {
        command: 'sh',
        args: ['-c', 'printf "a\\nb\\nc\\n"; echo oops-s3cret >&2'],
        redact: ['oops-s3cret'],
      },
      { command: 'wc', args: ['-l'] },
    );
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toBe('***\n');
    expect(second.exitCode).toBe(0);
    expect(second.stdout.trim()).toBe('3');
  });

  it('gives the second an empty input when the first cannot start', async () => {
    const [first, second] = await runToolPipe(
      { command: path.join(dir, 'no-pg_dump'), args: [] },
      { command: 'wc', args: ['-c'], timeoutMs: 5_000 },
    );
    expect(first.spawnError?.code).toBe('ENOENT');
    expect(second.timedOut).toBe(false);
    expect(second.stdout.trim()).toBe('0');
  });
});

describe('runToolSync', () => {
  it('returns stdout and the exit code, masks stderr, and stops a program past its timeout', () => {
    const ok = runToolSync({
      command: 'sh',
      args: ['-c', 'echo v1.2.3; echo "pw=hunter22" >&2; exit 4'],
      redact: ['hunter22'],
    });
    expect(ok).toMatchObject({
      exitCode: 4,
      stdout: 'v1.2.3\n',
      stderr: 'pw=***\n',
      spawnError: null,
    });
    const slow = runToolSync({ command: 'sleep', args: ['5'], timeoutMs: 100 });
    expect(slow.spawnError?.code).toBe('ETIMEDOUT');
    expect(slow.signal).toBe('SIGTERM');
    expect(runToolSync({ command: path.join(dir, 'none'), args: [] }).spawnError?.code).toBe(
      'ENOENT',
    );
  });
});

describe('startBackground', () => {
  it('starts a group leader writing to the given file and reports how it exited', async () => {
    const log = path.join(dir, 'app.log');
    const fd = openSync(log, 'a');
    const started = startBackground({
      command: '/bin/sh',
      args: ['-c', 'echo started; echo oops >&2; sleep 30'],
      cwd: dir,
      env: { PATH: process.env.PATH },
      outputFd: fd,
    });
    closeSync(fd);
    const proc = await started;
    expect(await waitUntil(() => readFileSync(log, 'utf8').includes('oops'), 5_000)).toBe(true);
    expect(readFileSync(log, 'utf8')).toBe('started\noops\n');
    // It leads its own group: signalling the group stops it.
    process.kill(-proc.pid, 'SIGTERM');
    expect(await proc.exited).toEqual({ exitCode: null, signal: 'SIGTERM' });
  });

  it('rejects with the spawn error when the program cannot start', async () => {
    const fd = openSync(path.join(dir, 'x.log'), 'a');
    const started = startBackground({
      command: path.join(dir, 'missing'),
      args: [],
      cwd: dir,
      env: {},
      outputFd: fd,
    });
    closeSync(fd);
    await expect(started).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
