/**
 * A migration that ran on staging and fails on production's data: the promotion says the two
 * ways out (do not edit the file); after the change is made on production by hand,
 * `airlock migrate resolve production <file> --applied -m why` records it without running it,
 * on the record, and the same release is then promoted. The example app on real SQLite
 * databases, through the real CLI.
 */
import { DatabaseSync } from 'node:sqlite';
import { describe, expect } from 'vitest';
import { deploy } from '../../src/pipeline/operations.ts';
import type { AuditEvent } from '../../src/state/state-store.ts';
import { promotedProjectTest, stageAndApprove } from '../helpers/fixtures.ts';
import { ledgerVersions, notesDatabase, type TestProject } from '../helpers/project.ts';

const UNIQUE_TITLES = '0003_unique_titles.sql';

/** `airlock migrate resolve <args>`. */
function resolve(project: TestProject, ...args: string[]) {
  return project.cli(['migrate', 'resolve', ...args]);
}

/** Two notes with one title on production only: a unique index on titles fails there alone. */
function duplicateTitlesOnProduction(project: TestProject): void {
  const production = new DatabaseSync(notesDatabase(project, 'production'));
  production.exec(
    "INSERT INTO notes (title, created_at) VALUES ('same', '2026-12-01'), ('same', '2026-12-02')",
  );
  production.close();
}

describe('a migration that ran on staging and fails on production', () => {
  promotedProjectTest(
    'says the ways out; resolved by hand on production, the same release is promoted, on the record',
    async ({ project }) => {
      duplicateTitlesOnProduction(project);
      project.commitFiles(
        { [`migrations/${UNIQUE_TITLES}`]: 'CREATE UNIQUE INDEX notes_title ON notes (title);\n' },
        'Titles are unique',
      );
      await stageAndApprove(project); // r2 on staging, where the file ran
      expect(ledgerVersions(project, 'staging')).toEqual([1, 2, 3]);

      const failed = await project.cli(['promote', 'production', '--yes']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toContain('UNIQUE constraint failed: notes.title');
      expect(failed.stdout).toContain(`${UNIQUE_TITLES} ran on staging (`);
      expect(failed.stdout).toContain("fails on production's data or schema. Do not edit it");
      expect(failed.stdout).toContain(
        `\`airlock migrate resolve production ${UNIQUE_TITLES} --applied -m "<what you did>"\``,
      );
      expect(ledgerVersions(project, 'production')).toEqual([1, 2]);

      // Refused: without --applied, without a reason, a file staging has not run, twice.
      const bare = await resolve(project, 'production', '3', '-m', 'x');
      expect(bare.code).toBe(2); // a usage error
      expect(bare.stderr).toContain(
        '`--applied` records the migration as applied, running nothing',
      );
      const blank = await resolve(project, 'production', '3', '--applied', '-m', ' ');
      expect(blank.code).toBe(2);
      expect(blank.stderr).toContain('-m must say what was done by hand');
      const unknown = await resolve(project, 'production', '9', '--applied', '-m', 'x');
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('there is no migration 9');

      // The equivalent change, by hand on production: the duplicate renamed, then the index.
      const byHand = new DatabaseSync(notesDatabase(project, 'production'));
      byHand.exec(
        "UPDATE notes SET title = 'same (2)' WHERE created_at = '2026-12-02'; CREATE UNIQUE INDEX notes_title ON notes (title);",
      );
      byHand.close();
      const resolved = await resolve(
        project,
        'production',
        UNIQUE_TITLES,
        '--applied',
        '-m',
        'renamed the duplicate title, then created the index',
        '--json',
        '--yes',
      ); // --yes: production is protected
      expect(resolved.code, resolved.stderr).toBe(0);
      expect(JSON.parse(resolved.stdout)).toMatchObject({
        ok: true,
        environment: 'production',
        service: 'notes',
        resolved: { file: UNIQUE_TITLES, version: 3, durationMs: 0, release: null },
      });
      expect(ledgerVersions(project, 'production')).toEqual([1, 2, 3]);
      const again = await resolve(project, 'production', '0003', '--applied', '-m', 'again');
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`${UNIQUE_TITLES} is already in production's ledger`);

      // Nothing pending on production now: the same release is promoted.
      const promoted = await project.cli(['promote', 'production', '--yes', '--json']);
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(JSON.parse(promoted.stdout).release.id).toBe('r2');

      const history = await project.cli(['history', 'production', '--json', '--limit', '100']);
      const events = (JSON.parse(history.stdout) as { events: AuditEvent[] }).events;
      const resolution = events.find((e) => e.action === 'migrations.resolved');
      expect(resolution).toMatchObject({
        environment: 'production',
        result: 'ok',
        detail: {
          service: 'notes',
          file: UNIQUE_TITLES,
          version: 3,
          resolution: 'applied',
          message: 'renamed the duplicate title, then created the index',
          previous: 'staging',
        },
      });
    },
  );

  promotedProjectTest(
    'the files that ran before the failing one are on the record',
    async ({ project }) => {
      duplicateTitlesOnProduction(project);
      project.commitFiles(
        {
          'migrations/0003_add_notes_pinned.sql': 'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n',
          'migrations/0004_unique_titles.sql':
            'CREATE UNIQUE INDEX notes_title ON notes (title);\n',
        },
        'Pinned notes, unique titles',
      );
      const dev = await stageAndApprove(project);
      expect((await deploy(dev, 'production', {})).status).toBe('failed');
      expect(ledgerVersions(project, 'production')).toEqual([1, 2, 3]);
      const applied = (await dev.store.listAudit({ environment: 'production', limit: 100 })).filter(
        (e) => e.action === 'migrations.applied',
      );
      expect(
        applied.map((e) => (e.detail.applied as Array<{ version: number }>).map((a) => a.version)),
      ).toContainEqual([3]);
    },
  );

  promotedProjectTest(
    'refuses a file staging has not run with the same bytes (staging first)',
    async ({ project }) => {
      project.commitFiles(
        { [`migrations/${UNIQUE_TITLES}`]: 'CREATE UNIQUE INDEX notes_title ON notes (title);\n' },
        'Titles are unique',
      );
      const refused = await resolve(
        project,
        'production',
        UNIQUE_TITLES,
        '--applied',
        '-m',
        'done by hand',
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('not applied on staging');
      expect(ledgerVersions(project, 'production')).toEqual([1, 2]);
    },
  );
});
