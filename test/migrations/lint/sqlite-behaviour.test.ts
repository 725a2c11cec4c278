/**
 * What the SQLite rules claim, shown on real SQLite: migrations applied by Airlock's own
 * `SqliteMigrationDriver` (one `BEGIN IMMEDIATE` per file, on a node:sqlite connection) to a
 * database file that holds rows, read back through a connection of the test's own. Each case
 * also lints the same files, so a rule and the behaviour it is about cannot drift apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lintMigrations } from '../../../src/migrations/lint/lint-migrations.ts';
import type { MigrationFile } from '../../../src/migrations/migration-files.ts';
import { Migrator } from '../../../src/migrations/migrator.ts';
import { SqliteMigrationDriver } from '../../../src/migrations/sqlite-migration-driver.ts';
import { caught } from '../engines.ts';
import { migrations, rulesOf } from './helpers.ts';

const SCHEMA = `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE tags (id INTEGER PRIMARY KEY, note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE, tag TEXT NOT NULL);
CREATE TABLE links (id INTEGER PRIMARY KEY, note_id INTEGER REFERENCES notes(id) ON DELETE SET NULL);
`;

/** The 12-step rebuild as ORMs generate it, to add a CHECK to notes. */
const REBUILD = `CREATE TABLE notes_new (id INTEGER PRIMARY KEY, title TEXT NOT NULL CHECK (title <> ''));
INSERT INTO notes_new (id, title) SELECT id, title FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
`;

let root: string;
let path: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'airlock-lint-sqlite-'));
  path = join(root, 'app.db');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Applies `files` (those not applied yet) with Airlock's driver. */
async function apply(files: MigrationFile[]): Promise<void> {
  const driver = new SqliteMigrationDriver(path);
  try {
    await new Migrator(driver, files).apply({ appliedBy: 'test', release: null });
  } finally {
    await driver.close();
  }
}

/** Runs `fn` on a connection of the test's own, with foreign keys on. */
function withDb<T>(fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    db.exec('PRAGMA foreign_keys = ON');
    return fn(db);
  } finally {
    db.close();
  }
}

const count = (table: string) =>
  withDb((db) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);

function seed(): void {
  withDb((db) =>
    db.exec(`INSERT INTO notes (id, title) VALUES (1, 'a'), (2, 'b');
INSERT INTO tags (note_id, tag) VALUES (1, 'x'), (1, 'y'), (2, 'z');
INSERT INTO links (note_id) VALUES (1), (2);`),
  );
}

describe('rebuild-with-cascading-children on real SQLite', () => {
  it('node:sqlite enforces foreign keys by default, which is why the rebuild cascades', () => {
    const db = new DatabaseSync(':memory:');
    expect(db.prepare('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 });
    db.close();
  });

  it('the rebuild deletes the ON DELETE CASCADE children’s rows and nulls the SET NULL ones — PRAGMA foreign_keys = OFF and defer_foreign_keys do not help', async () => {
    const files = migrations(
      SCHEMA,
      `PRAGMA foreign_keys = OFF;\nPRAGMA defer_foreign_keys = on;\n${REBUILD}PRAGMA foreign_keys = ON;\n`,
    );
    await apply(files.slice(0, 1));
    seed();
    expect([count('tags'), count('links')]).toEqual([3, 2]);

    await apply(files);
    expect(count('notes')).toBe(2); // the parent's rows were copied
    expect(count('tags')).toBe(0); // the children's rows are gone
    expect(withDb((db) => db.prepare('SELECT note_id FROM links').all())).toEqual([
      { note_id: null },
      { note_id: null },
    ]);

    const report = await lintMigrations(files, { engine: 'sqlite', only: [2] });
    expect(rulesOf(report.findings)).toEqual([
      'foreign-keys-pragma',
      'rebuild-with-cascading-children',
    ]);
  });

  it('the same happens on a plain node:sqlite connection with PRAGMA foreign_keys = ON, in one transaction', () => {
    withDb((db) => {
      db.exec(SCHEMA);
      db.exec(
        "INSERT INTO notes VALUES (1, 'a'); INSERT INTO tags (note_id, tag) VALUES (1, 'x');",
      );
      db.exec(`BEGIN;\nPRAGMA foreign_keys = OFF;\n${REBUILD}COMMIT;`);
      expect(db.prepare('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 }); // the PRAGMA was a no-op
      expect(db.prepare('SELECT count(*) AS n FROM tags').get()).toEqual({ n: 0 });
    });
  });

  it('keeping the children’s rows and putting them back after the rebuild preserves them, and lint passes it', async () => {
    const files = migrations(
      SCHEMA,
      `CREATE TABLE tags_keep AS SELECT * FROM tags;
CREATE TABLE links_keep AS SELECT rowid AS keep_rowid, note_id FROM links;
${REBUILD}INSERT INTO tags SELECT * FROM tags_keep;
UPDATE links SET note_id = (SELECT note_id FROM links_keep WHERE keep_rowid = links.rowid);
DROP TABLE tags_keep;
DROP TABLE links_keep;
`,
    );
    await apply(files.slice(0, 1));
    seed();
    await apply(files);
    expect(count('tags')).toBe(3);
    expect(withDb((db) => db.prepare('SELECT note_id FROM links ORDER BY id').all())).toEqual([
      { note_id: 1 },
      { note_id: 2 },
    ]);
    expect(withDb((db) => db.prepare('PRAGMA foreign_key_check').all())).toEqual([]);
    const report = await lintMigrations(files, { engine: 'sqlite', only: [2] });
    expect(report.findings).toEqual([]);
  });
});

describe('rebuild-with-referencing-children on real SQLite', () => {
  const SIMPLE = `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE refs (id INTEGER PRIMARY KEY, note_id INTEGER REFERENCES notes(id));
`;
  const files = migrations(SIMPLE, `PRAGMA defer_foreign_keys = on;\n${REBUILD}`);

  it('passes on a database whose children are empty (a thin staging)…', async () => {
    await apply(files);
    expect(count('notes')).toBe(0);
  });

  it('…and fails on one whose children have rows (production), even with defer_foreign_keys', async () => {
    await apply(files.slice(0, 1));
    withDb((db) =>
      db.exec("INSERT INTO notes VALUES (1, 'a'); INSERT INTO refs (note_id) VALUES (1);"),
    );
    const error = await caught(apply(files));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('FOREIGN KEY constraint failed');
    expect(count('refs')).toBe(1); // rolled back
    const report = await lintMigrations(files, { engine: 'sqlite', only: [2] });
    expect(rulesOf(report.findings)).toEqual(['rebuild-with-referencing-children']);
  });

  it('emptying the children first and restoring them after works, and lint passes it', async () => {
    const fixed = migrations(
      SIMPLE,
      `CREATE TABLE refs_keep AS SELECT * FROM refs;\nDELETE FROM refs;\n${REBUILD}INSERT INTO refs SELECT * FROM refs_keep;\nDROP TABLE refs_keep;\n`,
    );
    await apply(fixed.slice(0, 1));
    withDb((db) =>
      db.exec("INSERT INTO notes VALUES (1, 'a'); INSERT INTO refs (note_id) VALUES (1);"),
    );
    await apply(fixed);
    expect(count('refs')).toBe(1);
    expect((await lintMigrations(fixed, { engine: 'sqlite', only: [2] })).findings).toEqual([]);
  });
});

describe('add-not-null-column-without-default on real SQLite', () => {
  const files = migrations(
    'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n',
    'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL;\n',
  );

  it('fails on a table with rows', async () => {
    await apply(files.slice(0, 1));
    withDb((db) => db.exec("INSERT INTO notes (title) VALUES ('a')"));
    const error = await caught(apply(files));
    expect(error.code).toBe('MIGRATION_FAILED');
    expect(error.message).toContain('Cannot add a NOT NULL column with default value NULL');
    const report = await lintMigrations(files, { engine: 'sqlite' });
    expect(rulesOf(report.findings)).toEqual(['add-not-null-column-without-default']);
  });

  it('passes on an empty table, which is why only lint catches it before production', async () => {
    await apply(files);
    expect(
      withDb((db) => db.prepare('SELECT name FROM pragma_table_info(?)').all('notes')),
    ).toEqual([{ name: 'id' }, { name: 'title' }, { name: 'pinned' }]);
  });

  it('with a DEFAULT it works on rows, and lint passes it', async () => {
    const fixed = migrations(
      files[0]!.sql,
      'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n',
    );
    await apply(fixed.slice(0, 1));
    withDb((db) => db.exec("INSERT INTO notes (title) VALUES ('a')"));
    await apply(fixed);
    expect(withDb((db) => db.prepare('SELECT pinned FROM notes').all())).toEqual([{ pinned: 0 }]);
    expect((await lintMigrations(fixed, { engine: 'sqlite' })).findings).toEqual([]);
  });
});

describe('foreign-keys-pragma on real SQLite', () => {
  it('PRAGMA foreign_keys = OFF in a migration does not let it violate a foreign key', async () => {
    const files = migrations(
      SCHEMA,
      "PRAGMA foreign_keys = OFF;\nINSERT INTO tags (note_id, tag) VALUES (42, 'orphan');\n",
    );
    await apply(files.slice(0, 1));
    const error = await caught(apply(files));
    expect(error.message).toContain('FOREIGN KEY constraint failed');
    expect(
      rulesOf((await lintMigrations(files, { engine: 'sqlite', only: [2] })).findings),
    ).toEqual(['foreign-keys-pragma']);
  });
});

describe('explicit-transaction on real SQLite', () => {
  it('a BEGIN in a migration fails it', async () => {
    const files = migrations('BEGIN;\nCREATE TABLE t (a);\nCOMMIT;\n');
    const error = await caught(apply(files));
    expect(error.message).toContain('cannot start a transaction within a transaction');
    expect(rulesOf((await lintMigrations(files, { engine: 'sqlite' })).findings)).toEqual([
      'explicit-transaction',
    ]);
  });

  it('a COMMIT in a migration that then fails leaves its statements applied without a ledger row', async () => {
    const files = migrations(
      'CREATE TABLE t (a);\nCOMMIT;\nCREATE TABLE u (b);\nINSERT INTO missing VALUES (1);\n',
    );
    const error = await caught(apply(files));
    expect(error.code).toBe('MIGRATION_FAILED');
    const tables = withDb((db) =>
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all(),
    );
    // The error says nothing was kept, but t (before the COMMIT) and u (after it, in autocommit) stayed…
    expect(tables).toEqual([{ name: 'airlock_migrations' }, { name: 't' }, { name: 'u' }]);
    expect(count('airlock_migrations')).toBe(0); // …without a ledger row: apply runs the file again
    const report = await lintMigrations(files, { engine: 'sqlite' });
    expect(rulesOf(report.findings)).toEqual(['explicit-transaction', 'replay-error']);
  });
});

describe('rebuild-drops-indexes-or-triggers on real SQLite', () => {
  it('a rebuild that does not recreate a UNIQUE index lets duplicates in', async () => {
    const files = migrations(
      'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\nCREATE UNIQUE INDEX notes_title ON notes (title);\n',
      REBUILD,
    );
    await apply(files.slice(0, 1));
    expect(() => withDb((db) => db.exec("INSERT INTO notes (title) VALUES ('a'), ('a')"))).toThrow(
      'UNIQUE constraint failed',
    );
    await apply(files);
    withDb((db) => db.exec("INSERT INTO notes (title) VALUES ('a'), ('a')"));
    expect(count('notes')).toBe(2);
    expect(
      rulesOf((await lintMigrations(files, { engine: 'sqlite', only: [2] })).findings),
    ).toEqual(['rebuild-drops-indexes-or-triggers']);
  });
});
