/**
 * `airlock build`: a release is built once, from one commit, in a clean checkout (a git
 * worktree), and its outputs are stored content-addressed. With uncommitted changes and no
 * `--commit`, the working tree is built instead and the release is marked dirty, loudly.
 * (Heroku: build once, promote the slug; Google Cloud Deploy: a release is
 * immutable.)
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedConfig } from '../config/resolve.ts';
import { UserError } from '../errors.ts';
import { directivesOf } from '../migrations/directives.ts';
import { readSumFile, verifyIntegrity } from '../migrations/integrity.ts';
import { readMigrationDir } from '../migrations/migration-files.ts';
import type { MigrationFolderLayout } from '../migrations/migration-layouts.ts';
import { childEnvironment } from '../process/child-env.ts';
import { runShell } from '../process/shell.ts';
import { audit } from '../state/audit.ts';
import type { Release, ReleaseArtifact, StateStore } from '../state/state-store.ts';
import type { ArtifactStore } from './artifact-store.ts';
import { withCommitCheckout } from './checkout.ts';
import { commitSubject, git, repoRoot, resolveCommit, uncommittedChanges } from './git.ts';

export type BuildProgress =
  | { type: 'source'; commit: string; dirty: boolean; dirtyFiles: string[] }
  | { type: 'reused'; release: Release }
  /**
   * The commit's clean release was built on another machine and its artifacts are neither here
   * nor in a shared store: the commit is built here again.
   */
  | { type: 'not-stored'; release: Release; missing: string[] }
  /** Built here again, the commit gave other bytes than `release` (a build that is not reproducible). */
  | { type: 'differs'; release: Release; digest: string }
  | { type: 'service-start'; service: string; command: string }
  | { type: 'line'; service: string; line: string }
  | {
      type: 'service-done';
      service: string;
      digest: string;
      bytes: number;
      files: number;
      ms: number;
    };

export interface BuildReleaseOptions {
  config: ResolvedConfig;
  store: StateStore;
  artifacts: ArtifactStore;
  /** The project's Airlock home (build logs go to `logs/`). */
  home: string;
  actor: string;
  /** Commit-ish to build. Default: HEAD, or the working tree when it has uncommitted changes. */
  commit?: string;
  /** Build even when a clean release of this commit already exists. */
  rebuild?: boolean;
  now?: () => Date;
  signal?: AbortSignal;
  onProgress?: (progress: BuildProgress) => void;
  /**
   * The first environment's provider turning a service's build output into what it deploys
   * (`Provider.packageRelease`: push one image, record its digest in the output), before the
   * artifact is stored, so that becomes part of the release.
   */
  packageRelease?: (
    service: string,
    outputDir: string,
    release: { commit: string; dirty: boolean; sourceDir: string },
    onLine: (line: string) => void,
  ) => Promise<void>;
}

export interface BuildResult {
  release: Release;
  /** True when an existing release was used (nothing built, or identical content). */
  reused: boolean;
  dirtyFiles: string[];
}

/** sha256 of a release: over each service's artifact and migrations digests, by service name. */
export function releaseDigest(services: Record<string, ReleaseArtifact>): string {
  const canonical = Object.keys(services)
    .sort()
    .map((name) => {
      const s = services[name] as ReleaseArtifact;
      return `${name}\0${s.digest}\0${s.migrationsDigest ?? '-'}`;
    })
    .join('\n');
  return createHash('sha256').update(canonical).digest('hex');
}

/** Copies the tracked and untracked-but-not-ignored files of a repository into `dest`. */
/** A symbolic link of a build output and where it points (relative to the output). */
export interface OutsideLink {
  link: string;
  target: string;
}

/**
 * The symbolic links under `output` whose target, resolved from the link's folder, is outside
 * `output` (`../../etc/passwd`, `/etc/ssl`). A release carries only its own files.
 */
export function linksLeaving(output: string): OutsideLink[] {
  const root = path.resolve(output);
  const out: OutsideLink[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const target = readlinkSync(full);
    const rel = path.relative(root, path.resolve(path.dirname(full), target));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      out.push({ link: path.relative(root, full), target });
  }
  return out.sort((a, b) => (a.link < b.link ? -1 : 1));
}

async function copyWorkingTree(root: string, dest: string): Promise<void> {
  const listing = await git(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
  const files = listing.split('\0').filter(Boolean);
  for (const rel of files) {
    const from = path.join(root, rel);
    const stat = statSync(from, { throwIfNoEntry: false });
    if (!stat?.isFile()) continue; // deleted in the working tree, or a submodule
    const to = path.join(dest, rel);
    await mkdir(path.dirname(to), { recursive: true });
    await copyFile(from, to);
  }
}

/** A line of a stack trace (`    at fn (file.js:1:2)`), as Node and pnpm print them. */
const STACK_FRAME = /^\s+at\s+\S/;

/**
 * Builds a release (or finds the existing one).
 * @throws UserError `NOT_A_GIT_REPO`, `RELEASE_NOT_FOUND` (unknown commit), `BUILD_FAILED`
 *   (the command exited non-zero; details.tail and the log path), `BUILD_OUTPUT_MISSING`,
 *   and the migration file errors (`MIGRATION_NAME_INVALID`, `MIGRATION_DUPLICATE`, `MIGRATION_GAP`).
 */
export async function buildRelease(options: BuildReleaseOptions): Promise<BuildResult> {
  const { config, store, artifacts } = options;
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? (() => {});
  const started = performance.now();
  const top = await repoRoot(config.dir);

  let sha: string;
  let dirtyFiles: string[] = [];
  if (options.commit) {
    sha = await resolveCommit(config.dir, options.commit);
  } else {
    sha = await resolveCommit(config.dir, 'HEAD').catch(() => {
      throw new UserError('NOT_A_GIT_REPO', `the repository at ${top} has no commits yet.`, {
        hint: 'Commit your project first: a release is a build of one commit.',
      });
    });
    dirtyFiles = await uncommittedChanges(config.dir);
  }
  const dirty = dirtyFiles.length > 0;
  progress({ type: 'source', commit: sha, dirty, dirtyFiles });

  // The commit's clean release (even when a dirty build of the same commit came after it),
  // when its bytes can be had here: another machine of the team may have built it.
  let elsewhere: Release | null = null;
  if (!dirty && !options.rebuild) {
    const existing = await store.findCleanRelease(sha);
    const missing = existing ? notStoredHere(existing, artifacts) : [];
    if (existing && missing.length === 0) {
      progress({ type: 'reused', release: existing });
      return { release: existing, reused: true, dirtyFiles };
    }
    if (existing) {
      progress({ type: 'not-stored', release: existing, missing });
      elsewhere = existing;
    }
  }

  const logDir = path.join(options.home, 'logs');
  await mkdir(logDir, { recursive: true });
  // Links out of an output kept on purpose (`build.allowLinksOutside`), per service: audited.
  const linksKept: Record<string, OutsideLink[]> = {};
  // The service's migration files, airlock.sum first: a conflicted merge or an edit without
  // re-hashing stops the build, naming the file, before a release is made of it (Atlas's
  // atlas.sum). The sum file is read before the folder: after a conflicted merge its conflict
  // markers explain the two 0007 files better than the duplicate number does.
  const checkedMigrations = (
    root: string,
    database: { migrations: string; layout?: MigrationFolderLayout },
  ) =>
    (async () => {
      const dir = path.join(root, database.migrations);
      await readSumFile(dir);
      const read = await readMigrationDir(dir, database.layout);
      await verifyIntegrity(dir, read);
      return read;
    })().catch((error: unknown) => {
      // Name the file as it is in the repository, not in the temporary checkout.
      if (error instanceof UserError)
        throw new UserError(
          error.code,
          `${dirty ? 'the working tree' : `commit ${sha.slice(0, 7)}`}: ${error.message.replaceAll(`${root}${path.sep}`, '')}`,
          { ...(error.hint ? { hint: error.hint } : {}), details: error.details },
        );
      throw error;
    });
  const buildAll = async (projectDir: string): Promise<Record<string, ReleaseArtifact>> => {
    const services: Record<string, ReleaseArtifact> = {};
    for (const name of config.services) {
      // Build settings are global-only, so any environment's copy is the service's.
      const first = config.environments[config.pipeline[0] as string];
      const service = first?.services[name];
      if (!service) continue;
      const root = path.join(projectDir, service.root);
      const logFile = path.join(
        logDir,
        `build-${sha.slice(0, 12)}${dirty ? '-dirty' : ''}-${name}.log`,
      );
      await rm(logFile, { force: true });
      // Checked before the build too, so a refused migration folder costs no build.
      if (service.database) await checkedMigrations(root, service.database);
      progress({ type: 'service-start', service: name, command: service.build.command });
      const result = await runShell(service.build.command, {
        cwd: root,
        env: childEnvironment(process.env, service.build.env, {
          AIRLOCK_COMMIT: sha,
          AIRLOCK_DIRTY: dirty ? '1' : '0',
          AIRLOCK_SERVICE: name,
        }),
        logFile,
        ...(options.signal ? { signal: options.signal } : {}),
        onLine: (line) => progress({ type: 'line', service: name, line }),
      });
      if (result.exitCode !== 0) {
        const how = result.spawnError
          ? `could not start (${result.spawnError})`
          : result.exitCode === null
            ? `was killed by ${result.signal}`
            : `exited ${result.exitCode}`;
        // Its last lines say why more often than not (the whole output is in the log); a
        // stack trace's frames say where, not why, and would push the error itself out.
        const last = result.tail
          .filter((line) => line.trim() !== '' && !STACK_FRAME.test(line))
          .slice(-5)
          .map((line) => (line.length > 200 ? `${line.slice(0, 199)}…` : line));
        const where = dirty
          ? 'It ran in a copy of the working tree.'
          : `It ran in a clean checkout of commit ${sha.slice(0, 7)}: files git does not track (a \`file:\` dependency's tarball, a local .env) are not there.`;
        throw new UserError(
          'BUILD_FAILED',
          `the build of ${name} (\`${service.build.command}\`) ${how}.${last.length > 0 ? ` Its last lines:\n    ${last.join('\n    ')}` : ''}`,
          {
            hint: `${where} Read the build log: ${logFile}. Fix the build, commit, and run \`airlock build\` again.`,
            details: { service: name, exitCode: result.exitCode, tail: result.tail, log: logFile },
          },
        );
      }
      const output = path.join(root, service.build.output);
      const isDir = statSync(output, { throwIfNoEntry: false })?.isDirectory();
      if (!isDir || (await readdir(output)).length === 0) {
        throw new UserError(
          'BUILD_OUTPUT_MISSING',
          `the build of ${name} succeeded but left no files in ${path.join(service.root, service.build.output)}.`,
          {
            hint: `Make \`${service.build.command}\` write its output there, or set services.${name}.build.output to the folder it writes.`,
          },
        );
      }
      const outside = linksLeaving(output);
      if (outside.length > 0 && !service.build.allowLinksOutside) {
        const [first] = outside;
        throw new UserError(
          'BUILD_LINK_OUTSIDE',
          `the build output of ${name} holds ${outside.length === 1 ? 'a symbolic link' : `${outside.length} symbolic links`} pointing outside it (${first?.link} → ${first?.target}); a release carries only its own files, so nothing was stored.`,
          {
            hint: `Copy what the link points to into ${path.join(service.root, service.build.output)} in the build (e.g. \`cp -L\`), or, when the target exists on every machine that runs the release, set services.${name}.build.allowLinksOutside: true (each such build is recorded in the audit log).`,
            details: { service: name, links: outside.slice(0, 20) },
          },
        );
      }
      if (outside.length > 0) linksKept[name] = outside.slice(0, 50);
      await options.packageRelease?.(
        name,
        output,
        { commit: sha, dirty, sourceDir: root },
        (line) => progress({ type: 'line', service: name, line }),
      );
      const tree = await artifacts.put(output);
      let migrationsDigest: string | null = null;
      let migrations: ReleaseArtifact['migrations'] = [];
      if (service.database) {
        const dir = path.join(root, service.database.migrations);
        const files = await checkedMigrations(root, service.database);
        migrations = files.map((f) => ({
          version: f.version,
          name: f.name,
          sha256: f.sha256,
          ...(directivesOf(f).contract ? { contract: true } : {}),
        }));
        if (existsSync(dir) && files.length > 0)
          migrationsDigest = (await artifacts.put(dir, { view: true })).digest;
      }
      services[name] = {
        digest: tree.digest,
        bytes: tree.bytes,
        files: tree.files,
        migrationsDigest,
        migrations,
      };
      progress({
        type: 'service-done',
        service: name,
        digest: tree.digest,
        bytes: tree.bytes,
        files: tree.files,
        ms: result.durationMs,
      });
    }
    return services;
  };

  let services: Record<string, ReleaseArtifact>;
  if (dirty) {
    const workdir = mkdtempSync(path.join(os.tmpdir(), 'airlock-build-'));
    try {
      await copyWorkingTree(top, workdir);
      services = await buildAll(path.join(workdir, path.relative(top, config.dir)));
    } finally {
      await rm(workdir, { recursive: true, force: true });
    }
  } else {
    services = await withCommitCheckout(config.dir, sha, buildAll, { fresh: true, worktree: true });
  }

  const digest = releaseDigest(services);
  const existing = await store.findReleaseByContent(sha, digest, dirty);
  if (existing) return { release: existing, reused: true, dirtyFiles };
  if (elsewhere) {
    // The same commit built here is not the same bytes: a new release, said plainly.
    progress({ type: 'differs', release: elsewhere, digest });
  }
  const subject = await commitSubject(config.dir, sha);
  const release = await store.insertRelease({
    digest,
    commit: sha,
    dirty,
    subject: dirty ? `${subject} (+ uncommitted changes)` : subject,
    createdAt: now().toISOString(),
    createdBy: options.actor,
    buildMs: Math.round(performance.now() - started),
    services,
  });
  await audit({ store, actor: options.actor, now }, 'release.built', {
    environment: null,
    releaseId: release.id,
    detail: {
      commit: sha,
      digest,
      dirty,
      ...(dirty ? { dirtyFiles: dirtyFiles.slice(0, 50) } : {}),
      ...(Object.keys(linksKept).length > 0 ? { linksOutside: linksKept } : {}),
    },
  });
  return { release, reused: false, dirtyFiles };
}

/**
 * The artifacts of `release` (each service's tree and migrations) this machine cannot read: not
 * in its store, and no shared store to pull them from. Empty when they can all be had.
 */
export function notStoredHere(release: Release, artifacts: ArtifactStore): string[] {
  if (artifacts.remote) return [];
  return Object.values(release.services)
    .flatMap((s) => [s.digest, ...(s.migrationsDigest ? [s.migrationsDigest] : [])])
    .filter((digest) => !artifacts.has(digest));
}
