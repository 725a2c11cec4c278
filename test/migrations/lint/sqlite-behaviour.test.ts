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
import { at, migrations, rulesOf } from './helpers.ts';

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

/** Rule, line and column of each finding of file `version` (for precise assertions). */
async function findingsOf(files: MigrationFile[], version: number): Promise<string[]> {
  const report = await lintMigrations(files, { engine: 'sqlite', only: [version] });
  return report.findings.map((f) => `${f.rule}@${f.line}:${f.col}`);
}

describe('Prisma\'s table rebuild (PRAGMA foreign_key_check("users")) on real SQLite', () => {
  const SCHEMA_PRISMA = `CREATE TABLE "users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "name" TEXT
);
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");
CREATE TABLE "posts" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "authorId" INTEGER NOT NULL,
    CONSTRAINT "posts_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "users" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
`;
  /** What `prisma migrate dev` writes to make users.name required (Prisma's RedefineTables). */
  const PRISMA_REBUILD = `-- RedefineTables
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_users" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "new_users" ("email", "id", "name") SELECT "email", "id", coalesce("name", '') AS "name" FROM "users";
DROP TABLE "users";
ALTER TABLE "new_users" RENAME TO "users";
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");
PRAGMA foreign_key_check("users");
PRAGMA foreign_keys=ON;
`;
  const seedUsers = () =>
    withDb((db) =>
      db.exec(`INSERT INTO users (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com');
INSERT INTO posts ("authorId") VALUES (1), (1), (2);`),
    );

  it('deletes every post when Airlock applies it, and lint says so at the DROP TABLE', async () => {
    const files = migrations(SCHEMA_PRISMA, PRISMA_REBUILD);
    await apply(files.slice(0, 1));
    seedUsers();
    await apply(files);
    expect(count('users')).toBe(2);
    expect(count('posts')).toBe(0); // ON DELETE CASCADE fired on DROP TABLE "users"
    expect(await findingsOf(files, 2)).toEqual([
      `foreign-keys-pragma@${at(PRISMA_REBUILD, 'PRAGMA foreign_keys=OFF').line}:1`,
      `rebuild-with-cascading-children@${at(PRISMA_REBUILD, 'DROP TABLE').line}:1`,
    ]);
  });

  it('keeps the posts when the file keeps them and puts them back, and lint passes it', async () => {
    const kept = PRISMA_REBUILD.replace(
      'PRAGMA foreign_keys=OFF;\n',
      'CREATE TABLE "posts_keep" AS SELECT * FROM "posts";\n',
    ).replace(
      'PRAGMA foreign_keys=ON;\n',
      'INSERT INTO "posts" SELECT * FROM "posts_keep";\nDROP TABLE "posts_keep";\n',
    );
    const files = migrations(SCHEMA_PRISMA, kept);
    await apply(files.slice(0, 1));
    seedUsers();
    await apply(files);
    expect(count('posts')).toBe(3);
    expect(await findingsOf(files, 2)).toEqual([]);
  });
});

describe('the ADD COLUMN traps on real SQLite: each passes on an empty table and fails once it has rows', () => {
  const TABLE =
    'CREATE TABLE users (id INTEGER PRIMARY KEY, price INTEGER NOT NULL DEFAULT 0);\nCREATE TABLE teams (id INTEGER PRIMARY KEY);\n';
  const cases = [
    {
      rule: 'add-column-stored-generated',
      bad: 'ALTER TABLE users ADD COLUMN doubled INTEGER AS (price * 2) STORED;\n',
      needle: 'AS (price',
      error: 'cannot add a STORED column',
      good: 'ALTER TABLE users ADD COLUMN doubled INTEGER AS (price * 2) VIRTUAL;\n',
    },
    {
      rule: 'add-column-non-constant-default',
      bad: 'ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT CURRENT_TIMESTAMP;\n',
      needle: 'CURRENT_TIMESTAMP',
      error: 'Cannot add a column with non-constant default',
      good: "ALTER TABLE users ADD COLUMN created_at TEXT DEFAULT '1970-01-01 00:00:00';\n",
    },
    {
      rule: 'add-column-non-constant-default',
      bad: 'ALTER TABLE users ADD COLUMN score INTEGER DEFAULT (1 + 1);\n',
      needle: '(1 + 1)',
      error: 'Cannot add a column with non-constant default',
      good: 'ALTER TABLE users ADD COLUMN score INTEGER DEFAULT (-2);\n',
    },
    {
      rule: 'add-column-references-with-default',
      bad: 'ALTER TABLE users ADD COLUMN team_id INTEGER REFERENCES teams (id) DEFAULT 1;\n',
      needle: '1;',
      error: 'Cannot add a REFERENCES column with non-NULL default value',
      good: 'ALTER TABLE users ADD COLUMN team_id INTEGER REFERENCES teams (id) DEFAULT NULL;\n',
    },
  ];

  for (const c of cases) {
    it(`${c.rule}: ${c.bad.trim()}`, async () => {
      const files = migrations(TABLE, c.bad);
      const { line, col } = at(c.bad, c.needle);
      expect(await findingsOf(files, 2)).toEqual([`${c.rule}@${line}:${col}`]);
      await apply(files.slice(0, 1));
      withDb((db) =>
        db.exec('INSERT INTO teams (id) VALUES (1); INSERT INTO users (price) VALUES (5)'),
      );
      const error = await caught(apply(files));
      expect(error.code).toBe('MIGRATION_FAILED');
      expect(error.message).toContain(c.error);
      // On an empty table (a fresh staging), the same file applies.
      await rm(path);
      await apply(files);
    });

    it(`${c.rule} passes: ${c.good.trim()}`, async () => {
      const files = migrations(TABLE, c.good);
      expect(await findingsOf(files, 2)).toEqual([]);
      await apply(files.slice(0, 1));
      withDb((db) =>
        db.exec('INSERT INTO teams (id) VALUES (1); INSERT INTO users (price) VALUES (5)'),
      );
      await apply(files);
      expect(count('users')).toBe(1);
    });
  }
});

describe('insert-select-star-column-order on real SQLite', () => {
  const NOTES3 = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);\n';
  const rebuild = (
    copy: string,
  ) => `CREATE TABLE notes_new (id INTEGER PRIMARY KEY, body TEXT, title TEXT NOT NULL CHECK (title <> ''));
${copy}
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
`;

  it('a rebuild that reorders columns and copies with SELECT * swaps their values, silently', async () => {
    const sql = rebuild('INSERT INTO notes_new SELECT * FROM notes;');
    const files = migrations(NOTES3, sql);
    await apply(files.slice(0, 1));
    withDb((db) => db.exec("INSERT INTO notes (title, body) VALUES ('Title', 'Body text')"));
    await apply(files);
    expect(withDb((db) => db.prepare('SELECT title, body FROM notes').get())).toEqual({
      title: 'Body text',
      body: 'Title',
    });
    const { line, col } = at(sql, 'notes;');
    expect(await findingsOf(files, 2)).toEqual([`insert-select-star-column-order@${line}:${col}`]);
  });

  it('naming the columns copies them right, and lint passes it', async () => {
    const files = migrations(
      NOTES3,
      rebuild('INSERT INTO notes_new (id, title, body) SELECT id, title, body FROM notes;'),
    );
    await apply(files.slice(0, 1));
    withDb((db) => db.exec("INSERT INTO notes (title, body) VALUES ('Title', 'Body text')"));
    await apply(files);
    expect(withDb((db) => db.prepare('SELECT title, body FROM notes').get())).toEqual({
      title: 'Title',
      body: 'Body text',
    });
    expect(await findingsOf(files, 2)).toEqual([]);
  });

  it('SELECT * between tables with the same column order passes', async () => {
    const files = migrations(
      NOTES3,
      "CREATE TABLE notes_copy (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);\nINSERT INTO notes_copy SELECT * FROM notes WHERE title <> '';\n",
    );
    expect(await findingsOf(files, 2)).toEqual([]);
  });
});

describe('create-if-not-exists-then-drop on real SQLite', () => {
  const FILE =
    'CREATE TABLE IF NOT EXISTS cache (k TEXT PRIMARY KEY, v TEXT);\nDROP TABLE cache;\n';

  it('drops the live table, rows and all, where it already existed', async () => {
    const files = migrations(FILE);
    withDb((db) =>
      db.exec(
        "CREATE TABLE cache (k TEXT PRIMARY KEY, v TEXT); INSERT INTO cache VALUES ('a', '1')",
      ),
    );
    await apply(files);
    expect(
      withDb((db) =>
        db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'cache'").get(),
      ),
    ).toEqual({ n: 0 });
    expect(await findingsOf(files, 1)).toEqual([`create-if-not-exists-then-drop@2:1`]);
  });

  it('without IF NOT EXISTS, the file fails loudly there instead, and lint passes it', async () => {
    const files = migrations(
      'CREATE TABLE cache (k TEXT PRIMARY KEY, v TEXT);\nDROP TABLE cache;\n',
    );
    withDb((db) =>
      db.exec(
        "CREATE TABLE cache (k TEXT PRIMARY KEY, v TEXT); INSERT INTO cache VALUES ('a', '1')",
      ),
    );
    const error = await caught(apply(files));
    expect(error.message).toContain('table cache already exists');
    expect(count('cache')).toBe(1);
    expect(await findingsOf(files, 1)).toEqual([]);
  });
});

describe('dropping a trigger or a view is destructive (contract only) on real SQLite', () => {
  const SEARCH = `CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
CREATE TABLE note_log (note_id INTEGER, at TEXT);
CREATE TRIGGER notes_log AFTER INSERT ON notes BEGIN INSERT INTO note_log VALUES (new.id, 'now'); END;
CREATE VIEW titles AS SELECT title FROM notes;
`;

  it('DROP TRIGGER outside a contract migration silently stops what the trigger did', async () => {
    const files = migrations(SEARCH, 'DROP TRIGGER notes_log;\nDROP VIEW titles;\n');
    await apply(files);
    withDb((db) => db.exec("INSERT INTO notes (title) VALUES ('a')"));
    expect(count('note_log')).toBe(0);
    expect(await findingsOf(files, 2)).toEqual([
      'destructive-change-outside-contract@1:1',
      'destructive-change-outside-contract@2:1',
    ]);
  });

  it('in a contract migration, or dropped and created again, it passes', async () => {
    const files = migrations(
      SEARCH,
      '-- airlock:contract\nDROP TRIGGER notes_log;\n',
      'DROP VIEW titles;\nCREATE VIEW titles AS SELECT upper(title) AS title FROM notes;\nDROP TRIGGER IF EXISTS missing;\nCREATE TRIGGER missing AFTER DELETE ON notes BEGIN SELECT 1; END;\n',
    );
    await apply(files);
    expect(await findingsOf(files, 2)).toEqual([]);
    expect(await findingsOf(files, 3)).toEqual([]);
  });
});
