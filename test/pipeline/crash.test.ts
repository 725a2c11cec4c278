/**
 * A crashed app is restarted by the local runtime, and the crash and the restart are in the
 * project's audit log (written by the runtime as they happen).
 */
import { describe, expect } from 'vitest';
import { projectTest } from '../helpers/fixtures.ts';
import { liveVersion } from '../helpers/project.ts';

describe('an app process that crashes', () => {
  projectTest(
    'is restarted, and history records the crash and the restart',
    async ({ project }) => {
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      const before = JSON.parse((await project.cli(['local', 'status', '--json'])).stdout);
      const app = before.services.find((s: { environment: string }) => s.environment === 'staging');
      expect(app).toMatchObject({ release: 'r1', healthy: true, restarts: 0 });

      process.kill(app.pid, 'SIGKILL');

      let after = app;
      for (let i = 0; i < 100 && !(after.restarts >= 1 && after.healthy); i++) {
        await new Promise((r) => setTimeout(r, 100));
        const status = JSON.parse((await project.cli(['status', '--json'])).stdout);
        after = status.environments[0].services[0];
      }
      expect(after).toMatchObject({ release: 'r1', healthy: true, restarts: 1 });
      expect(after.lastCrash).toMatchObject({ release: 'r1', signal: 'SIGKILL' });
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');

      const history = JSON.parse((await project.cli(['history', 'staging', '--json'])).stdout);
      const actions = history.events.map(
        (e: { action: string; actor: string }) => `${e.action} by ${e.actor}`,
      );
      expect(actions.slice(0, 2)).toEqual([
        'app.restarted by airlock-runtime',
        'app.crashed by airlock-runtime',
      ]);
      const crash = history.events.find((e: { action: string }) => e.action === 'app.crashed');
      expect(crash).toMatchObject({
        result: 'failed',
        releaseId: 'r1',
        detail: { service: 'notes', pid: app.pid, signal: 'SIGKILL' },
      });
    },
  );
});
