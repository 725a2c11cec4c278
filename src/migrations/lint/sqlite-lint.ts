/**
 * Airlock's lint rules for SQLite and Cloudflare D1 (see `rules.ts` for the catalogue).
 *
 * Each reported file is parsed with sql-parser-cst (`dialect: 'sqlite'`, `includeRange`) and
 * walked statement by statement against a `SchemaReplay` holding the schema as of the file: the
 * earlier files are replayed into it in version order, and each statement of the file is run in
 * it right after being checked, so a rule sees the tables, foreign keys, indexes and triggers
 * that exist at that very statement.
 *
 * Engine facts the rules rely on (each shown on real SQLite in test/migrations/lint/):
 * - Airlock's `SqliteMigrationDriver` runs a file inside `BEGIN IMMEDIATE`, on a `node:sqlite`
 *   connection, which enforces foreign keys by default. D1 enforces them in every query and
 *   migration and ignores `PRAGMA foreign_keys`
 *   (https://developers.cloudflare.com/d1/sql-api/foreign-keys/).
 * - `PRAGMA foreign_keys` is a no-op inside a transaction
 *   (https://www.sqlite.org/pragma.html#pragma_foreign_keys).
 * - With foreign keys on, `DROP TABLE` first runs an implicit `DELETE FROM`, which fires ON
 *   DELETE actions; `PRAGMA defer_foreign_keys` defers checks, not actions
 *   (https://www.sqlite.org/foreignkeys.html#fk_schemacommands; D1's SQL statements page says
 *   the same for CASCADE).
 * - The 12-step table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter): create
 *   the new table, copy, `DROP TABLE` the old one, rename the new one, recreate indexes,
 *   triggers and views (step 8).
 * - D1 refuses `BEGIN`/`SAVEPOINT` (https://github.com/cloudflare/workerd/issues/5411).
 */

import {
  type AlterTableAction,
  type ColumnDefinition,
  type Expr,
  type Node,
  type Program,
  parse,
  type Statement,
} from 'sql-parser-cst';
import type { MigrationFile } from '../migration-files.ts';
import { airlockSeverity } from './rules.ts';
import {
  type ColumnInfo,
  type ForeignKeyEdge,
  type IndexInfo,
  SchemaReplay,
  type TriggerInfo,
} from './schema-replay.ts';
import { SourceText } from './source-text.ts';
import type { DestructiveChange, LintFinding } from './types.ts';

export interface EngineLintResult {
  /** Findings before suppression, for the reported files only. */
  findings: LintFinding[];
  destructive: DestructiveChange[];
}

type SqliteEngine = 'sqlite' | 'd1';

/**
 * Lints `files` (sorted by version) for SQLite or D1, reporting on the versions in `report`
 * (all when undefined). Files after the last reported one are not read.
 */
export function lintSqliteMigrations(
  files: MigrationFile[],
  engine: SqliteEngine,
  report: ReadonlySet<number> | undefined,
  contractOf: (file: MigrationFile) => boolean,
): EngineLintResult {
  const last = report ? Math.max(...report) : Number.POSITIVE_INFINITY;
  const replay = new SchemaReplay();
  const findings: LintFinding[] = [];
  const destructive: DestructiveChange[] = [];
  try {
    for (const file of files) {
      if (file.version > last) break;
      if (report && !report.has(file.version)) {
        replayContext(replay, file);
        continue;
      }
      const result = new FileLint(file, engine, replay, contractOf(file)).run();
      findings.push(...result.findings);
      destructive.push(...result.destructive);
    }
  } finally {
    replay.close();
  }
  return { findings, destructive };
}

/** Replays a file that is only context: whole, or statement by statement if that fails. */
function replayContext(replay: SchemaReplay, file: MigrationFile): void {
  if (replay.run(file.sql) === null) return;
  let program: Program;
  try {
    program = parseSqlite(file);
  } catch {
    return; // the schema stays as far as SQLite got
  }
  for (const statement of program.statements) {
    if (statement.type === 'empty' || isTransactionControl(statement)) continue;
    const [start, end] = statement.range!;
    replay.run(file.sql.slice(start, end));
  }
}

function parseSqlite(file: MigrationFile): Program {
  return parse(file.sql, { dialect: 'sqlite', includeRange: true, filename: file.filename });
}

/** What DROP TABLE is about to remove, read from the replay just before it runs. */
interface DropRecord {
  table: string;
  statementIndex: number;
  offset: number;
  existed: boolean;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  triggers: TriggerInfo[];
  graph: ForeignKeyEdge[];
  /** Lowercase names of the tables this file had created before the DROP. */
  createdBefore: Set<string>;
}

interface Write {
  table: string;
  kind: 'insert' | 'update' | 'delete';
  statementIndex: number;
}

interface SchemaEvent {
  kind: 'create-table' | 'rename-to';
  table: string;
  statementIndex: number;
}

/** The lint of one file. */
class FileLint {
  readonly #file: MigrationFile;
  readonly #engine: SqliteEngine;
  readonly #replay: SchemaReplay;
  readonly #contract: boolean;
  readonly #source: SourceText;
  readonly #findings: LintFinding[] = [];
  readonly #destructive: DestructiveChange[] = [];
  /** Statements (by index) with an error finding already: no replay error on top. */
  readonly #flagged = new Set<number>();
  /** Lowercase names of tables and views this file created (not live anywhere yet). */
  readonly #created = new Set<string>();
  readonly #drops: DropRecord[] = [];
  readonly #viewDrops: Array<{ view: string; offset: number; statementIndex: number }> = [];
  readonly #createdViews: Array<{ view: string; statementIndex: number }> = [];
  readonly #writes: Write[] = [];
  readonly #events: SchemaEvent[] = [];

  constructor(file: MigrationFile, engine: SqliteEngine, replay: SchemaReplay, contract: boolean) {
    this.#file = file;
    this.#engine = engine;
    this.#replay = replay;
    this.#contract = contract;
    this.#source = new SourceText(file.sql);
  }

  run(): EngineLintResult {
    let program: Program;
    try {
      program = parseSqlite(this.#file);
    } catch (error) {
      this.#unparsed(error);
      return { findings: this.#findings, destructive: this.#destructive };
    }
    let replayFailure: { offset: number; message: string } | undefined;
    let laterFailures = 0;
    program.statements.forEach((statement, index) => {
      if (statement.type === 'empty') return;
      const [start, end] = statement.range!;
      const execute = this.#check(statement, index);
      if (!execute) return;
      const failure = this.#replay.run(this.#file.sql.slice(start, end));
      if (failure === null || this.#flagged.has(index)) return;
      if (replayFailure) laterFailures++;
      else replayFailure = { offset: start, message: failure };
    });
    if (replayFailure) {
      const later =
        laterFailures > 0
          ? ` ${laterFailures} later statement${laterFailures === 1 ? '' : 's'} of this file failed too, probably because of it.`
          : '';
      this.#add(
        'replay-error',
        replayFailure.offset,
        `SQLite refuses this statement when the migrations up to ${this.#file.filename} are replayed in order into an empty database: ${replayFailure.message}. A fresh ${this.#engineName()} database fails the same way, and so will staging.${later}`,
        'Fix the statement. If it needs a table that was created outside the migrations, add that schema as an earlier migration first, so every environment can be built from the migrations alone.',
      );
    }
    this.#resolveDrops();
    this.#resolveViewDrops();
    return { findings: this.#findings, destructive: this.#destructive };
  }

  /** Checks one statement before it runs; returns false when it must not run in the replay. */
  #check(statement: Statement, index: number): boolean {
    const start = statement.range![0];
    switch (statement.type) {
      case 'start_transaction_stmt':
      case 'commit_transaction_stmt':
      case 'rollback_transaction_stmt':
      case 'savepoint_stmt':
      case 'release_savepoint_stmt':
        this.#transaction(statement, index, start);
        return false;
      case 'pragma_stmt':
        return this.#pragma(statement, index, start);
      case 'alter_table_stmt': {
        const table = entityName(statement.table);
        if (table) {
          for (const action of statement.actions.items) this.#alter(table, action, index, start);
        }
        return true;
      }
      case 'drop_table_stmt':
        for (const item of statement.tables.items) {
          const table = entityName(item);
          if (table) this.#drop(table, index, start);
        }
        return true;
      case 'drop_view_stmt':
        for (const item of statement.views.items) {
          const view = entityName(item);
          if (!view) continue;
          if (this.#created.delete(view.toLowerCase())) continue;
          this.#viewDrops.push({ view, offset: start, statementIndex: index });
        }
        return true;
      case 'create_table_stmt': {
        const table = entityName(statement.name);
        if (table) {
          const replacesLive = this.#drops.some(
            (d) => d.table.toLowerCase() === table.toLowerCase(),
          );
          if (!replacesLive) this.#created.add(table.toLowerCase());
          this.#events.push({ kind: 'create-table', table, statementIndex: index });
        }
        return true;
      }
      case 'create_view_stmt': {
        const view = entityName(statement.name);
        if (view) {
          this.#created.add(view.toLowerCase());
          this.#createdViews.push({ view, statementIndex: index });
        }
        return true;
      }
      case 'insert_stmt':
      case 'update_stmt':
      case 'delete_stmt':
        this.#write(statement, index);
        return true;
      default:
        return true;
    }
  }

  #transaction(statement: Statement, index: number, offset: number): void {
    const savepoint =
      statement.type === 'savepoint_stmt' ||
      statement.type === 'release_savepoint_stmt' ||
      (statement.type === 'rollback_transaction_stmt' && statement.savepoint !== undefined);
    const text = firstLine(this.#statementText(statement));
    if (this.#engine === 'd1') {
      this.#flagged.add(index);
      this.#add(
        'd1-explicit-transaction',
        offset,
        `\`${text}\` controls a transaction, which D1 refuses ("To execute a transaction, please use the state.storage.transaction() … APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements"): D1 runs each migration file as one batch, which is already atomic.`,
        'Remove every BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT and RELEASE from the file; if part of it must not be atomic with the rest, put it in a migration of its own.',
      );
      return;
    }
    if (savepoint) return; // nested savepoints are legal inside Airlock's transaction
    this.#flagged.add(index);
    this.#add(
      'explicit-transaction',
      offset,
      `\`${text}\` controls a transaction, but Airlock already runs each SQLite migration in one transaction (BEGIN IMMEDIATE) together with its ledger row: a BEGIN fails ("cannot start a transaction within a transaction"), and a COMMIT or ROLLBACK ends Airlock's transaction early, so a later failure leaves part of the file applied without a ledger row.`,
      'Remove the BEGIN/COMMIT/ROLLBACK statements: the whole file is atomic already. Use SAVEPOINT … RELEASE if you need to roll back part of it.',
    );
  }

  /** Returns false for `PRAGMA foreign_keys`, which must not change the replay. */
  #pragma(
    statement: Extract<Statement, { type: 'pragma_stmt' }>,
    index: number,
    offset: number,
  ): boolean {
    const pragma = statement.pragma;
    const name =
      pragma.type === 'pragma_assignment' || pragma.type === 'pragma_func_call'
        ? entityName(pragma.name)
        : entityName(pragma);
    if (name?.toLowerCase() !== 'foreign_keys') return true;
    const value =
      pragma.type === 'pragma_assignment'
        ? pragma.value
        : pragma.type === 'pragma_func_call'
          ? pragma.args.expr
          : undefined;
    if (!value || !isOff(value)) return false;
    this.#flagged.add(index);
    if (this.#engine === 'd1') {
      this.#add(
        'd1-foreign-keys-pragma',
        offset,
        `\`${firstLine(this.#statementText(statement))}\` does nothing on D1: D1 enforces foreign keys in every query and migration (like PRAGMA foreign_keys = on in every transaction) and ignores attempts to turn them off, so the statements after it run with foreign keys enforced — a DROP TABLE still fires ON DELETE CASCADE, and rows that violate a foreign key still fail.`,
        'Replace it with `PRAGMA defer_foreign_keys = on`, which lets the rest of the file violate foreign keys until it ends (they are checked then). It does not stop ON DELETE actions: see the rebuild rules.',
      );
    } else {
      this.#add(
        'foreign-keys-pragma',
        offset,
        `\`${firstLine(this.#statementText(statement))}\` does nothing here: SQLite ignores PRAGMA foreign_keys inside a transaction, and Airlock runs each migration inside one, on a node:sqlite connection with foreign keys on. The statements after it run with foreign keys enforced — a DROP TABLE still fires ON DELETE CASCADE.`,
        'Remove it. Use `PRAGMA defer_foreign_keys = on` to let the file violate foreign keys until it ends (checked at COMMIT); it does not stop ON DELETE actions.',
      );
    }
    return false;
  }

  #alter(table: string, action: AlterTableAction, index: number, offset: number): void {
    const at = action.range?.[0] ?? offset;
    const createdHere = this.#created.has(table.toLowerCase());
    switch (action.type) {
      case 'alter_action_add_column':
        this.#addColumn(table, action.column, index);
        return;
      case 'alter_action_drop_column':
        if (!createdHere) {
          this.#change({ kind: 'drop-column', table, column: action.column.name }, at);
        }
        return;
      case 'alter_action_rename_column':
        if (!createdHere) {
          this.#change(
            {
              kind: 'rename-column',
              table,
              column: action.oldName.name,
              to: action.newName.name,
            },
            at,
          );
        }
        return;
      case 'alter_action_rename': {
        const to = entityName(action.newName);
        if (!to) return;
        this.#events.push({ kind: 'rename-to', table: to, statementIndex: index });
        const rebuilding = this.#drops.some(
          (d) => d.table.toLowerCase() === to.toLowerCase() && d.statementIndex < index,
        );
        if (createdHere) {
          this.#created.delete(table.toLowerCase());
          // Renamed into a live table's place (the rebuild), it is that live table now.
          if (!rebuilding) this.#created.add(to.toLowerCase());
        } else if (!rebuilding) {
          this.#change({ kind: 'rename-table', table, to }, at);
        }
        return;
      }
      default:
        return;
    }
  }

  #addColumn(table: string, column: ColumnDefinition, index: number): void {
    const constraints = column.constraints.map((c) => (c.type === 'constraint' ? c.constraint : c));
    if (!constraints.some((c) => c.type === 'constraint_not_null')) return;
    if (constraints.some((c) => c.type === 'constraint_generated')) return;
    const defaults = constraints.filter((c) => c.type === 'constraint_default');
    const dflt = defaults.at(-1);
    if (dflt && !isNull(dflt.expr)) return;
    this.#flagged.add(index);
    const name = column.name.name;
    const type = column.dataType ? this.#text(column.dataType) : '';
    this.#add(
      'add-not-null-column-without-default',
      column.range![0],
      `Column ${table}.${name} is added NOT NULL ${dflt ? 'with DEFAULT NULL' : 'without a DEFAULT'}: SQLite${this.#engine === 'd1' ? ' (and so D1)' : ''} gives every existing row the column's default, NULL, so the ALTER TABLE fails with "Cannot add a NOT NULL column with default value NULL" on any table with rows — it passes on an empty staging table and fails in production.`,
      `Give it a non-NULL default: \`ALTER TABLE ${table} ADD COLUMN ${name}${type ? ` ${type}` : ''} NOT NULL DEFAULT <value>\`; or add it nullable, backfill it, and enforce the value in the application (adding NOT NULL to an existing column takes a table rebuild).`,
    );
  }

  #drop(table: string, index: number, offset: number): void {
    const key = table.toLowerCase();
    if (this.#created.delete(key)) return; // a table of this file: nothing live uses it
    const existed = this.#replay.tableExists(table);
    this.#drops.push({
      table,
      statementIndex: index,
      offset,
      existed,
      columns: existed ? this.#replay.columns(table) : [],
      indexes: existed ? this.#replay.indexes(table) : [],
      triggers: existed ? this.#replay.triggers(table) : [],
      graph: existed ? this.#replay.foreignKeys() : [],
      createdBefore: new Set(this.#created),
    });
  }

  #write(statement: Statement, index: number): void {
    if (
      statement.type !== 'insert_stmt' &&
      statement.type !== 'update_stmt' &&
      statement.type !== 'delete_stmt'
    ) {
      return;
    }
    for (const clause of statement.clauses) {
      if (clause.type === 'insert_clause') {
        const table = entityName(clause.table);
        if (table) this.#writes.push({ table, kind: 'insert', statementIndex: index });
      } else if (clause.type === 'update_clause' || clause.type === 'delete_clause') {
        for (const item of clause.tables.items) {
          const table = entityName(item);
          if (table) {
            this.#writes.push({
              table,
              kind: clause.type === 'update_clause' ? 'update' : 'delete',
              statementIndex: index,
            });
          }
        }
      }
    }
  }

  /** After the whole file: what each DROP TABLE turned out to be. */
  #resolveDrops(): void {
    for (const drop of this.#drops) {
      const key = drop.table.toLowerCase();
      const after = (e: { statementIndex: number }) => e.statementIndex > drop.statementIndex;
      const renamedInto = this.#events.some(
        (e) => e.kind === 'rename-to' && e.table.toLowerCase() === key && after(e),
      );
      const createdAgain = this.#events.find(
        (e) => e.kind === 'create-table' && e.table.toLowerCase() === key && after(e),
      );
      const refilled =
        createdAgain !== undefined &&
        this.#writes.some(
          (w) =>
            w.kind === 'insert' &&
            w.table.toLowerCase() === key &&
            w.statementIndex > createdAgain.statementIndex,
        );
      const exists = this.#replay.tableExists(drop.table);
      const rebuilt = exists && (renamedInto || refilled);
      if (!rebuilt) {
        if (!exists || drop.existed) {
          this.#change(
            { kind: 'drop-table', table: drop.table },
            drop.offset,
            exists ? 'is dropped and created again empty, so its rows are gone' : undefined,
          );
        }
      } else if (drop.existed) {
        this.#rebuiltColumns(drop);
        this.#lostIndexesAndTriggers(drop);
      }
      if (drop.existed) this.#children(drop, rebuilt);
    }
  }

  #resolveViewDrops(): void {
    for (const drop of this.#viewDrops) {
      const recreated = this.#createdViews.some(
        (v) =>
          v.view.toLowerCase() === drop.view.toLowerCase() &&
          v.statementIndex > drop.statementIndex,
      );
      if (!recreated) this.#change({ kind: 'drop-view', table: drop.view }, drop.offset);
    }
  }

  /** Columns a rebuild leaves out or retypes. */
  #rebuiltColumns(drop: DropRecord): void {
    const now = new Map(this.#replay.columns(drop.table).map((c) => [c.name.toLowerCase(), c]));
    for (const old of drop.columns) {
      const current = now.get(old.name.toLowerCase());
      if (!current) {
        this.#change(
          { kind: 'drop-column', table: drop.table, column: old.name },
          drop.offset,
          'is left out of the rebuilt table',
        );
      } else if (normalType(current.type) !== normalType(old.type)) {
        this.#change(
          {
            kind: 'change-column-type',
            table: drop.table,
            column: old.name,
            to: current.type || '(no type)',
          },
          drop.offset,
          `changes type from ${old.type || '(no type)'} to ${current.type || '(no type)'} in the rebuild`,
        );
      }
    }
  }

  #lostIndexesAndTriggers(drop: DropRecord): void {
    const signature = (i: IndexInfo) =>
      `${i.unique}|${i.origin === 'pk' ? 'pk' : ''}|${i.partial}|${i.columns.join(',').toLowerCase()}`;
    const now = new Set(this.#replay.indexes(drop.table).map(signature));
    const lostIndexes = drop.indexes.filter((i) => i.origin !== 'pk' && !now.has(signature(i)));
    const triggersNow = new Set(this.#replay.triggers(drop.table).map((t) => t.name.toLowerCase()));
    const lostTriggers = drop.triggers.filter((t) => !triggersNow.has(t.name.toLowerCase()));
    if (lostIndexes.length === 0 && lostTriggers.length === 0) return;
    const described = [
      ...lostIndexes.map(
        (i) =>
          `${i.unique ? 'UNIQUE ' : ''}index ${i.origin === 'u' ? `(UNIQUE constraint) ` : `${i.name} `}on (${i.columns.join(', ')})`,
      ),
      ...lostTriggers.map((t) => `trigger ${t.name}`),
    ];
    const recreate = [
      ...lostIndexes.map((i) =>
        i.sql ? `${i.sql};` : `declare UNIQUE (${i.columns.join(', ')}) in the new CREATE TABLE`,
      ),
      ...lostTriggers.map((t) => `${t.sql};`),
    ];
    this.#add(
      'rebuild-drops-indexes-or-triggers',
      drop.offset,
      `The rebuild of ${drop.table} loses its ${described.join(', ')}: DROP TABLE removes every index and trigger of the old table, and the rebuilt table does not have ${described.length === 1 ? 'it' : 'them'} (step 8 of SQLite's 12-step ALTER TABLE procedure recreates them). A lost UNIQUE index lets duplicates in, a lost trigger silently stops running, a lost index turns lookups into table scans.`,
      `After the rename, recreate them: ${recreate.join(' ')}`,
    );
  }

  /** ON DELETE actions a DROP TABLE of `drop.table` fires, and children it cannot drop past. */
  #children(drop: DropRecord, rebuilt: boolean): void {
    const key = drop.table.toLowerCase();
    const deleted = new Map<string, string>(); // lowercase table → why
    const nulled = new Map<string, string>();
    const blocking = new Map<string, string>();
    const queue = [key];
    const deletedKeys = new Set([key]);
    // A child this file created has no rows to lose, unless the file put some there before
    // the DROP (the rebuild's own new table, when it references the old one by name).
    const empty = (child: string) =>
      drop.createdBefore.has(child) &&
      !this.#writes.some(
        (w) =>
          w.kind === 'insert' &&
          w.table.toLowerCase() === child &&
          w.statementIndex < drop.statementIndex,
      );
    while (queue.length > 0) {
      const parent = queue.shift()!;
      for (const edge of drop.graph) {
        const child = edge.child.toLowerCase();
        if (edge.parent.toLowerCase() !== parent || child === parent || empty(child)) continue;
        const why = `${edge.child}.${edge.from} REFERENCES ${edge.parent} ON DELETE ${edge.onDelete}`;
        const action = edge.onDelete.toUpperCase();
        if (action === 'CASCADE') {
          if (!deletedKeys.has(child)) {
            deletedKeys.add(child);
            deleted.set(edge.child, why);
            queue.push(child);
          }
        } else if (action === 'SET NULL' || action === 'SET DEFAULT') {
          nulled.set(edge.child, why);
        } else {
          blocking.set(edge.child, why);
        }
      }
    }
    const writes = (table: string, kind: Write['kind'], when: 'before' | 'after') =>
      this.#writes.some(
        (w) =>
          w.table.toLowerCase() === table.toLowerCase() &&
          w.kind === kind &&
          (when === 'after'
            ? w.statementIndex > drop.statementIndex
            : w.statementIndex < drop.statementIndex),
      );
    const lostRows = [...deleted].filter(([t]) => !writes(t, 'insert', 'after'));
    const lostValues = [...nulled].filter(
      ([t]) => !writes(t, 'insert', 'after') && !writes(t, 'update', 'after'),
    );
    const stuck = [...blocking].filter(
      ([t]) => !(writes(t, 'delete', 'before') && writes(t, 'insert', 'after')),
    );
    const what = rebuilt
      ? `Rebuilding ${drop.table} (DROP TABLE ${drop.table}, then putting a new table in its place)`
      : `Dropping ${drop.table}`;
    const enforced =
      this.#engine === 'd1'
        ? 'D1 always enforces foreign keys and ignores PRAGMA foreign_keys = OFF'
        : "Airlock's SQLite driver runs with foreign keys on (node:sqlite's default) and PRAGMA foreign_keys = OFF is a no-op inside the file's transaction";
    if (lostRows.length > 0 || lostValues.length > 0) {
      const effects = [
        ...lostRows.map(([t, why]) => `deletes every row of ${t} that points to it (${why})`),
        ...lostValues.map(([t, why]) => `rewrites the foreign key of every row of ${t} (${why})`),
      ];
      const nulledColumn = (t: string) =>
        drop.graph.find(
          (e) =>
            e.child === t &&
            (e.onDelete.toUpperCase() === 'SET NULL' || e.onDelete.toUpperCase() === 'SET DEFAULT'),
        )?.from ?? 'fk';
      const before = [
        ...lostRows.map(([t]) => `CREATE TABLE ${t}_keep AS SELECT * FROM ${t};`),
        ...lostValues.map(
          ([t]) =>
            `CREATE TABLE ${t}_keep AS SELECT rowid AS keep_rowid, ${nulledColumn(t)} FROM ${t};`,
        ),
      ];
      const after = [
        ...lostRows.map(([t]) => `INSERT INTO ${t} SELECT * FROM ${t}_keep; DROP TABLE ${t}_keep;`),
        ...lostValues.map(([t]) => {
          const c = nulledColumn(t);
          return `UPDATE ${t} SET ${c} = (SELECT ${c} FROM ${t}_keep WHERE keep_rowid = ${t}.rowid); DROP TABLE ${t}_keep;`;
        }),
      ];
      this.#add(
        'rebuild-with-cascading-children',
        drop.offset,
        `${what} ${effects.join('; ')}: with foreign keys enforced, DROP TABLE first runs an implicit DELETE FROM ${drop.table}, which fires these ON DELETE actions, silently. ${enforced}; PRAGMA defer_foreign_keys defers checks, not ON DELETE actions.`,
        rebuilt
          ? `Prefer ALTER TABLE … ADD / RENAME / DROP COLUMN, which change ${drop.table} in place. If the rebuild is unavoidable, keep what the DROP destroys: before it, ${before.join(' ')} After the rename, ${after.join(' ')} (lint accepts the rebuild once each of these tables gets an INSERT, or for rewritten keys an UPDATE, after the DROP).`
          : `Drop or change the children first (their foreign keys would point at a missing table anyway), or keep their rows as above; if losing them is intended, say so with \`-- airlock:lint-ignore rebuild-with-cascading-children <reason>\`.`,
      );
    }
    if (stuck.length > 0) {
      const tables = stuck.map(([t]) => t);
      this.#add(
        'rebuild-with-referencing-children',
        drop.offset,
        `${what} fails with "FOREIGN KEY constraint failed" as soon as ${tables.join(', ')} ${tables.length === 1 ? 'has' : 'have'} rows (${stuck.map(([, why]) => why).join('; ')}): the implicit DELETE FROM ${drop.table} of DROP TABLE violates ${tables.length === 1 ? 'that foreign key' : 'those foreign keys'}, at once, or at COMMIT with PRAGMA defer_foreign_keys = on — SQLite does not check the rows again against the table put in its place. A staging database with empty children passes; production fails.`,
        `Empty the children first and put their rows back after the rebuild: ${tables.map((t) => `CREATE TABLE ${t}_keep AS SELECT * FROM ${t}; DELETE FROM ${t};`).join(' ')} … rebuild … ${tables.map((t) => `INSERT INTO ${t} SELECT * FROM ${t}_keep; DROP TABLE ${t}_keep;`).join(' ')} Or avoid the rebuild with ALTER TABLE … ADD / RENAME / DROP COLUMN.`,
      );
    }
  }

  /** Records a destructive change, and reports it outside a contract file. */
  #change(
    change: Pick<DestructiveChange, 'kind' | 'table' | 'column' | 'to'>,
    offset: number,
    detail?: string,
  ): void {
    const { line, col } = this.#source.position(offset);
    this.#destructive.push({
      ...change,
      file: this.#file.filename,
      path: this.#file.path,
      version: this.#file.version,
      line,
      col,
      contract: this.#contract,
    });
    if (this.#contract) return;
    const { message, fix } = describeDestructive(change, detail);
    this.#add('destructive-change-outside-contract', offset, message, fix);
  }

  #unparsed(error: unknown): void {
    const text = error instanceof Error ? error.message : String(error);
    const where = /--> .*:(\d+):(\d+)\s*$/m.exec(text);
    const line = where ? Number(where[1]) : 1;
    const col = where ? Number(where[2]) : 1;
    const offset =
      this.#source.lineStart(line) +
      [...this.#source.lineText(line)].slice(0, col - 1).join('').length;
    const parser = text.split('\n', 1)[0]!;
    const sqlite = this.#replay.run(this.#file.sql);
    if (sqlite === null) {
      this.#add(
        'unparsed-statement',
        offset,
        `Airlock's SQLite parser cannot read this file (${parser}), although SQLite accepts it, so none of its statements were linted.`,
        'Check the file by hand against the rules of `airlock migrate lint`; if the syntax is ordinary SQLite, report it to Airlock with the statement.',
      );
    } else {
      this.#add(
        'syntax-error',
        offset,
        `The file does not parse: ${parser}. SQLite refuses it too: ${sqlite}.`,
        'Fix the SQL at this position.',
      );
    }
  }

  #add(rule: string, offset: number, message: string, fix: string): void {
    const { line, col } = this.#source.position(offset);
    this.#findings.push({
      rule,
      severity: airlockSeverity(rule),
      file: this.#file.filename,
      path: this.#file.path,
      line,
      col,
      message,
      fix,
    });
  }

  #statementText(statement: Statement): string {
    return this.#text(statement);
  }

  #text(node: Node): string {
    const [start, end] = node.range!;
    return this.#file.sql.slice(start, end);
  }

  #engineName(): string {
    return this.#engine === 'd1' ? 'D1' : 'SQLite';
  }
}

/** The message and fix of `destructive-change-outside-contract` for one change. */
export function describeDestructive(
  change: Pick<DestructiveChange, 'kind' | 'table' | 'column' | 'to'>,
  detail?: string,
): { message: string; fix: string } {
  const live =
    'the release still serving traffic while this migration runs, and any release you roll back to, may still use it';
  const contract =
    'then do the destructive step in a later migration containing the line `-- airlock:contract`, once no live release uses the old shape. If nothing uses it already, mark this file `-- airlock:contract`, or suppress with `-- airlock:lint-ignore destructive-change-outside-contract <reason>`.';
  const column = `${change.table}.${change.column ?? ''}`;
  switch (change.kind) {
    case 'drop-table':
      return {
        message: `Table ${change.table} ${detail ?? 'is dropped'} outside a contract migration: ${live}, and fails once it is gone (expand/contract).`,
        fix: `First deploy code that no longer reads or writes ${change.table}, ${contract}`,
      };
    case 'drop-view':
      return {
        message: `View ${change.table} is dropped outside a contract migration: ${live}, and fails once it is gone (expand/contract).`,
        fix: `First deploy code that no longer reads ${change.table}, ${contract}`,
      };
    case 'drop-column':
      return {
        message: `Column ${column} ${detail ?? 'is dropped'} outside a contract migration: ${live}, and its queries fail without it (expand/contract).`,
        fix: `First deploy code that no longer reads or writes ${column}, ${contract}`,
      };
    case 'rename-column':
      return {
        message: `Column ${column} is renamed to ${change.to} outside a contract migration: ${live} under its old name, and fails after the rename (expand/contract).`,
        fix: `Expand: add ${change.to}, write both columns, backfill it, and deploy code that reads ${change.to}; ${contract}`,
      };
    case 'rename-table':
      return {
        message: `Table ${change.table} is renamed to ${change.to} outside a contract migration: ${live} under its old name, and fails after the rename (expand/contract).`,
        fix: `Expand: create ${change.to} (or a view named ${change.table} over it while code moves), copy and dual-write, deploy code that uses ${change.to}; ${contract}`,
      };
    case 'change-column-type':
      return {
        message: `Column ${column} ${detail ?? `changes type to ${change.to ?? 'another type'}`} outside a contract migration: ${live} with values of the old type.`,
        fix: `Expand: add a new column of the new type, write both, backfill it, deploy code that reads it; ${contract}`,
      };
  }
}

function isTransactionControl(statement: Statement): boolean {
  return (
    statement.type === 'start_transaction_stmt' ||
    statement.type === 'commit_transaction_stmt' ||
    statement.type === 'rollback_transaction_stmt' ||
    statement.type === 'savepoint_stmt' ||
    statement.type === 'release_savepoint_stmt'
  );
}

/** The unqualified name of a table reference (`main.notes` → `notes`), if it is one. */
export function entityName(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'identifier') return node.name;
  if (node.type === 'member_expr' && node.property.type === 'identifier') return node.property.name;
  if (node.type === 'alias') return entityName(node.expr);
  return undefined;
}

/** True for `NULL` and `(NULL)`. */
function isNull(expr: Expr): boolean {
  if (expr.type === 'null_literal') return true;
  if (expr.type === 'paren_expr') return isNull(expr.expr as Expr);
  return false;
}

/** True for the values that turn a boolean PRAGMA off: 0, off, false, no (any case, quoted or not). */
function isOff(node: Node): boolean {
  let text: string;
  if (node.type === 'keyword' || node.type === 'identifier' || node.type === 'number_literal') {
    text = node.text;
  } else if (node.type === 'string_literal') {
    text = String(node.value);
  } else if (node.type === 'boolean_literal') {
    text = String(node.value);
  } else {
    return false;
  }
  return ['0', 'off', 'false', 'no'].includes(text.trim().toLowerCase());
}

function normalType(type: string): string {
  return type.trim().replace(/\s+/g, ' ').toUpperCase();
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
