/**
 * Zero downtime through the real CLI: clients hammer production over keep-alive connections
 * while a new release is promoted into it and then rolled back; not one request fails.
 */
import http from 'node:http';
import { describe, expect } from 'vitest';
import { promotedProjectTest } from '../helpers/fixtures.ts';
import { REVIEWER } from '../helpers/project.ts';

interface Load {
  stop(): Promise<{ ok: number; failed: number; errors: string[]; releases: Set<string> }>;
}

/** `clients` loops of GET /version on keep-alive sockets, until stopped. */
function hammer(url: string, clients: number): Load {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  let ok = 0;
  let failed = 0;
  const errors: string[] = [];
  const releases = new Set<string>();
  const once = () =>
    new Promise<void>((resolve) => {
      const req = http.get(`${url}/version`, { agent }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok += 1;
            releases.add(JSON.parse(body).release);
          } else {
            failed += 1;
            errors.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
          }
          resolve();
        });
      });
      req.on('error', (e) => {
        failed += 1;
        errors.push(e.message);
        resolve();
      });
    });
  const loops = Array.from({ length: clients }, async () => {
    while (running) await once();
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { ok, failed, errors: errors.slice(0, 5), releases };
    },
  };
}

describe('zero-downtime switching', () => {
  // r1 serves staging and production (the fixture).
  promotedProjectTest(
    'serves every request while r2 is promoted into production and rolled back',
    async ({ project }) => {
      project.commit('2-pinned-notes');
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0);
      expect((await project.cli(['approve', 'production', '--as', REVIEWER])).code).toBe(0);

      const load = hammer(project.url('production'), 8);
      await new Promise((r) => setTimeout(r, 200));
      const promote = await project.cli(['promote', 'production', '--yes']);
      expect(promote.code).toBe(0);
      const rollback = await project.cli(['rollback', 'production', '--yes']);
      expect(rollback.code).toBe(0);
      expect(rollback.stdout).toContain('switched to warm r1');
      await new Promise((r) => setTimeout(r, 200));
      const result = await load.stop();

      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(200);
      expect([...result.releases].sort()).toEqual(['r1', 'r2']);
    },
  );
});
