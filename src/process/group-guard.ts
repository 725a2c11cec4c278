/**
 * A process group's guard: ends a command's group when Airlock dies before it could (`kill -9`,
 * a second Ctrl-C, a crash). Used by the runners whose commands run in a group of their own
 * (`shell.ts`, and `run-tool.ts` with `ownGroup`: the platform CLIs).
 */
import { spawn } from 'node:child_process';

/**
 * The script of a group's guard: `$1` is Airlock's pid, `$2` the group's. It polls Airlock once
 * a second and, once it is gone, sends the group SIGTERM, then SIGKILL 2 s later. No `--`
 * before the negative pid: dash's `kill` (Debian's `/bin/sh`) refuses it.
 */
const GUARD_SCRIPT =
  'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -TERM "-$2" 2>/dev/null; sleep 2; kill -KILL "-$2" 2>/dev/null';

/**
 * Watches this process on behalf of the process group `pgid`: a `/bin/sh` in a group of its own
 * (so killing the command's group spares it) that ends the command's group within about a
 * second of this process dying, however it died. Node cannot ask the kernel to signal children
 * when their parent dies (Linux's `PR_SET_PDEATHSIG`), and a check's processes (`sh -c pnpm run
 * e2e` and what it starts) would otherwise run on unowned, holding ports and databases.
 * @returns a function that stops the guard (its group: the shell and its `sleep`) once the
 *   command has ended.
 */
export function guardGroup(pgid: number): () => void {
  const guard = spawn(
    '/bin/sh',
    ['-c', GUARD_SCRIPT, 'airlock-guard', String(process.pid), String(pgid)],
    {
      detached: true,
      stdio: 'ignore',
    },
  );
  guard.on('error', () => {}); // no guard: the command still runs, as before guards
  guard.unref();
  return () => {
    if (guard.pid === undefined || guard.exitCode !== null) return;
    try {
      process.kill(-guard.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
}
