/**
 * No unchecked release keeps serving: a promotion whose CLI is killed with -9 after the switch,
 * before its production checks ran, is switched back by the local runtime itself once the
 * switch's checks lease runs out, and the audit log says so.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { promotedProjectTestWith, stageAndApprove } from '../helpers/fixtures.ts';
import { BIN, liveVersion, projectHome } from '../helpers/project.ts';

const LEASE_MS = 1_500;

const leaseTest = promotedProjectTestWith({
  config: (doc) => doc.setIn(['environments', 'production', 'checksLeaseMs'], LEASE_MS),
  commitMessage: 'a short checks lease in production',
});

async function release(url: string): Promise<string | null> {
  return (await liveVersion(url).catch(() => null))?.release ?? null;
}

describe('checks lease', () => {
  leaseTest(
    'a promotion killed after its switch is switched back within the lease, and audited',
    async ({ project, r1 }) => {
      project.commit('2-pinned-notes');
      await stageAndApprove(project);

      const marker = path.join(projectHome(project.dir), 'fault-paused');
      rmSync(marker, { force: true });
      const cli = spawn(process.execPath, [BIN, 'promote', 'production', '--yes'], {
        cwd: project.dir,
        env: { ...process.env, CI: '1', NO_COLOR: '1', AIRLOCK_FAULT_PAUSE: 'after:deploy:notes' },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => cli.on('exit', resolve));
      try {
        await expect.poll(() => existsSync(marker), { timeout: 30_000, interval: 50 }).toBe(true);
        const r2 = await release(project.url('production'));
        expect(r2).not.toBe(r1);
        cli.kill('SIGKILL');
        const killedAt = performance.now();
        await exited;

        await expect
          .poll(() => release(project.url('production')), { timeout: 10_000, interval: 50 })
          .toBe(r1);
        // Back within the lease (plus the machine's noise), not at the next command.
        expect(performance.now() - killedAt).toBeLessThan(LEASE_MS + 5_000);

        const history = JSON.parse(
          (await project.cli(['history', 'production', '--json'])).stdout,
        ) as { events: Array<{ action: string; actor: string; result: string; detail: object }> };
        const reverted = history.events.find((e) => e.action === 'runtime.reverted');
        expect(reverted).toMatchObject({
          actor: 'airlock-runtime',
          result: 'ok',
          detail: { service: 'notes', previousRelease: r1, reverted: true, leaseMs: LEASE_MS },
        });

        // Resume deploys r2 again rather than adopting the switch that was undone: r2 serves
        // again only because it was switched to again, and its checks then ran against it.
        const resumed = await project.cli(['resume', 'production', '--yes', '--json']);
        expect(JSON.parse(resumed.stdout).resumed).toMatchObject([
          { outcome: 'finished', status: 'succeeded', serving: { notes: r2 } },
        ]);
        expect(await release(project.url('production'))).toBe(r2);
      } finally {
        cli.kill('SIGKILL');
      }
    },
  );
});
