/**
 * Releases: built once per commit in a clean worktree, content-addressed, dirty trees marked,
 * and the bytes re-verified at every deployment.
 */

import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestTree } from '../../src/releases/tree-digest.ts';
import { projectTest } from '../helpers/fixtures.ts';
import { liveVersion, projectHome } from '../helpers/project.ts';

describe('digestTree', () => {
  it('depends on every byte, path and executable bit, not on creation order', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-digest-'));
    const make = (name: string, files: Array<[string, string]>) => {
      const root = path.join(dir, name);
      for (const [rel, content] of files) {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), content);
      }
      return root;
    };
    const a = make('a', [
      ['x.js', '1'],
      ['lib/y.js', '2'],
    ]);
    const b = make('b', [
      ['lib/y.js', '2'],
      ['x.js', '1'],
    ]);
    const c = make('c', [
      ['x.js', '1'],
      ['lib/y.js', '3'],
    ]);
    const d = make('d', [
      ['x.js', '1'],
      ['lib/z.js', '2'],
    ]);
    const e = make('e', [
      ['x.js', '1'],
      ['lib/y.js', '2'],
    ]);
    chmodSync(path.join(e, 'x.js'), 0o755);
    const [da, db, dc, dd, de] = await Promise.all([a, b, c, d, e].map((dir) => digestTree(dir)));
    expect(da?.digest).toBe(db?.digest);
    expect(da).toMatchObject({ bytes: 2, files: 2 });
    expect(new Set([da?.digest, dc?.digest, dd?.digest, de?.digest]).size).toBe(4);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('airlock build', () => {
  projectTest(
    'refuses an output with a symbolic link that leaves it, unless allowed on purpose (then audited)',
    async ({ project }) => {
      const script = readFileSync(path.join(project.dir, 'scripts/build.mjs'), 'utf8');
      project.commitFiles(
        {
          'scripts/build.mjs': `${script}\nimport { symlinkSync as linkOut } from 'node:fs';\nlinkOut('/etc/hostname', 'dist/hostname');\n`,
        },
        'A build that links out of its output',
      );
      const refused = await project.cli(['build']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        'the build output of notes holds a symbolic link pointing outside it (hostname → /etc/hostname)',
      );
      expect(refused.stderr).toContain('services.notes.build.allowLinksOutside: true');

      project.editConfig((doc) =>
        doc.setIn(['services', 'notes', 'build', 'allowLinksOutside'], true),
      );
      const built = await project.cli(['build', '--json']);
      expect(built.code, built.stderr).toBe(0);
      const history = JSON.parse((await project.cli(['history', '--json'])).stdout);
      const event = history.events.find((e: { action: string }) => e.action === 'release.built');
      expect(event.detail.linksOutside).toEqual({
        notes: [{ link: 'hostname', target: '/etc/hostname' }],
      });
    },
  );

  projectTest(
    'builds the commit once in a clean checkout, and reuses the release afterwards',
    async ({ project }) => {
      const first = await project.cli(['build', '--json']);
      expect(first.code).toBe(0);
      const r1 = JSON.parse(first.stdout);
      expect(r1).toMatchObject({ ok: true, reused: false, release: { id: 'r1', dirty: false } });
      expect(r1.release.digest).toMatch(/^[0-9a-f]{64}$/);
      // The working tree was not touched: the build ran in a worktree.
      expect(readdirSync(project.dir)).not.toContain('dist');
      const artifact = r1.release.services.notes.digest;
      expect(readdirSync(path.join(projectHome(project.dir), 'artifacts/manifests'))).toContain(
        `${artifact}.json.gz`,
      );
      const again = JSON.parse((await project.cli(['build', '--json'])).stdout);
      expect(again).toMatchObject({ reused: true, release: { id: 'r1' } });
      // A deterministic build of the same commit gives the same content: still r1.
      const rebuilt = JSON.parse((await project.cli(['build', '--rebuild', '--json'])).stdout);
      expect(rebuilt).toMatchObject({
        reused: true,
        release: { id: 'r1', digest: r1.release.digest },
      });
    },
  );

  projectTest(
    'builds uncommitted changes as a dirty release and says so loudly',
    async ({ project }) => {
      writeFileSync(path.join(project.dir, 'src/extra.js'), 'export const extra = 1;\n');
      writeFileSync(path.join(project.dir, 'README.md'), '# changed\n', { flag: 'a' });
      const { code, stdout, stderr } = await project.cli(['build']);
      expect(code).toBe(0);
      expect(stderr).toMatch(
        /UNCOMMITTED CHANGES: building the working tree, not commit [0-9a-f]{7}\. This release is marked dirty/,
      );
      expect(stderr).toContain('src/extra.js');
      expect(stderr).toMatch(/changed: (README\.md, src\/extra\.js|src\/extra\.js, README\.md)\)/);
      expect(stdout).toMatch(/Built release r1: commit [0-9a-f]{7} \(DIRTY\)/);
    },
  );

  projectTest(
    'reuses the clean release of a commit after a dirty build of the same commit',
    async ({ project }) => {
      // A build that is not reproducible (it stamps the time): building again is a new release.
      const script = readFileSync(path.join(project.dir, 'scripts/build.mjs'), 'utf8');
      project.commitFiles(
        {
          'scripts/build.mjs': `${script}\nimport { writeFileSync as stamp } from 'node:fs';\nstamp('dist/built-at.txt', String(process.hrtime.bigint()));\n`,
        },
        'Stamp the build time',
      );
      const clean = JSON.parse((await project.cli(['build', '--json'])).stdout);
      expect(clean).toMatchObject({ reused: false, release: { id: 'r1', dirty: false } });

      const extra = path.join(project.dir, 'src/extra.js');
      writeFileSync(extra, 'export const extra = 1;\n');
      const dirty = JSON.parse((await project.cli(['build', '--json'])).stdout);
      expect(dirty).toMatchObject({ reused: false, release: { id: 'r2', dirty: true } });
      expect(dirty.release.commit).toBe(clean.release.commit);

      rmSync(extra);
      const again = await project.cli(['build']);
      expect(again.code, again.stderr).toBe(0);
      expect(`${again.stdout}${again.stderr}`).toContain(
        `r1 is already built from ${clean.release.commit.slice(0, 7)}; reusing it`,
      );
      expect(again.stdout).toMatch(/Release r1: commit [0-9a-f]{7},/);
    },
  );

  projectTest(
    'builds an older commit with --commit, from that commit, not the working tree',
    async ({ project }) => {
      project.commit('2-pinned-notes');
      const head = JSON.parse((await project.cli(['build', '--json'])).stdout);
      expect(
        head.release.services.notes.migrations.map((m: { version: number }) => m.version),
      ).toEqual([1, 2, 3]);
      const old = JSON.parse((await project.cli(['build', '--commit', 'HEAD~1', '--json'])).stdout);
      expect(old.release.id).toBe('r2');
      expect(old.release.services.notes.migrations).toHaveLength(2);
    },
  );

  projectTest(
    'refuses to build a commit whose migrations do not match airlock.sum, naming the file',
    async ({ project }) => {
      const file = 'migrations/0002_add_notes_updated_at.sql';
      const original = readFileSync(path.join(project.dir, file), 'utf8');
      project.commitFiles(
        { [file]: `${original}-- a comment added without re-hashing\n` },
        'Edit an applied migration',
        { hash: false },
      );
      const edited = await project.cli(['build']);
      expect(edited.code).not.toBe(0);
      expect(edited.stderr).toMatch(
        /commit [0-9a-f]{7}: 0002_add_notes_updated_at\.sql changed since airlock\.sum was written/,
      );
      expect(edited.stderr).toContain('git checkout -- migrations/0002_add_notes_updated_at.sql');
      expect(edited.stderr).not.toContain('airlock-checkout-');
      // Refused before the build command ran: it wrote no build log.
      const logs = path.join(projectHome(project.dir), 'logs');
      const sha = execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: project.dir,
        encoding: 'utf8',
      }).trim();
      expect(existsSync(path.join(logs, `build-${sha.slice(0, 12)}-notes.log`))).toBe(false);
    },
  );

  projectTest(
    'refuses to deploy an artifact whose bytes changed on disk; the old release keeps serving',
    async ({ project }) => {
      expect((await project.cli(['deploy', 'staging'])).code).toBe(0); // r1
      project.commit('2-pinned-notes');
      expect((await project.cli(['build'])).code).toBe(0); // r2
      const { ctx } = await project.session();
      const r2 = (await ctx.store.findRelease('r2'))!;
      // The store keeps each file once, read-only, named by its sha256: write into one.
      const manifest = await ctx.artifacts.manifest(r2.services.notes!.digest);
      const entry = manifest.entries.find((e) => e.path === 'server.js');
      if (entry?.kind !== 'file') throw new Error('server.js is not in the manifest');
      const object = ctx.artifacts.objectPath(entry.sha256, entry.mode);
      chmodSync(object, 0o644);
      writeFileSync(object, '// tampered\n', { flag: 'a' });
      const { code, stdout } = await project.cli(['deploy', 'staging', '--release', 'r2']);
      expect(code).toBe(1);
      expect(stdout).toMatch(
        /✖ Preflight and verify r2 artifacts \(sha256\) .*was modified on disk/,
      );
      expect((await liveVersion(project.url('staging'))).release).toBe('r1');
    },
  );

  projectTest(
    'reports a failing build with its log, and a build that leaves no output',
    async ({ project }) => {
      project.editConfig((doc) =>
        doc.setIn(
          ['services', 'notes', 'build', 'command'],
          'echo compiling; echo "type error in x.ts" >&2; for f in 1 2 3 4 5 6; do echo "    at frame$f (x.js:$f:1)" >&2; done; exit 3',
        ),
      );
      const failed = await project.cli(['build', '--rebuild', '--json']);
      expect(failed.code).toBe(1);
      const error = JSON.parse(failed.stdout).error;
      expect(error).toMatchObject({
        code: 'BUILD_FAILED',
        message: expect.stringContaining('exited 3'),
      });
      expect(error.details.tail).toContain('type error in x.ts');
      // The cause is in the message itself, not only in the log; a stack trace's frames do
      // not push it out.
      expect(error.message).toContain('Its last lines:\n    compiling\n    type error in x.ts');
      expect(error.message.split('Its last lines:')[1]).not.toContain('at frame');
      expect(error.hint).toContain('It ran in a copy of the working tree.');
      expect(error.hint).toMatch(/Read the build log: .*build-[0-9a-f]{12}-dirty-notes\.log/);

      project.editConfig((doc) => doc.setIn(['services', 'notes', 'build', 'command'], 'true'));
      const empty = await project.cli(['build', '--rebuild', '--json']);
      expect(JSON.parse(empty.stdout).error).toMatchObject({
        code: 'BUILD_OUTPUT_MISSING',
        message: 'the build of notes succeeded but left no files in dist.',
      });
    },
  );
});
