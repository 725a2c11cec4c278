/**
 * Garbage collection on a real project (notes example, local runtime, real processes): what
 * serves, what is warm and what an approval waits for are never removed; the rest is, and the
 * freed bytes are reported.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { collectGarbage } from '../../src/pipeline/gc.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import { liveVersion, projectHome, REVIEWER } from '../helpers/project.ts';

const gcTest = projectTestWith({
  config: (doc) => {
    doc.setIn(['releases'], { keep: 1, gcAfterDeploy: false });
    doc.setIn(['services', 'notes', 'keepWarmMs'], 120_000);
  },
  commitMessage: 'keep one release, warm the previous one',
});

gcTest(
  'keeps what serves, the warm release and an approved one; removes the rest and reports freed bytes',
  async ({ project }) => {
    const { ctx } = await project.session();
    const copy = (id: string) =>
      path.join(projectHome(project.dir), 'envs', 'staging', 'releases', id);
    expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r1
    project.commit('2-pinned-notes');
    expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r2, r1 warm
    // Each later release changes server.js: r2's version of it is then needed by r2 alone.
    const server = () => readFileSync(path.join(project.dir, 'src', 'server.js'), 'utf8');
    project.commitFiles({ 'src/server.js': `${server()}// r3\n` }, 'r3');
    expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r3, r2 warm (cap 1)
    project.commitFiles({ 'src/server.js': `${server()}// r4\n` }, 'r4');
    expect((await deploy(ctx, 'staging', {})).status).toBe('succeeded'); // r4, r3 warm
    const { ctx: reviewer } = await project.session(REVIEWER);
    await recordApproval(reviewer, {
      environment: 'production',
      decision: 'approved',
      release: 'r1',
    });
    for (const id of ['r1', 'r2', 'r3', 'r4']) expect(existsSync(copy(id))).toBe(true);

    const result = await collectGarbage(ctx);
    expect(result.kept.staging).toEqual({ r4: 'serves', r3: 'warm' });
    expect(result.kept.production).toEqual({ r1: 'approved, not deployed yet' });
    // r1 waits for production, which makes its own copy: staging's copy of r1 goes, its
    // artifact stays in the store.
    expect(result.copies.sort()).toEqual(
      ['r1', 'r2'].map((id) => path.join('envs', 'staging', 'releases', id)),
    );
    for (const id of ['r1', 'r2']) expect(existsSync(copy(id))).toBe(false);
    for (const id of ['r3', 'r4']) expect(existsSync(copy(id))).toBe(true);
    const [r1, r2] = [(await ctx.store.findRelease('r1'))!, (await ctx.store.findRelease('r2'))!];
    expect(result.artifacts).toContain(r2.services.notes!.digest);
    expect(result.artifacts).not.toContain(r1.services.notes!.digest);
    // What is kept still verifies and still serves.
    expect(result.freedBytes).toBeGreaterThan(0);
    for (const id of ['r1', 'r3', 'r4']) {
      const release = (await ctx.store.findRelease(id))!;
      await ctx.artifacts.verify(release.services.notes!.digest, { full: true });
    }
    expect((await liveVersion(project.url('staging'))).release).toBe('r4');
    // Nothing left to collect; the command says so.
    const cli = await project.cli(['gc', '--dry-run', '--json']);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).gc).toMatchObject({ dryRun: true, copies: [], artifacts: [] });
  },
);
