/**
 * What a deployment says about a migration that fails or that was edited after it ran, and
 * what `airlock migrate hash` says about such an edit: advice that works in a project whose
 * releases are built from commits (the edit is committed), followed here to the end. The
 * example app on real SQLite databases, through the real CLI.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { projectTest, stagedProjectTest } from '../helpers/fixtures.ts';
import {
  type CliResult,
  ledgerVersions,
  notesDatabase,
  type TestProject,
} from '../helpers/project.ts';

const EDITED = 'migrations/0002_add_notes_updated_at.sql';

/** Fails with the command's output, so a failing test says why. */
function expectCode(result: CliResult, code: number): string {
  const output = `${result.stdout}${result.stderr}`;
  expect(result.code, output).toBe(code);
  return output;
}

const git = (project: TestProject, ...args: string[]) =>
  execFileSync('git', args, { cwd: project.dir, encoding: 'utf8' }).trim();

describe('a migration that fails on the first environment', () => {
  stagedProjectTest(
    'says to fix the file, re-hash, commit and deploy again, which then succeeds',
    async ({ project }) => {
      // Two notes with one title on staging: a unique index on titles fails there (the lint,
      // which replays the files into an empty database, cannot see it).
      const staging = new DatabaseSync(notesDatabase(project, 'staging'));
      staging.exec(
        "INSERT INTO notes (title, created_at) VALUES ('same', '2026-12-01'), ('same', '2026-12-02')",
      );
      staging.close();
      project.commitFiles(
        {
          'migrations/0003_unique_titles.sql':
            'CREATE UNIQUE INDEX notes_title ON notes (title);\n',
        },
        'Titles are unique',
      );
      const failed = expectCode(await project.cli(['deploy', 'staging']), 1);
      expect(failed).toContain('Migration migrations/0003_unique_titles.sql failed');
      expect(failed).toContain('UNIQUE constraint failed: notes.title');
      expect(failed).toContain(
        "Fix the SQL in 0003_unique_titles.sql, then run `airlock migrate hash` (it records the file's new checksum in airlock.sum), commit both, and deploy again (`airlock deploy staging`).",
      );
      expect(failed).not.toContain('airlock migrate apply');
      expect(ledgerVersions(project, 'staging')).toEqual([1, 2]);

      // The advice, followed.
      project.commitFiles(
        { 'migrations/0003_unique_titles.sql': 'CREATE INDEX notes_title ON notes (title);\n' },
        'Titles are indexed',
        { hash: false },
      );
      expectCode(await project.cli(['migrate', 'hash']), 0);
      project.commitFiles({}, 'Re-hash');
      expectCode(await project.cli(['deploy', 'staging']), 0);
      expect(ledgerVersions(project, 'staging')).toEqual([1, 2, 3]);
    },
  );
});

describe('an applied migration edited and committed', () => {
  stagedProjectTest(
    'hash warns that deploying stays refused; the refusal names the commit to restore it from, which works',
    async ({ project, r1 }) => {
      const ranAt = git(project, 'rev-parse', 'HEAD');
      appendFileSync(
        path.join(project.dir, EDITED),
        'CREATE INDEX notes_updated ON notes (updated_at);\n',
      );

      // Re-hashing records the edit in airlock.sum, but says a deployment is still refused.
      const hashed = await project.cli(['migrate', 'hash']);
      const warning = expectCode(hashed, 0);
      expect(hashed.stdout).toContain('~ 0002_add_notes_updated_at.sql (changed)');
      expect(hashed.stderr).toContain(
        "0002_add_notes_updated_at.sql already ran on staging with its old content, and staging's ledger keeps that checksum: airlock.sum now records the edit, but a deployment with it (`airlock deploy staging`, or `airlock migrate apply staging`) is still refused.",
      );
      expect(warning).toContain(
        `as ${r1} ran it (\`git checkout ${ranAt.slice(0, 12)} -- ${EDITED}\`)`,
      );
      project.commitFiles({}, 'Index updated_at in 0002');

      const refused = expectCode(await project.cli(['deploy', 'staging']), 1);
      expect(refused).toContain(`Migration ${EDITED} was edited after it was applied`);
      expect(refused).toContain(
        `Never edit an applied migration: the ledger keeps the checksum it ran with. Restore 0002_add_notes_updated_at.sql as ${r1} ran it (\`git checkout ${ranAt.slice(0, 12)} -- ${EDITED}\`), run \`airlock migrate hash\`, and put the change in a new migration (\`airlock migrate create <name>\`).`,
      );
      // The edit is committed: a bare `git checkout -- <file>` would restore nothing.
      expect(refused).not.toContain(`git checkout -- ${EDITED}`);

      // The advice, followed: the file as r1 ran it, re-hashed, committed, deployed.
      git(project, 'checkout', ranAt.slice(0, 12), '--', EDITED);
      expectCode(await project.cli(['migrate', 'hash']), 0);
      project.commitFiles({}, 'Restore 0002 as it ran');
      expectCode(await project.cli(['deploy', 'staging']), 0);
    },
  );

  projectTest(
    'applied by hand (no release in the ledger): the refusal says how to find the edit in git',
    async ({ project }) => {
      expectCode(await project.cli(['migrate', 'apply', 'staging']), 0);
      appendFileSync(path.join(project.dir, EDITED), '-- edited\n');
      expectCode(await project.cli(['migrate', 'hash']), 0);
      project.commitFiles({}, 'Edit 0002');
      const refused = expectCode(await project.cli(['deploy', 'staging']), 1);
      expect(refused).toContain(
        `Restore 0002_add_notes_updated_at.sql as it ran (\`git checkout -- ${EDITED}\` if the edit is not committed; if it is, \`git log -p -- ${EDITED}\` shows the commit that made it: \`git checkout <commit>~1 -- ${EDITED}\`, or \`git revert <commit>\`)`,
      );
    },
  );
});
