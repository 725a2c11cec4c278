/**
 * A database's schema as plain data (`SchemaSnapshot`): tables, columns with type,
 * nullability and default, primary keys, indexes, foreign keys, normalized so two databases
 * with the same schema give deep-equal snapshots. Read by introspect.ts, compared by
 * schema-compare.ts.
 *
 * Not represented: views, triggers, check constraints, sequences, column order, collations.
 */

/** One column. */
export interface ColumnSnapshot {
  name: string;
  /**
   * Lowercase. SQLite: the declared type with whitespace collapsed (`integer`, `varchar(20)`,
   * `''` when none). Postgres: `format_type` (`integer`, `character varying(20)`,
   * `timestamp with time zone`).
   */
  type: string;
  nullable: boolean;
  /**
   * The default expression as the engine prints it (`0`, `'draft'`, `CURRENT_TIMESTAMP`,
   * `nextval('notes_id_seq'::regclass)`), `generated … as identity` for a Postgres identity
   * column, `generated always as (…)` for a generated column; null when none.
   */
  default: string | null;
}

/** One index that is not the primary key's. */
export interface IndexSnapshot {
  /**
   * Its name. A SQLite index made for a `UNIQUE` constraint (`sqlite_autoindex_…`, whose
   * number depends on the order of the table's constraints) is named
   * `<table>_<columns>_key` instead, as Postgres names one.
   */
  name: string;
  unique: boolean;
  /** Key columns in order; an expression appears as its text (Postgres) or `<expression>`. */
  columns: string[];
  /** The predicate of a partial index, else null. */
  where: string | null;
}

/** One foreign key (named by what it links; SQLite foreign keys have no names). */
export interface ForeignKeySnapshot {
  columns: string[];
  /** Referenced table; qualified (`auth.users`) when in another Postgres schema. */
  references: string;
  referencedColumns: string[];
  /** Lowercase: `no action`, `restrict`, `cascade`, `set null`, `set default`. */
  onUpdate: string;
  onDelete: string;
}

export interface TableSnapshot {
  name: string;
  /** In the table's column order. */
  columns: ColumnSnapshot[];
  /** Primary key columns in key order; `[]` without one. */
  primaryKey: string[];
  /** Sorted by name. */
  indexes: IndexSnapshot[];
  /** Sorted by columns, then referenced table. */
  foreignKeys: ForeignKeySnapshot[];
}

/** A database's schema, normalized: equal schemas give deep-equal snapshots. Plain data. */
export interface SchemaSnapshot {
  engine: 'sqlite' | 'postgres';
  /** The Postgres schema described (`public`); null for SQLite. */
  schema: string | null;
  /** Sorted by name. */
  tables: TableSnapshot[];
}

export interface DescribeSchemaOptions {
  /** Postgres: the schema to describe. Default `public`. */
  schema?: string;
  /** More tables to leave out (by name), besides the ledgers and engine internals. */
  ignoreTables?: string[];
}

/** Orders text by UTF-16 code units, the same on every machine (no locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order of `TableSnapshot.foreignKeys`: by columns, then referenced table and columns. */
export function compareForeignKeys(x: ForeignKeySnapshot, y: ForeignKeySnapshot): number {
  return (
    compareText(x.columns.join(','), y.columns.join(',')) ||
    compareText(x.references, y.references) ||
    compareText(x.referencedColumns.join(','), y.referencedColumns.join(','))
  );
}
