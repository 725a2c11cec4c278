/**
 * Garbage collection on a real project (notes example, local runtime, real processes): what
 * serves, what is warm and what an approval waits for are never removed; the rest is, and the
 * freed bytes are reported.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { hasCode } from '../../src/errors.ts';
import { recordApproval } from '../../src/pipeline/approve.ts';
import { collectGarbage } from '../../src/pipeline/gc.ts';
import { deploy } from '../../src/pipeline/operations.ts';
import { ArtifactStore } from '../../src/releases/artifact-store.ts';
import { OciStore } from '../../src/releases/oci-store.ts';
import { projectTestWith } from '../helpers/fixtures.ts';
import {
  REGISTRY_NEEDED,
  registryAvailable,
  startRegistry,
  type TestRegistry,
} from '../helpers/oci-registry.ts';
import { liveVersion, projectHome, REVIEWER } from '../helpers/project.ts';

// Releases also go to a shared artifact store on a real OCI registry, collected by
// `airlock gc --remote` with the same rule (skipped locally where no registry is installed).
let registry: TestRegistry | undefined;
beforeAll(async () => {
  if (registryAvailable || process.env.CI) registry = await startRegistry();
  else console.warn(`gc --remote is not tested here: needs ${REGISTRY_NEEDED}`);
});
afterAll(() => registry?.stop());

const gcTest = projectTestWith({
  config: (doc) => {
    doc.setIn(['releases'], { keep: 1, gcAfterDeploy: false });
    doc.setIn(['services', 'notes', 'keepWarmMs'], 120_000);
    if (registry) doc.set('artifacts', registry.url('team/notes'));
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

    // The shared store: r2 goes (nothing keeps it), r1 (approved), r3 (warm) and r4 (serves)
    // stay, each still pullable into an empty store.
    if (!registry) return;
    const remote = await project.cli(['gc', '--remote', '--json']);
    expect(remote.code, remote.stderr).toBe(0);
    const digests = await Promise.all(
      ['r1', 'r2', 'r3', 'r4'].map(
        async (id) => (await ctx.store.findRelease(id))!.services.notes!.digest,
      ),
    );
    expect(JSON.parse(remote.stdout).gc).toMatchObject({ removed: [digests[1]], blobs: null });
    // Kept besides: every release's migrations (small; the ledger looks files up in them).
    expect(JSON.parse(remote.stdout).gc.kept).toEqual(
      expect.arrayContaining([digests[0], digests[2], digests[3]]),
    );
    const empty = new ArtifactStore(path.join(project.dir, 'empty-store'), {
      remote: new OciStore(registry.url('team/notes')),
    });
    for (const digest of [digests[0], digests[2], digests[3]]) await empty.verify(digest as string);
    expect(
      hasCode(await empty.verify(digests[1] as string).catch((e: unknown) => e), 'DIGEST_MISMATCH'),
    ).toBe(true);
    const events = (await ctx.store.listAudit({ limit: 20 })).filter(
      (e) => e.action === 'release.collected',
    );
    expect(events.map((e) => e.detail.removed)).toEqual([[digests[1]]]);
  },
);
