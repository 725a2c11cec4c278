/**
 * A command run in its own process group (a user's shell command; a platform CLI) does not
 * outlive Airlock: not when it ends, not when Airlock is killed with SIGKILL in the middle of
 * it. Real processes: a Node parent running the runner, a `sleep` in the command's group.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runShell } from '../../src/process/shell.ts';

const SRC = path.resolve(import.meta.dirname, '../../src/process');

/** How a parent process starts `command` in a group of its own, per runner. */
const RUNNERS = {
  runShell: (command: string, cwd: string) =>
    `import { runShell } from ${JSON.stringify(`${SRC}/shell.ts`)};\n` +
    `await runShell(${JSON.stringify(command)}, { cwd: ${JSON.stringify(cwd)}, env: process.env });\n`,
  'runTool with ownGroup': (command: string, cwd: string) =>
    `import { runTool } from ${JSON.stringify(`${SRC}/run-tool.ts`)};\n` +
    `await runTool({ command: '/bin/sh', args: ['-c', ${JSON.stringify(command)}], cwd: ${JSON.stringify(cwd)}, ownGroup: true });\n`,
};

/** Whether `pid` runs: a zombie (dead, not yet reaped by whoever adopted it) does not. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `test` every 50 ms until it holds or `ms` pass; returns whether it held. */
async function within(ms: number, test: () => boolean): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (test()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return test();
}

/** Pids of the guards watching `pid` (their command line names it after `airlock-guard`). */
function guardsOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('airlock-guard');
      if (at > 0 && argv[at + 1] === String(pid)) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('the guard of a process group', () => {
  const dirs: string[] = [];
  const leftovers: number[] = [];
  afterEach(() => {
    for (const pid of leftovers.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it.each(Object.keys(RUNNERS) as Array<keyof typeof RUNNERS>)(
    "%s: ends the command's whole group when Airlock is killed with SIGKILL mid-command",
    async (runner) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-shell-'));
      dirs.push(dir);
      const pidFile = path.join(dir, 'sleep.pid');
      writeFileSync(
        path.join(dir, 'parent.ts'),
        RUNNERS[runner](`sleep 60 & echo $! > ${pidFile}; wait`, dir),
      );
      const parent = spawn(process.execPath, [path.join(dir, 'parent.ts')], { stdio: 'ignore' });
      expect(
        await within(
          15_000,
          () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
        ),
      ).toBe(true);
      const sleepPid = Number(readFileSync(pidFile, 'utf8').trim());
      leftovers.push(sleepPid);
      expect(alive(sleepPid)).toBe(true);
      // The guard is spawned just after the command, which may already have written its pid:
      // killing the parent before then would test nothing but a race.
      expect(await within(15_000, () => guardsOf(parent.pid as number).length === 1)).toBe(true);
      const parentGone = new Promise((r) => parent.once('exit', r));
      parent.kill('SIGKILL');
      await parentGone;
      // The guard polls once a second, then sends SIGTERM (which `sleep` obeys).
      expect(await within(6_000, () => !alive(sleepPid))).toBe(true);
    },
  );

  it('leaves no guard behind once the command has ended', async () => {
    const result = await runShell('echo done', { cwd: os.tmpdir(), env: process.env });
    expect(result.exitCode).toBe(0);
    expect(result.tail).toEqual(['done']);
    expect(await within(3_000, () => guardsOf(process.pid).length === 0)).toBe(true);
  });

  it('guards the command while it runs', async () => {
    const running = runShell('sleep 0.5', { cwd: os.tmpdir(), env: process.env });
    expect(await within(3_000, () => guardsOf(process.pid).length === 1)).toBe(true);
    expect((await running).exitCode).toBe(0);
    expect(await within(3_000, () => guardsOf(process.pid).length === 0)).toBe(true);
  });
});
