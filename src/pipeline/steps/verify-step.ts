import type { Step } from '../engine.ts';
import type { DeploymentRun } from './deployment-run.ts';

/** Re-digests every stored artifact of the release: what deploys is exactly what was built. */
export function verifyStep(d: DeploymentRun, title: string): Step {
  return {
    name: 'verify',
    title,
    when: 'on-success',
    async run(ctx) {
      let bytes = 0;
      let files = 0;
      const matched: string[] = [];
      for (const [service, artifact] of Object.entries(d.release.services)) {
        ctx.progress(`${service}: sha256:${artifact.digest.slice(0, 12)}`);
        const tree = await d.ctx.artifacts.verify(artifact.digest);
        bytes += tree.bytes;
        files += tree.files;
        if (artifact.migrationsDigest) await d.ctx.artifacts.verify(artifact.migrationsDigest);
        // The artifact digest is the one `airlock build` printed and the app reports as
        // AIRLOCK_DIGEST; the release digest (over artifacts and migrations) is in `output`.
        matched.push(`${service} sha256:${artifact.digest.slice(0, 12)}`);
      }
      return {
        status: 'succeeded',
        message: `${files} files, ${(bytes / 1024).toFixed(1)} KiB match ${matched.join(', ')}`,
        output: { digest: d.release.digest, bytes, files },
      };
    },
  };
}
