import { usableDatabase, usableService } from '../../config/resolve.ts';
import type { ServiceState } from '../../providers/provider.ts';
import { artifactDigestLabel } from '../../releases/digest-label.ts';
import { serviceTarget } from '../context.ts';
import type { Step } from '../engine.ts';
import { type DeploymentRun, materializeService, warmCopyOf } from './deployment-run.ts';

/**
 * Preflight, then verifies every artifact of the release (what deploys is exactly what was
 * built: the environment's copy, or the store and a new copy made from it),
 * then lets the environment's provider refuse one it could not run (`Provider.verifyArtifact`:
 * a Node artifact without its dependencies), before migrations and the switch.
 */
export function verifyStep(d: DeploymentRun, title: string): Step {
  return {
    name: 'verify',
    title,
    when: 'on-success',
    async run(ctx) {
      let bytes = 0;
      let files = 0;
      const matched: string[] = [];
      // Preflight: everything that can be known before a side effect (variables the service
      // and its checks read, its database URL, the platform's own needs such as a free port or
      // credentials) is checked before any migration runs.
      const provider = d.ctx.providerFor(d.env);
      // What serves each service, asked once: the preflight and the warm-copy lookup share it.
      const described = new Map<string, ServiceState | null>();
      for (const service of Object.keys(d.release.services)) {
        const settings = d.env.services[service];
        if (!settings) continue;
        usableService(settings);
        if (settings.database) usableDatabase(settings.database);
        const target = serviceTarget(d.ctx.config, d.env, service);
        const state = await provider.describe(target).catch(() => null);
        described.set(service, state);
        await provider.preflight?.(target, state);
      }
      for (const [service, artifact] of Object.entries(d.release.services)) {
        ctx.progress(`${service}: ${artifactDigestLabel(artifact.digest)}`);
        bytes += artifact.bytes;
        files += artifact.files;
        if (artifact.migrationsDigest) await d.ctx.artifacts.verify(artifact.migrationsDigest);
        if (!d.env.services[service]) {
          await d.ctx.artifacts.verify(artifact.digest);
        } else {
          // A warm process of the release runs from a copy verified when it started: the switch
          // goes back to it without reading the files again.
          const warm = await warmCopyOf(d, d.release, service, described.get(service) ?? null);
          if (warm) {
            matched.push(
              `${service} ${artifactDigestLabel(artifact.digest)} (warm: verified when its process started)`,
            );
            continue;
          }
          // The environment's copy is made here (links: cheap) and verified: an existing copy
          // that digests right needs nothing more; otherwise the store is verified and a new
          // copy made. The provider judges the folder that will run; the switch reuses it.
          const dir = await materializeService(d, d.release, service);
          if (provider.verifyArtifact)
            await provider.verifyArtifact(serviceTarget(d.ctx.config, d.env, service), dir);
        }
        // The artifact digest is the one `airlock build` printed and the app reports as
        // AIRLOCK_DIGEST; the release digest (over artifacts and migrations) is in `output`.
        matched.push(`${service} ${artifactDigestLabel(artifact.digest)}`);
      }
      return {
        status: 'succeeded',
        message: `${files} files, ${(bytes / 1024).toFixed(1)} KiB match ${matched.join(', ')}`,
        output: { digest: d.release.digest, bytes, files },
      };
    },
  };
}
