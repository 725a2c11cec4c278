import { buildForContext } from '../pipeline/decide.ts';
import type { BuildProgress } from '../releases/build.ts';
import { artifactDigestLabel, releaseDigestLabel } from '../releases/digest-label.ts';
import type { CommandIO } from './command-io.ts';
import type { Reporter } from './reporter.ts';
import { formatDuration } from './reporter.ts';
import { withSession } from './session.ts';

/** Renders build progress: a loud warning for a dirty tree, one line per service. */
export function buildProgressPrinter(reporter: Reporter): (p: BuildProgress) => void {
  return (p) => {
    switch (p.type) {
      case 'source':
        if (p.dirty) {
          reporter.warn(
            `UNCOMMITTED CHANGES: building the working tree, not commit ${p.commit.slice(0, 7)}. This release is marked dirty and cannot be rebuilt from git (${p.dirtyFiles.length} changed: ${p.dirtyFiles.slice(0, 5).join(', ')}${p.dirtyFiles.length > 5 ? ', …' : ''}).`,
          );
        }
        return;
      case 'reused':
        reporter.note(
          `  ${p.release.id} is already built from ${p.release.commit.slice(0, 7)}; reusing it`,
        );
        return;
      case 'not-stored':
        reporter.warn(
          `${p.release.id} was built from ${p.release.commit.slice(0, 7)} on another machine, and ${p.missing.length === 1 ? 'one of its artifacts is' : `${p.missing.length} of its artifacts are`} not stored here (no shared artifact store is configured): building the commit here.`,
        );
        return;
      case 'differs':
        reporter.warn(
          `This build of ${p.release.commit.slice(0, 7)} differs from ${p.release.id} (${releaseDigestLabel(p.release.digest)}, built on another machine): it becomes a release of its own. Deploying one release from several machines needs a shared artifact store (\`artifacts:\` in airlock.yaml), or a build that gives the same bytes each time.`,
        );
        return;
      case 'service-start':
        reporter.info(`▸ Building ${p.service}: ${p.command}`);
        return;
      case 'line':
        if (reporter.verbose) reporter.note(`    ${p.line}`);
        return;
      case 'service-done':
        reporter.success(
          `${p.service}: ${p.files} files, ${(p.bytes / 1024).toFixed(1)} KiB, ${artifactDigestLabel(p.digest)} [${formatDuration(p.ms)}]`,
        );
        return;
    }
  };
}

export async function buildCommand(
  io: CommandIO,
  opts: { commit?: string; rebuild?: boolean },
): Promise<number> {
  return withSession(io, async (session) => {
    const { ctx } = session;
    const result = await buildForContext(ctx, {
      signal: io.signal,
      onProgress: buildProgressPrinter(io.reporter),
      ...(opts.commit ? { commit: opts.commit } : {}),
      ...(opts.rebuild ? { rebuild: true } : {}),
    });
    const r = result.release;
    io.reporter.success(
      `${result.reused ? 'Release' : 'Built release'} ${r.id}: commit ${r.commit.slice(0, 7)}${r.dirty ? ' (DIRTY)' : ''}, ${releaseDigestLabel(r.digest)}`,
    );
    io.reporter.result({ release: r, reused: result.reused });
    return 0;
  });
}
