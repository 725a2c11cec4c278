/**
 * Releases that travel: two "machines" (two copies of the project, each with its own Airlock
 * home) share the state (Postgres) and an artifact store on a real OCI registry (the CNCF
 * distribution registry, behind token auth: a bearer token from its token service). A builds;
 * B, whose local store is empty, stages and promotes without building, and rolls production
 * back after its store was emptied again: it pulls the bytes A built and serves that digest.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import type { RuntimeStateFile } from '../../src/providers/local/runtime-files.ts';
import { digestTree } from '../../src/releases/tree-digest.ts';
import { postgresProjectTestWith } from '../helpers/fixtures.ts';
import { run } from '../helpers/local-registry.ts';
import {
  REGISTRY_NEEDED,
  registryAvailable,
  startRegistry,
  type TestRegistry,
} from '../helpers/oci-registry.ts';
import { describeIfPostgres } from '../helpers/postgres.ts';
import { BIN, liveVersion, projectHome, REVIEWER, stopRuntimeOf } from '../helpers/project.ts';

const AUTH = { user: 'ci', password: 'registry-secret-for-the-team-test' };
const REGISTRY = { AIRLOCK_REGISTRY_USER: AUTH.user, AIRLOCK_REGISTRY_TOKEN: AUTH.password };
let registry: TestRegistry | undefined;

const teamTest = postgresProjectTestWith({
  env: REGISTRY,
  config: (doc) => doc.set('artifacts', registry?.url('team/notes') ?? 'oci://127.0.0.1:1/none'),
  commitMessage: 'Releases go to the team registry',
});

const skip = !registryAvailable && !process.env.CI;
if (skip) console.warn(`skipping the shared artifact store test: needs ${REGISTRY_NEEDED}`);

describeIfPostgres(
  'team mode: a release built on one machine is promoted and rolled back from another',
  () => {
    beforeAll(async () => {
      if (!skip) registry = await startRegistry({ auth: { ...AUTH, scheme: 'token' } });
    });
    afterAll(async () => {
      await registry?.stop();
    });

    teamTest.skipIf(skip)(
      'B stages, promotes and rolls back production with the bytes A built, from an empty store, with no build',
      async ({ project, stateDatabase, onTestFinished }) => {
        const b = mkdtempSync(path.join(os.tmpdir(), 'airlock-machine-b-'));
        onTestFinished(async () => {
          await stopRuntimeOf(b);
          rmSync(b, { recursive: true, force: true });
        });
        const env = { AIRLOCK_STATE_URL: stateDatabase.url, ...REGISTRY };
        const onB = (...args: string[]) =>
          run(process.execPath, [BIN, ...args], { cwd: b, env: { ...env, AIRLOCK_ACTOR: '' } });

        // Machine A (CI): builds r1, which pushes it to the registry.
        const built = await project.cli(['build', '--json']);
        expect(built.code, built.stderr).toBe(0);
        const r1Digest: string = JSON.parse(built.stdout).release.services.notes.digest;
        const pushedR1 = registry?.blobs().size ?? 0;
        expect(pushedR1).toBeGreaterThan(3);

        // Machine B (a laptop): the same repository, its own Airlock home, nothing built there.
        // Environments on the local provider run on the machine that deploys them, so B stages
        // the release too (no build: the bytes A built, pulled and verified), then promotes.
        cpSync(project.dir, b, { recursive: true });
        const homeB = projectHome(b);
        expect(homeB).not.toBe(projectHome(project.dir));
        expect(existsSync(path.join(homeB, 'artifacts'))).toBe(false);
        const staged = await onB('deploy', 'staging', '--release', 'r1');
        expect(staged.code, staged.stdout + staged.stderr).toBe(0);
        expect(staged.stdout).toMatch(/pulled .* from oci:\/\/127\.0\.0\.1:\d+\/team\/notes/);
        expect((await onB('approve', 'production', '--as', REVIEWER)).code).toBe(0);
        const promoted = await onB('promote', 'production', '--yes');
        expect(promoted.code, promoted.stdout + promoted.stderr).toBe(0);
        expect(await liveVersion(project.url('production'))).toMatchObject({
          release: 'r1',
          digest: r1Digest,
        });

        // A builds r2 (only the changed files' blobs or packs and the new manifests are pushed);
        // B stages and promotes it (pulling only what changed).
        project.commit('2-pinned-notes');
        const built2 = await project.cli(['build', '--json']);
        expect(built2.code, built2.stderr).toBe(0);
        expect((registry?.blobs().size ?? 0) - pushedR1).toBeLessThanOrEqual(8);
        // The laptop pulls the commit (its checks are read from it), not the build.
        expect((await run('git', ['pull', '-q', '--ff-only', project.dir], { cwd: b })).code).toBe(
          0,
        );
        const staged2 = await onB('deploy', 'staging', '--release', 'r2');
        expect(staged2.code, staged2.stdout + staged2.stderr).toBe(0);
        expect(staged2.stdout).toMatch(/pulled .* from oci:\/\//);
        expect((await onB('approve', 'production', '--as', REVIEWER)).code).toBe(0);
        const promoted2 = await onB('promote', 'production', '--yes');
        expect(promoted2.code, promoted2.stdout + promoted2.stderr).toBe(0);
        expect((await liveVersion(project.url('production'))).release).toBe('r2');

        // B's local store is emptied (a fresh laptop): rolling production back to r1 pulls r1
        // again, and what serves is a copy whose bytes digest to what A built.
        rmSync(path.join(homeB, 'artifacts'), { recursive: true, force: true });
        const back = await onB('rollback', 'production', '--yes');
        expect(back.code, back.stdout + back.stderr).toBe(0);
        expect(back.stdout).toMatch(/pulled .* from oci:\/\//);
        expect(await liveVersion(project.url('production'))).toMatchObject({
          release: 'r1',
          digest: r1Digest,
        });
        const runtime = JSON.parse(
          readFileSync(path.join(homeB, 'local', 'state.json'), 'utf8'),
        ) as RuntimeStateFile;
        const serving = runtime.services.find(
          (s) => s.environment === 'production' && s.service === 'notes',
        );
        expect(serving?.deployment.release.digest).toBe(r1Digest);
        expect((await digestTree(serving?.deployment.artifactDir ?? b)).digest).toBe(r1Digest);
        // Nothing was built on B: its home has no build log.
        const logsB = path.join(homeB, 'logs');
        expect(
          existsSync(logsB) ? readdirSync(logsB).filter((f) => f.startsWith('build')) : [],
        ).toEqual([]);

        // The registry credentials are nowhere: not in output, not in the shared state.
        const status = await onB('status', '--json');
        for (const text of [
          built.stdout,
          built.stderr,
          promoted.stdout,
          promoted.stderr,
          back.stdout,
          back.stderr,
          status.stdout,
        ])
          expect(text).not.toContain(AUTH.password);
        const client = new Client({ connectionString: stateDatabase.url });
        await client.connect();
        try {
          const tables = await client.query<{ table_schema: string; table_name: string }>(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
          );
          expect(tables.rows.length).toBeGreaterThan(3);
          for (const { table_schema, table_name } of tables.rows) {
            const found = await client.query(
              `SELECT count(*)::int AS n FROM "${table_schema}"."${table_name}" t WHERE t::text LIKE $1`,
              [`%${AUTH.password}%`],
            );
            expect(found.rows[0].n, table_name).toBe(0);
          }
        } finally {
          await client.end();
        }
      },
    );
  },
);
