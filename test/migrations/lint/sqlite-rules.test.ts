/**
 * Every SQLite / D1 rule of `airlock migrate lint`, each with a file that fails it and one that
 * passes, with the finding's line:col checked against an independent computation. What the
 * rules claim about SQLite's behaviour is shown on real SQLite in sqlite-behaviour.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../src/errors.ts';
import { lintMigrations } from '../../../src/migrations/lint/lint-migrations.ts';
import { AIRLOCK_RULES } from '../../../src/migrations/lint/rules.ts';
import { expectOne, lint, migrations, rulesOf, where } from './helpers.ts';

const NOTES = `CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  body TEXT
);
`;

/** notes, with children of every kind of ON DELETE action. */
const FAMILY = `${NOTES}CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE);
CREATE TABLE tag_votes (id INTEGER PRIMARY KEY, tag_id INTEGER REFERENCES tags(id) ON DELETE CASCADE);
CREATE TABLE links (id INTEGER PRIMARY KEY, note_id INTEGER REFERENCES notes(id) ON DELETE SET NULL);
`;

/** The 12-step rebuild of notes (type of title unchanged, every column kept). */
const REBUILD = `CREATE TABLE notes_new (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  body TEXT,
  CHECK (length(title) > 0)
);
INSERT INTO notes_new (id, title, body) SELECT id, title, body FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
`;

describe.each(['sqlite', 'd1'] as const)('on %s', (engine) => {
  it('passes a clean history', async () => {
    const report = await lint(engine, [
      NOTES,
      'CREATE INDEX notes_title ON notes (title);\nALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
      "INSERT INTO notes (title) VALUES ('hello');\nPRAGMA defer_foreign_keys = on;\n",
    ]);
    expect(where(report.findings)).toEqual([]);
    expect(report).toMatchObject({ engine, errors: 0, warnings: 0, files: 3, destructive: [] });
    expect(report.durationMs).toBeGreaterThan(0);
  });

  describe('syntax-error', () => {
    it('fails a statement SQLite cannot read, at the token where SQLite stops', async () => {
      const sql = 'CREATE TABLE t (\n  a TEXT,\n  b TEXT NOT NULL DEFAULT\n);\n';
      const report = await lint(engine, [sql]);
      const finding = expectOne(report, 'syntax-error', sql, ');');
      expect(finding.severity).toBe('error');
      expect(finding.message).toContain('near ")": syntax error');
    });
    it('reports each broken statement of a file, and lints the rest', async () => {
      const sql =
        "CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('x';\nALTER TABLE t ADD COLUMN b TEXT NOT NULL;\nSELEC 1;\n";
      const report = await lint(engine, [sql]);
      expect(where(report.findings)).toEqual([
        'syntax-error@1:2:26',
        'add-not-null-column-without-default@1:3:26',
        'syntax-error@1:4:1',
      ]);
    });
    it('passes valid SQL', async () => {
      expect(
        (await lint(engine, ["CREATE TABLE t (a TEXT, b TEXT NOT NULL DEFAULT '');"])).findings,
      ).toEqual([]);
    });
  });

  describe('unparsed', () => {
    it("fails a statement SQLite accepts but Airlock's reader cannot read (never skipped silently)", async () => {
      // SQLite's parser takes an empty first table option before the comma; its documented
      // grammar (https://www.sqlite.org/lang_createtable.html) does not, nor does the reader.
      const sql =
        'CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB), WITHOUT ROWID;\nALTER TABLE kv ADD COLUMN n INTEGER NOT NULL;\n';
      const report = await lint(engine, [sql]);
      const finding = expectOne(report, 'unparsed', sql, ', WITHOUT');
      expect(finding.severity).toBe('error');
      expect(finding.message).toContain('SQLite accepts this statement');
      // It still ran in the replay: the next statement is linted against the table it made.
      expect(rulesOf(report.findings)).toEqual(['add-not-null-column-without-default', 'unparsed']);
    });
    it('is suppressible, with a reason, on that statement only', async () => {
      const sql =
        '-- airlock:lint-ignore unparsed SQLite accepts the leading comma; checked by hand\nCREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB), WITHOUT ROWID;\nCREATE TABLE kv2 (k TEXT PRIMARY KEY), WITHOUT ROWID;\n';
      const report = await lint(engine, [sql]);
      expect(where(report.suppressed)).toEqual(['unparsed@1:2:45']);
      expect(where(report.findings)).toEqual(['unparsed@1:3:38']);
    });
    it('stays quiet on what the reader reads, such as a number written `5.`', async () => {
      const sql =
        "CREATE TABLE settings (k TEXT, v REAL);\nINSERT INTO settings VALUES ('ratio', 5.);\n";
      expect((await lint(engine, [sql])).findings).toEqual([]);
    });
  });

  describe('replay-error', () => {
    it('fails a statement SQLite refuses on the schema the earlier files build, once per file', async () => {
      const sql = 'ALTER TABLE note ADD COLUMN pinned INTEGER;\nUPDATE note SET pinned = 0;\n';
      const report = await lint(engine, [NOTES, sql]);
      const finding = expectOne(report, 'replay-error', sql, 'ALTER', 2);
      expect(finding.message).toContain('no such table: note');
      expect(finding.message).toContain('1 later statement of this file failed too');
    });
    it('passes when the earlier files created what the statement needs', async () => {
      const report = await lint(engine, [NOTES, 'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n']);
      expect(report.findings).toEqual([]);
    });
    it('fails the rebuild of a table a view reads (step 2 of the 12 steps: drop the views first)', async () => {
      const view = `${NOTES}CREATE VIEW recent AS SELECT * FROM notes ORDER BY id DESC;\n`;
      const finding = expectOne(
        await lint(engine, [view, REBUILD]),
        'replay-error',
        REBUILD,
        'ALTER TABLE notes_new',
      );
      expect(finding.message).toContain('error in view recent');
    });
    it('replays files it does not report on, as context', async () => {
      const files = migrations(
        NOTES,
        'ALTER TABLE notes ADD COLUMN pinned INTEGER;\n',
        'UPDATE notes SET pinned = 1;\n',
      );
      const report = await lintMigrations(files, { engine, only: [3] });
      expect(report.files).toBe(1);
      expect(report.findings).toEqual([]);
    });
  });

  describe('explicit transactions', () => {
    const rule = engine === 'd1' ? 'd1-explicit-transaction' : 'explicit-transaction';
    it(`fails BEGIN and COMMIT (${rule})`, async () => {
      const sql = `${NOTES}BEGIN TRANSACTION;\nINSERT INTO notes (title) VALUES ('a');\n  COMMIT;\n`;
      const report = await lint(engine, [sql]);
      expect(where(report.findings)).toEqual([`${rule}@1:6:1`, `${rule}@1:8:3`]);
      expect(report.findings.every((f) => f.severity === 'error')).toBe(true);
    });
    it(engine === 'd1' ? 'fails SAVEPOINT on D1' : 'allows SAVEPOINT on SQLite', async () => {
      const sql = `${NOTES}SAVEPOINT before_insert;\nINSERT INTO notes (title) VALUES ('a');\nRELEASE before_insert;\n`;
      const report = await lint(engine, [sql]);
      expect(where(report.findings)).toEqual(
        engine === 'd1' ? [`${rule}@1:6:1`, `${rule}@1:8:1`] : [],
      );
    });
    it('passes a file without transaction statements', async () => {
      expect((await lint(engine, [NOTES])).findings).toEqual([]);
    });
  });

  describe('PRAGMA foreign_keys = OFF', () => {
    const rule = engine === 'd1' ? 'd1-foreign-keys-pragma' : 'foreign-keys-pragma';
    it.each([
      'PRAGMA foreign_keys = OFF;',
      'PRAGMA foreign_keys=0;',
      "PRAGMA foreign_keys('off');",
      'PRAGMA main.foreign_keys = false;',
    ])(`fails %s (${rule})`, async (pragma) => {
      const sql = `-- prepare the rebuild\n  ${pragma}\n${NOTES}`;
      const finding = expectOne(await lint(engine, [sql]), rule, sql, 'PRAGMA');
      expect(finding.fix).toContain('PRAGMA defer_foreign_keys = on');
    });
    it.each([
      'PRAGMA foreign_keys = ON;',
      'PRAGMA foreign_keys;',
      'PRAGMA defer_foreign_keys = on;',
    ])('passes %s', async (pragma) => {
      expect((await lint(engine, [`${pragma}\n${NOTES}`])).findings).toEqual([]);
    });
  });

  describe('rebuild-with-cascading-children', () => {
    it('fails the 12-step rebuild of a table with ON DELETE CASCADE and SET NULL children, naming each', async () => {
      const report = await lint(engine, [FAMILY, REBUILD]);
      const finding = expectOne(
        report,
        'rebuild-with-cascading-children',
        REBUILD,
        'DROP TABLE notes',
        2,
      );
      expect(finding.message).toContain('deletes every row of tags');
      expect(finding.message).toContain('tags.note_id REFERENCES notes ON DELETE CASCADE');
      expect(finding.message).toContain('deletes every row of tag_votes'); // through tags
      expect(finding.message).toContain('rewrites the foreign key of every row of links');
      expect(finding.fix).toContain('CREATE TABLE tags_keep AS SELECT * FROM tags;');
      expect(finding.fix).toContain('INSERT INTO tag_votes SELECT * FROM tag_votes_keep;');
      expect(finding.fix).toContain(
        'UPDATE links SET note_id = (SELECT note_id FROM links_keep WHERE keep_rowid = links.rowid);',
      );
      expect(rulesOf(report.findings)).toEqual(['rebuild-with-cascading-children']);
    });
    it('fails a plain DROP TABLE of such a parent too', async () => {
      const sql = '-- airlock:contract\nDROP TABLE notes;\n';
      const finding = expectOne(
        await lint(engine, [FAMILY, sql]),
        'rebuild-with-cascading-children',
        sql,
        'DROP',
      );
      expect(finding.message).toMatch(/^Dropping notes deletes every row of tags/);
    });
    it('fails when the new table refers to the old one by name (a self-referencing rebuild)', async () => {
      const tree =
        'CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE);\n';
      const rebuild = `CREATE TABLE nodes_new (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES nodes(id) ON DELETE CASCADE, name TEXT);
INSERT INTO nodes_new (id, parent_id) SELECT id, parent_id FROM nodes;
DROP TABLE nodes;
ALTER TABLE nodes_new RENAME TO nodes;
`;
      const finding = expectOne(
        await lint(engine, [tree, rebuild]),
        'rebuild-with-cascading-children',
        rebuild,
        'DROP',
      );
      expect(finding.message).toContain('deletes every row of nodes_new');
    });
    it('passes the rebuild of a table nothing references', async () => {
      expect((await lint(engine, [NOTES, REBUILD])).findings).toEqual([]);
    });
    it('passes when the file keeps the children’s rows and puts them back', async () => {
      const keep = `CREATE TABLE tags_keep AS SELECT * FROM tags;
CREATE TABLE tag_votes_keep AS SELECT * FROM tag_votes;
CREATE TABLE links_keep AS SELECT rowid AS keep_rowid, note_id FROM links;
${REBUILD}INSERT INTO tags SELECT * FROM tags_keep;
INSERT INTO tag_votes SELECT * FROM tag_votes_keep;
UPDATE links SET note_id = (SELECT note_id FROM links_keep WHERE keep_rowid = links.rowid);
DROP TABLE tags_keep;
DROP TABLE tag_votes_keep;
DROP TABLE links_keep;
`;
      expect(where((await lint(engine, [FAMILY, keep])).findings)).toEqual([]);
    });
  });

  describe('rebuild-with-referencing-children', () => {
    const PARENT = `${NOTES}CREATE TABLE refs (id INTEGER PRIMARY KEY, note_id INTEGER REFERENCES notes(id));\n`;
    it('fails the rebuild of a table referenced with NO ACTION, even with defer_foreign_keys', async () => {
      const sql = `PRAGMA defer_foreign_keys = on;\n${REBUILD}`;
      const finding = expectOne(
        await lint(engine, [PARENT, sql]),
        'rebuild-with-referencing-children',
        sql,
        'DROP TABLE notes',
      );
      expect(finding.message).toContain('as soon as refs has rows');
      expect(finding.message).toContain('refs.note_id REFERENCES notes ON DELETE NO ACTION');
    });
    it('passes when the file empties the children first and restores them after', async () => {
      const sql = `CREATE TABLE refs_keep AS SELECT * FROM refs;
DELETE FROM refs;
${REBUILD}INSERT INTO refs SELECT * FROM refs_keep;
DROP TABLE refs_keep;
`;
      expect((await lint(engine, [PARENT, sql])).findings).toEqual([]);
    });
  });

  describe('rebuild-drops-indexes-or-triggers', () => {
    const INDEXED = `${NOTES}CREATE UNIQUE INDEX notes_title ON notes (title);
CREATE INDEX notes_body ON notes (body) WHERE body IS NOT NULL;
CREATE TRIGGER notes_no_empty BEFORE INSERT ON notes WHEN new.title = '' BEGIN SELECT RAISE(ABORT, 'empty title'); END;
`;
    it('fails a rebuild that does not recreate them, giving their definitions', async () => {
      const finding = expectOne(
        await lint(engine, [INDEXED, REBUILD]),
        'rebuild-drops-indexes-or-triggers',
        REBUILD,
        'DROP',
      );
      expect(finding.message).toContain('UNIQUE index notes_title on (title)');
      expect(finding.message).toContain('index notes_body on (body)');
      expect(finding.message).toContain('trigger notes_no_empty');
      expect(finding.fix).toContain('CREATE UNIQUE INDEX notes_title ON notes (title);');
      expect(finding.fix).toContain(
        "CREATE TRIGGER notes_no_empty BEFORE INSERT ON notes WHEN new.title = ''",
      );
    });
    it('passes when the file recreates them (names may differ for indexes)', async () => {
      const sql = `${REBUILD}CREATE UNIQUE INDEX notes_title_unique ON notes (title);
CREATE INDEX notes_body ON notes (body) WHERE body IS NOT NULL;
CREATE TRIGGER notes_no_empty BEFORE INSERT ON notes WHEN new.title = '' BEGIN SELECT RAISE(ABORT, 'empty title'); END;
`;
      expect((await lint(engine, [INDEXED, sql])).findings).toEqual([]);
    });
  });

  describe('add-not-null-column-without-default', () => {
    it.each([
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL;',
      'ALTER TABLE notes ADD pinned INTEGER NOT NULL DEFAULT NULL;',
      'ALTER TABLE notes ADD COLUMN pinned INTEGER CONSTRAINT pinned_set NOT NULL DEFAULT (NULL);',
    ])('fails %s', async (statement) => {
      const sql = `-- pinned notes\n${statement}\n`;
      const finding = expectOne(
        await lint(engine, [NOTES, sql]),
        'add-not-null-column-without-default',
        sql,
        'pinned INTEGER',
      );
      expect(finding.message).toContain('Cannot add a NOT NULL column with default value NULL');
      expect(finding.fix).toContain(
        'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT <value>',
      );
    });
    it.each([
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;',
      "ALTER TABLE notes ADD COLUMN state TEXT DEFAULT 'draft' NOT NULL;",
      'ALTER TABLE notes ADD COLUMN pinned INTEGER;',
      'ALTER TABLE notes ADD COLUMN title_length INTEGER AS (length(title)) NOT NULL;',
    ])('passes %s', async (statement) => {
      expect((await lint(engine, [NOTES, statement])).findings).toEqual([]);
    });
  });

  describe('destructive-change-outside-contract', () => {
    const VIEWED = `${NOTES}CREATE VIEW recent AS SELECT * FROM notes ORDER BY id DESC LIMIT 10;\n`;
    // [what, statements, where the finding is, message]; the rebuilds run on NOTES (a view on
    // notes would make their RENAME fail, see replay-error).
    const cases: Array<[string, string, string, string]> = [
      ['drops a table', 'DROP TABLE notes;', 'DROP', 'Table notes is dropped'],
      [
        'drops a column',
        'ALTER TABLE notes DROP COLUMN body;',
        'DROP COLUMN',
        'Column notes.body is dropped',
      ],
      [
        'renames a column',
        'ALTER TABLE notes RENAME COLUMN body TO text;',
        'RENAME COLUMN',
        'Column notes.body is renamed to text',
      ],
      [
        'renames a table',
        'ALTER TABLE notes RENAME TO posts;',
        'RENAME TO',
        'Table notes is renamed to posts',
      ],
      ['drops a view', 'DROP VIEW recent;', 'DROP VIEW', 'View recent is dropped'],
      [
        'leaves a column out of a rebuild',
        REBUILD.replace('  body TEXT,\n', '').replace(
          '(id, title, body) SELECT id, title, body',
          '(id, title) SELECT id, title',
        ),
        'DROP TABLE notes',
        'Column notes.body is left out of the rebuilt table',
      ],
      [
        'changes a column type in a rebuild',
        REBUILD.replace('  body TEXT,\n', '  body BLOB,\n'),
        'DROP TABLE notes',
        'Column notes.body changes type from TEXT to BLOB in the rebuild',
      ],
      [
        'drops a table and creates it again empty',
        'DROP TABLE notes;\nCREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);',
        'DROP',
        'Table notes is dropped and created again empty, so its rows are gone',
      ],
    ];
    const context = (statement: string) => (statement.includes('notes_new') ? NOTES : VIEWED);
    it.each(cases)('fails a file that %s', async (_, statement, needle, message) => {
      const sql = `-- change\n${statement}\n`;
      const report = await lint(engine, [context(statement), sql]);
      const finding = expectOne(report, 'destructive-change-outside-contract', sql, needle, 2);
      expect(finding.message).toContain(message);
      expect(finding.fix).toContain('-- airlock:contract');
      expect(report.destructive.map((d) => d.contract)).toEqual([false]);
    });
    it.each(cases)('passes the same change in a contract file (%s)', async (_, statement) => {
      const report = await lint(engine, [
        context(statement),
        `-- airlock:contract\n${statement}\n`,
      ]);
      expect(where(report.findings)).toEqual([]);
      expect(report.destructive).toHaveLength(1);
      expect(report.destructive[0]!.contract).toBe(true);
    });
    it('passes changes to a table or view the same file created', async () => {
      const sql = `CREATE TABLE scratch (a TEXT, b TEXT);
ALTER TABLE scratch RENAME COLUMN a TO c;
ALTER TABLE scratch DROP COLUMN b;
ALTER TABLE scratch RENAME TO scratch2;
DROP TABLE scratch2;
CREATE VIEW v AS SELECT 1;
DROP VIEW v;
DROP VIEW recent;
CREATE VIEW recent AS SELECT id, title FROM notes ORDER BY id DESC LIMIT 20;
`;
      const report = await lint(engine, [VIEWED, sql]);
      expect(where(report.findings)).toEqual([]);
      expect(report.destructive).toEqual([]);
    });
    it('passes a rebuild that keeps every column and type', async () => {
      const report = await lint(engine, [NOTES, REBUILD]);
      expect(report.findings).toEqual([]);
      expect(report.destructive).toEqual([]);
    });
  });
});

describe('lintMigrations', () => {
  it('refuses an unknown engine and versions without files', async () => {
    const files = migrations(NOTES);
    await expect(lintMigrations(files, { engine: 'mysql' as never })).rejects.toSatisfy((e) =>
      hasCode(e, 'USAGE'),
    );
    await expect(lintMigrations(files, { engine: 'sqlite', only: [1, 7] })).rejects.toThrow(
      'No migration file has version 0007.',
    );
  });

  it('lists only rules that exist in its catalogue', async () => {
    const names = new Set(AIRLOCK_RULES.map((r) => r.name));
    const report = await lint('d1', [
      FAMILY,
      `PRAGMA foreign_keys = OFF;\nBEGIN;\n${REBUILD}COMMIT;\nALTER TABLE links ADD x INT NOT NULL;\n-- airlock:bogus\n`,
    ]);
    expect(report.findings.length).toBeGreaterThan(4);
    for (const finding of report.findings) expect(names.has(finding.rule)).toBe(true);
    for (const finding of report.findings) {
      const rule = AIRLOCK_RULES.find((r) => r.name === finding.rule)!;
      expect(finding.severity).toBe(rule.severity);
      expect(rule.engines).toContain('d1');
    }
  });
});
