/**
 * Seed 001's policy: production follows automatically when staging's gate holds ("passing it
 * is both necessary and sufficient"), and stops on red with the failing gate named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleProject, liveVersion, type TestProject } from '../helpers/project.ts';

describe('promotion: automatic', () => {
  let project: TestProject;

  beforeAll(async () => {
    project = await exampleProject();
    project.editConfig((doc) => {
      doc.setIn(['environments', 'production', 'promotion'], 'automatic');
      doc.setIn(['environments', 'production', 'protected'], false);
    });
  });
  afterAll(async () => {
    await project.cleanup();
  });

  it('promotes to production by itself when the staging gate holds', async () => {
    const { code, stdout } = await project.cli(['deploy', 'staging', '--json']);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.automatic).toEqual([
      expect.objectContaining({ environment: 'production', status: 'succeeded' }),
    ]);
    const release = json.release.id;
    expect((await liveVersion(project.url('production'))).release).toBe(release);
    const { ctx } = await project.session();
    const [promotion] = await ctx.store.listAudit({ environment: 'production', limit: 1 });
    expect(promotion).toMatchObject({ action: 'promotion.succeeded', releaseId: release });
  });

  it('stops on red, naming the failing gate, and production keeps its release', async () => {
    const before = (await liveVersion(project.url('production'))).release;
    project.commit('2-pinned-notes');
    project.commit('3-broken-create');
    const { code, stdout } = await project.cli(['deploy', 'staging']);
    expect(code).toBe(1);
    expect(stdout).toContain('✖ deploy of');
    expect((await liveVersion(project.url('production'))).release).toBe(before);
  });

  it('with --no-follow, leaves production alone even when the gate holds', async () => {
    project.editConfig((doc) => {
      doc.setIn(['environments', 'staging', 'services', 'notes', 'checks'], []);
      // Staging without checks differs from production (parity); allowed so the gate holds.
      doc.setIn(['parity'], doc.createNode({ allow: ['airlock.checks.*'] }));
    });
    const before = (await liveVersion(project.url('production'))).release;
    const { code, stdout } = await project.cli(['deploy', 'staging', '--no-follow', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).automatic).toBeUndefined();
    expect((await liveVersion(project.url('production'))).release).toBe(before);
  });
});
