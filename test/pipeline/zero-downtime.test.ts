/**
 * Zero downtime through the real CLI: clients hammer production over keep-alive connections
 * while a new release is promoted into it and then rolled back; not one request fails. The warm
 * rollback does not read its copy again (the process was verified when it started), and a warm
 * process that turned out unhealthy never lets a changed copy run.
 */
import { readlinkSync, renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect } from 'vitest';
import { environmentNamed } from '../../src/config/environments.ts';
import { serviceTarget } from '../../src/pipeline/context.ts';
import { releaseDir } from '../../src/pipeline/steps/deployment-run.ts';
import { promotedProjectTest } from '../helpers/fixtures.ts';
import { liveVersion, REVIEWER } from '../helpers/project.ts';

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
    'serves every request while r2 is promoted into production and rolled back to a warm r1; a changed copy of an unhealthy warm process is replaced by a fresh one',
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
      // The warm process was verified when it started: its copy is not read again.
      expect(rollback.stdout).toMatch(
        /notes artifact digest sha256:[0-9a-f]+ \(warm: verified when its process started\)/,
      );
      await new Promise((r) => setTimeout(r, 200));
      const result = await load.stop();

      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(200);
      expect([...result.releases].sort()).toEqual(['r1', 'r2']);

      // Now r2 is warm. Its process stops answering (SIGSTOP) and a file of its copy is
      // replaced: the runtime must not start r2 from that copy; the rollback goes on from a
      // fresh verified copy.
      const session = await project.session();
      const env = environmentNamed(session.ctx.config, 'production');
      const describe = () =>
        session.ctx.providerFor(env).describe(serviceTarget(session.ctx.config, env, 'notes'));
      const warm = (await describe()).warmCopies?.find((c) => c.release === 'r2');
      const copy = path.resolve(releaseDir(session.ctx.home, 'production', 'r2', 'notes'));
      expect(warm?.artifactDir).toBe(copy);
      const pid = warm?.pid as number;
      const server = path.join(copy, 'server.js');
      // Replaced, not written through: the copy's files are links to the shared store.
      renameSync(server, `${server}.old`);
      writeFileSync(server, 'process.exit(1);\n');
      process.kill(pid, 'SIGSTOP');
      try {
        const forward = await project.cli(['rollback', 'production', '--yes']);
        expect(forward.code, forward.stdout + forward.stderr).toBe(0);
        expect(forward.stdout).not.toContain('switched to warm');
        expect((await liveVersion(project.url('production'))).release).toBe('r2');
        const serving = await describe();
        expect(serving.pid).not.toBe(pid);
        expect(readlinkSync(`/proc/${serving.pid}/cwd`)).toBe(`${copy}-2`);
      } finally {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // already stopped by the runtime
        }
      }
    },
  );
});
