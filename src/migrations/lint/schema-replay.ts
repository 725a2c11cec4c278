/**
 * The schema as of a point in the migration history: the files replayed, in version order, into
 * an in-memory `node:sqlite` database, and read back through SQLite's own introspection
 * (`pragma_table_info`, `pragma_foreign_key_list`, `pragma_index_list`, `sqlite_master`).
 *
 * Foreign keys are **off** in the replay: it reads the schema, and an empty database has no
 * rows for ON DELETE actions to touch, so enforcing them could only add failures that depend on
 * data (which is `dry-run`'s business, not lint's).
 */

import { DatabaseSync } from 'node:sqlite';

export interface ColumnInfo {
  name: string;
  /** Declared type as written (`TEXT`, `integer`, '' when none). */
  type: string;
  notNull: boolean;
}

/** One foreign key: `child.from` references `parent`. Actions as SQLite reports them. */
export interface ForeignKeyEdge {
  child: string;
  parent: string;
  from: string;
  /** `CASCADE`, `SET NULL`, `SET DEFAULT`, `RESTRICT` or `NO ACTION`. */
  onDelete: string;
}

export interface IndexInfo {
  name: string;
  unique: boolean;
  /** `c` (CREATE INDEX), `u` (UNIQUE constraint), `pk` (PRIMARY KEY constraint). */
  origin: string;
  partial: boolean;
  /** Key columns in order; `<expr>` for an expression. */
  columns: string[];
  /** The CREATE INDEX statement for origin `c`, else null. */
  sql: string | null;
}

export interface TriggerInfo {
  name: string;
  sql: string;
}

/** An in-memory SQLite database that migration files are replayed into. */
export class SchemaReplay {
  readonly #db = new DatabaseSync(':memory:', { enableForeignKeyConstraints: false });

  /**
   * Runs one statement. Returns SQLite's message when it fails (the statement then has no
   * effect), or null.
   */
  run(sql: string): string | null {
    try {
      this.#db.exec(sql);
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      // A migration's own BEGIN (reported separately) must not swallow the next files.
      if (this.#db.isTransaction) this.#finish();
    }
  }

  /** Compiles `sql` without running it: SQLite's message when it refuses, or null. */
  compile(sql: string): string | null {
    try {
      this.#db.prepare(sql);
      return null;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  #finish(): void {
    try {
      this.#db.exec('COMMIT');
    } catch {
      this.#db.exec('ROLLBACK');
    }
  }

  tableExists(name: string): boolean {
    return (
      this.#db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE")
        .get(name) !== undefined
    );
  }

  /**
   * True when SQLite takes `expression` as a constant default, the only kind `ALTER TABLE …
   * ADD COLUMN` accepts on a table with rows (https://www.sqlite.org/lang_altertable.html#altertabaddcol):
   * asked of SQLite itself, by adding a column with that default to a one-row scratch table
   * (`CURRENT_TIMESTAMP`, `datetime('now')`, even `(1 + 1)` are not constant; `-1`, `'x'`,
   * `TRUE`, `CAST(1 AS TEXT)` are). Null when SQLite refuses the expression itself.
   */
  defaultIsConstant(expression: string): boolean | null {
    try {
      this.#db.exec(
        'CREATE TEMP TABLE airlock_default_probe (x); INSERT INTO temp.airlock_default_probe VALUES (1)',
      );
    } catch {
      return null;
    }
    try {
      this.#db.exec(
        `ALTER TABLE temp.airlock_default_probe ADD COLUMN y DEFAULT (${expression}\n)`,
      );
      return true;
    } catch {
      try {
        // A statement SQLite refuses on an empty table is not about constancy.
        this.#db.exec('DELETE FROM temp.airlock_default_probe');
        this.#db.exec(
          `ALTER TABLE temp.airlock_default_probe ADD COLUMN y DEFAULT (${expression}\n)`,
        );
        return false;
      } catch {
        return null;
      }
    } finally {
      this.#db.exec('DROP TABLE temp.airlock_default_probe');
    }
  }

  /**
   * The columns `SELECT *` returns from `table`, in order (generated columns included, the
   * hidden columns of virtual tables not).
   */
  selectStarColumns(table: string): string[] {
    return (
      this.#db
        .prepare('SELECT name FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid')
        .all(table) as { name: string }[]
    ).map((r) => r.name);
  }

  /**
   * The columns an `INSERT INTO table` without a column list fills, in order (generated
   * columns are not filled).
   */
  insertColumns(table: string): string[] {
    return (
      this.#db
        .prepare('SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid')
        .all(table) as { name: string }[]
    ).map((r) => r.name);
  }

  columns(table: string): ColumnInfo[] {
    return (
      this.#db
        .prepare('SELECT name, type, "notnull" AS nn FROM pragma_table_info(?)')
        .all(table) as {
        name: string;
        type: string;
        nn: number;
      }[]
    ).map((r) => ({ name: r.name, type: r.type, notNull: r.nn === 1 }));
  }

  /** Every foreign key of every table. */
  foreignKeys(): ForeignKeyEdge[] {
    return (
      this.#db
        .prepare(
          `SELECT m.name AS child, f."table" AS parent, f."from" AS "from", f.on_delete AS onDelete
             FROM sqlite_master m, pragma_foreign_key_list(m.name) f
            WHERE m.type = 'table'`,
        )
        .all() as unknown as ForeignKeyEdge[]
    ).map((e) => ({ ...e }));
  }

  indexes(table: string): IndexInfo[] {
    const list = this.#db
      .prepare('SELECT name, "unique" AS u, origin, partial FROM pragma_index_list(?)')
      .all(table) as { name: string; u: number; origin: string; partial: number }[];
    const keyColumns = this.#db.prepare(
      'SELECT name FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno',
    );
    const sqlOf = this.#db.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ? COLLATE NOCASE",
    );
    return list.map((i) => ({
      name: i.name,
      unique: i.u === 1,
      origin: i.origin,
      partial: i.partial === 1,
      columns: (keyColumns.all(i.name) as { name: string | null }[]).map((c) => c.name ?? '<expr>'),
      sql: ((sqlOf.get(i.name) as { sql: string | null } | undefined)?.sql ?? null) || null,
    }));
  }

  triggers(table: string): TriggerInfo[] {
    return (
      this.#db
        .prepare(
          "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE",
        )
        .all(table) as { name: string; sql: string }[]
    ).map((t) => ({ name: t.name, sql: t.sql }));
  }

  close(): void {
    this.#db.close();
  }
}
