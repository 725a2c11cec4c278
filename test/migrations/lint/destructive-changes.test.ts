/**
 * `destructiveChanges(file, engine)`: the list the pipeline uses for expand/contract decisions,
 * contract files included, with the same positions as lint's findings.
 */
import { describe, expect, it } from 'vitest';
import {
  destructiveChanges,
  lintMigrations,
} from '../../../src/migrations/lint/lint-migrations.ts';
import { migration, migrations } from './helpers.ts';

const NOTES =
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT, rank TEXT);\n';

describe.each(['sqlite', 'd1'] as const)('destructiveChanges on %s', (engine) => {
  it('lists every kind, with table, column, new name or type, and position', async () => {
    const earlier = migrations(
      NOTES,
      'CREATE TABLE tags (id INTEGER PRIMARY KEY, tag TEXT);\nCREATE VIEW v AS SELECT 1;\n',
    );
    const file = migration(
      3,
      `-- airlock:contract
ALTER TABLE notes RENAME COLUMN title TO name;
ALTER TABLE tags RENAME TO labels;
DROP VIEW v;
CREATE TABLE notes_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL, rank INTEGER);
INSERT INTO notes_new SELECT id, name, rank FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
DROP TABLE labels;
`,
    );
    const changes = await destructiveChanges(file, engine, { earlier });
    expect(
      changes.map(({ kind, table, column, to, line, col, contract }) => ({
        kind,
        table,
        column,
        to,
        line,
        col,
        contract,
      })),
    ).toEqual([
      {
        kind: 'rename-column',
        table: 'notes',
        column: 'title',
        to: 'name',
        line: 2,
        col: 19,
        contract: true,
      },
      {
        kind: 'rename-table',
        table: 'tags',
        column: undefined,
        to: 'labels',
        line: 3,
        col: 18,
        contract: true,
      },
      {
        kind: 'drop-view',
        table: 'v',
        column: undefined,
        to: undefined,
        line: 4,
        col: 1,
        contract: true,
      },
      {
        kind: 'drop-column',
        table: 'notes',
        column: 'body',
        to: undefined,
        line: 7,
        col: 1,
        contract: true,
      },
      {
        kind: 'change-column-type',
        table: 'notes',
        column: 'rank',
        to: 'INTEGER',
        line: 7,
        col: 1,
        contract: true,
      },
      {
        kind: 'drop-table',
        table: 'labels',
        column: undefined,
        to: undefined,
        line: 9,
        col: 1,
        contract: true,
      },
    ]);
    expect(changes.every((c) => c.file === '0003_m3.sql' && c.version === 3)).toBe(true);
  });

  it('needs the earlier files to recognise a rebuild', async () => {
    const file = migration(
      2,
      'CREATE TABLE notes_new (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\nINSERT INTO notes_new SELECT id, title FROM notes;\nDROP TABLE notes;\nALTER TABLE notes_new RENAME TO notes;\n',
    );
    const withHistory = await destructiveChanges(file, engine, { earlier: migrations(NOTES) });
    expect(withHistory.map((c) => `${c.kind} ${c.table}.${c.column}`)).toEqual([
      'drop-column notes.body',
      'drop-column notes.rank',
    ]);
  });

  it('agrees with lint’s findings outside a contract file', async () => {
    const files = migrations(NOTES, 'ALTER TABLE notes DROP COLUMN rank;\n');
    const report = await lintMigrations(files, { engine });
    const changes = await destructiveChanges(files[1]!, engine, { earlier: files });
    expect(changes.map((c) => [c.line, c.col])).toEqual(
      report.findings
        .filter((f) => f.rule === 'destructive-change-outside-contract')
        .map((f) => [f.line, f.col]),
    );
    expect(report.destructive).toEqual(changes);
  });

  it('is empty for an expand-only file', async () => {
    const file = migration(
      2,
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\nCREATE INDEX notes_rank ON notes (rank);\n',
    );
    expect(await destructiveChanges(file, engine, { earlier: migrations(NOTES) })).toEqual([]);
  });
});
