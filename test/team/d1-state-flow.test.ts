/**
 * Team mode on Cloudflare D1: the notes example's manual flow (deploy to staging, a refused
 * promotion, a reviewer's approval, promotion to production) with `state: d1://…`, the state store reached
 * through the FAKE D1 HTTP API (Cloudflare's envelope over a real SQLite file), from this
 * process and from the CLI and the local runtime it starts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, test } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { type FakeD1Api, startFakeD1Api } from '../fakes/cloudflare/fake-d1-api.ts';
import { exampleProject, projectHome, REVIEWER, type TestProject } from '../helpers/project.ts';

interface D1State {
  api: FakeD1Api;
  databaseId: string;
}

const d1Test = test
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's dependencies from this pattern
  .extend('d1', async ({}, { onCleanup }): Promise<D1State> => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-d1-state-'));
    const api = await startFakeD1Api(dir);
    onCleanup(async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { api, databaseId: api.createDatabase() };
  })
  .extend('project', async ({ d1 }, { onCleanup }): Promise<TestProject> => {
    const project = await exampleProject({
      env: {
        AIRLOCK_STATE_URL: `d1://${d1.api.accountId}/${d1.databaseId}`,
        AIRLOCK_STATE_TOKEN: d1.api.token,
        CLOUDFLARE_API_BASE_URL: d1.api.baseUrl,
      },
    });
    onCleanup(() => project.cleanup());
    return project;
  });

describe('state on Cloudflare D1', () => {
  d1Test(
    'runs the manual flow with state: d1://… and keeps the whole history in D1',
    async ({ project, d1 }) => {
      const { ctx: dev } = await project.session();
      const { ctx: reviewer } = await project.session(REVIEWER);
      expect((await deploy(dev, 'staging', {})).status).toBe('succeeded'); // r1
      await expect(deploy(dev, 'production', {})).rejects.toMatchObject({ code: 'GATE_BLOCKED' });
      await recordApproval(reviewer, { environment: 'production', decision: 'approved' });
      const promoted = await deploy(dev, 'production', {});
      expect(promoted.status, promoted.failedStep?.message ?? '').toBe('succeeded');

      // Another process (the CLI) reads the same state from D1.
      const status = await project.cli(['status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('"r1"');
      expect(status.stdout + status.stderr).not.toContain(d1.api.token);
      const verify = await project.cli(['audit', 'verify', '--json']);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);

      // The rows are in the D1 database, and no state.db was written in the project's home.
      const db = new DatabaseSync(d1.api.file(d1.databaseId), { readOnly: true });
      try {
        const releases = db.prepare('SELECT id FROM releases ORDER BY seq').all();
        expect(releases.map((r) => r.id)).toEqual(['r1']);
        const serving = db
          .prepare("SELECT release_id FROM serving WHERE environment = 'production'")
          .all();
        expect(serving.map((r) => r.release_id)).toEqual(['r1']);
        const actions = db.prepare('SELECT action FROM audit_events').all();
        expect(actions.map((r) => r.action)).toEqual(
          expect.arrayContaining(['approval.recorded', 'promotion.succeeded', 'promotion.refused']),
        );
      } finally {
        db.close();
      }
      const home = projectHome(project.dir, {
        AIRLOCK_STATE_URL: `d1://${d1.api.accountId}/${d1.databaseId}`,
      });
      expect(existsSync(path.join(home, 'state.db'))).toBe(false);
      console.log(
        'REQUESTS',
        d1.api.requests.length,
        JSON.stringify(
          Object.entries(
            d1.api.requests.reduce(
              (m, r) => {
                const b = r.body as { batch?: { sql: string }[] };
                const k = (b?.batch ?? []).map((s) => s.sql.slice(0, 40)).join(' + ');
                m[k] = (m[k] ?? 0) + 1;
                return m;
              },
              {} as Record<string, number>,
            ),
          )
            .sort((a, b) => b[1] - a[1])
            .slice(0, 25),
          null,
          1,
        ),
      );
      // Nothing reached D1 without the token.
      expect(d1.api.requests.filter((r) => r.auth !== 'valid')).toEqual([]);
    },
    180_000,
  );
});
