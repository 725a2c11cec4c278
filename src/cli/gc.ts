/**
 * `airlock gc`: garbage collection of releases on this machine (`pipeline/gc.ts` decides what is
 * kept), or of the shared artifact store with `--remote`; also run after a deployment when `releases.gcAfterDeploy` holds (`reportAutoGc`).
 */

import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AirlockContext } from '../pipeline/context.ts';
import { collectGarbage, collectRemoteGarbage, type GcResult } from '../pipeline/gc.ts';
import { artifactDigestLabel } from '../releases/digest-label.ts';
import type { CommandIO } from './command-io.ts';
import type { Reporter } from './reporter.ts';
import { withSession } from './session.ts';

/** `12.3 MB` (powers of 1000, as `du --si`). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

function summary(result: GcResult, dryRun: boolean): string {
  const verb = dryRun ? 'would free' : 'freed';
  return `${verb} ${formatBytes(result.freedBytes)}: ${result.copies.length} environment ${result.copies.length === 1 ? 'copy' : 'copies'}, ${result.artifacts.length} stored ${result.artifacts.length === 1 ? 'artifact' : 'artifacts'}${dryRun ? '' : `, ${result.objects} ${result.objects === 1 ? 'file' : 'files'}`}.`;
}

/** One line per environment: the releases kept there, each with the reason. */
function reportKept(reporter: Reporter, kept: Record<string, Record<string, string>>): void {
  for (const [environment, releases] of Object.entries(kept)) {
    const list = Object.entries(releases)
      .map(([id, why]) => `${id} (${why})`)
      .join(', ');
    reporter.info(`${environment} keeps ${list || 'nothing'}`);
  }
}

/** `airlock gc --remote`: the shared artifact store's collection, one line per artifact removed. */
async function remoteGc(ctx: AirlockContext, reporter: Reporter, dryRun: boolean): Promise<void> {
  const result = await collectRemoteGarbage(ctx, { dryRun });
  reportKept(reporter, result.keptReleases);
  for (const digest of result.removed)
    reporter.note(`${dryRun ? 'would remove' : 'removed'} ${artifactDigestLabel(digest)}`);
  if (result.unknown.length)
    reporter.info(
      `${result.unknown.length} ${result.unknown.length === 1 ? 'artifact' : 'artifacts'} in ${result.store} ${result.unknown.length === 1 ? 'is' : 'are'} not named by this project's state: left alone.`,
    );
  const blobs = result.blobs
    ? `, ${result.blobs.count} ${result.blobs.count === 1 ? 'blob' : 'blobs'} (${formatBytes(result.blobs.bytes)})`
    : "; their blobs go at the registry's own garbage collection";
  reporter.success(
    `${result.store}: ${dryRun ? 'would remove' : 'removed'} ${result.removed.length} ${result.removed.length === 1 ? 'artifact' : 'artifacts'}${blobs}; kept ${result.kept.length}.`,
  );
  reporter.result({ gc: { ...result, dryRun } });
}

export async function gcCommand(
  io: CommandIO,
  opts: { dryRun?: boolean; remote?: boolean },
): Promise<number> {
  return withSession(io, async (session) => {
    const dryRun = opts.dryRun === true;
    if (opts.remote) {
      await remoteGc(session.ctx, io.reporter, dryRun);
      return 0;
    }
    const result = await collectGarbage(session.ctx, { dryRun });
    const reporter = io.reporter;
    reportKept(reporter, result.kept);
    for (const environment of result.skipped)
      reporter.warn(
        `${environment} is locked by another command: its copies are left for the next \`airlock gc\`.`,
      );
    for (const copy of result.copies)
      reporter.note(`${dryRun ? 'would remove' : 'removed'} ${copy}`);
    reporter.success(summary(result, dryRun));
    reporter.result({ gc: { ...result, dryRun } });
    return 0;
  });
}

/**
 * How often the garbage collection runs after deployments (ms): at most once an hour per Airlock
 * home, so a burst of deployments pays for it once (a collection reads every manifest and lists
 * the store: about 0.3 s of CPU on a small project, which every promotion would otherwise carry).
 */
export const AUTO_GC_INTERVAL_MS = 60 * 60 * 1000;

/**
 * The garbage collection after a successful deployment (`releases.gcAfterDeploy`), at most once
 * per {@link AUTO_GC_INTERVAL_MS} (the time of the last one is `<home>/gc-last`): one line, and
 * never a failed command (a deployment that succeeded stays a success).
 */
export async function gcAfterDeploy(ctx: AirlockContext, reporter: Reporter): Promise<void> {
  if (!ctx.config.releases.gcAfterDeploy) return;
  const stamp = path.join(ctx.home, 'gc-last');
  const last = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (Date.now() - last < AUTO_GC_INTERVAL_MS) return;
  try {
    writeFileSync(stamp, `${ctx.now().toISOString()}\n`);
    const result = await collectGarbage(ctx);
    if (result.freedBytes > 0 || result.copies.length > 0)
      reporter.note(`garbage collection ${summary(result, false)}`);
  } catch (error) {
    reporter.warn(
      `garbage collection after the deployment failed (${(error as Error).message}); run \`airlock gc\`.`,
    );
  }
}
