/**
 * Seed 001's policy: production follows automatically when staging's gate holds ("passing it
 * is both necessary and sufficient"), and stops on red with the failing gate named.
 */
import { describe, expect } from 'vitest';
import { planDeploy } from '../../src/pipeline/operations.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { liveVersion, type TestProject } from '../helpers/project.ts';

const automaticTest = projectTestWith({
  config: (doc) => {
    doc.setIn(['environments', 'production', 'promotion'], 'automatic');
    doc.setIn(['environments', 'production', 'protected'], false);
  },
  // Committed: an uncommitted policy cannot loosen the gate of a release built without it.
  commitMessage: 'Production follows staging automatically',
});

/** `airlock deploy staging --json`, which promotes to production by itself when the gate holds. */
async function deployStaging(project: TestProject, ...flags: string[]) {
  const { code, stdout } = await project.cli(['deploy', 'staging', '--json', ...flags]);
  expect(code, stdout).toBe(0);
  return JSON.parse(stdout);
}

describe('promotion: automatic', () => {
  automaticTest(
    'promotes to production by itself when the staging gate holds',
    async ({ project }) => {
      const json = await deployStaging(project);
      expect(json.automatic).toEqual([
        expect.objectContaining({ environment: 'production', status: 'succeeded' }),
      ]);
      const release = json.release.id;
      expect((await liveVersion(project.url('production'))).release).toBe(release);
      const { ctx } = await project.session();
      const [promotion] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
      expect(promotion).toMatchObject({ action: 'promotion.succeeded', releaseId: release });
    },
  );

  automaticTest(
    'stops on red, naming the failing gate, and production keeps its release',
    async ({ project }) => {
      expect((await deployStaging(project)).automatic).toHaveLength(1); // r1 follows to production
      const before = (await liveVersion(project.url('production'))).release;
      project.commit('2-pinned-notes');
      project.commit('3-broken-create');
      const { code, stdout } = await project.cli(['deploy', 'staging']);
      expect(code).toBe(1);
      expect(stdout).toContain('✖ deploy of');
      expect((await liveVersion(project.url('production'))).release).toBe(before);
    },
  );

  automaticTest(
    'with --no-follow, leaves production alone even when the gate holds',
    async ({ project }) => {
      project.editConfig((doc) => {
        doc.setIn(['environments', 'staging', 'services', 'notes', 'checks'], []);
        // Staging without checks differs from production (parity); allowed so the gate holds.
        doc.setIn(['parity'], doc.createNode({ allow: ['airlock.checks.*'] }));
      });
      const json = await deployStaging(project, '--no-follow');
      expect(json.automatic).toBeUndefined();
      const { ctx } = await project.session();
      expect(await ctx.store.getServing('production')).toEqual([]);
      // The gate held: following by hand promotes the same release.
      const plan = await planDeploy(ctx, 'production', {});
      expect(plan).toMatchObject({ blocked: false, release: { id: json.release.id } });
    },
  );
});
