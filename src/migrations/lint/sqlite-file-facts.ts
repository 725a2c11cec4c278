/**
 * What one SQLite/D1 migration file does to the schema, gathered statement by statement as the
 * lint walks it (sqlite-lint.ts), for the rules that judge the file as a whole: the tables and
 * views it creates, drops and renames, the rows it writes, and — once the file has run in the
 * replay — what each `DROP TABLE` turned out to be: a plain drop, a drop and an empty
 * re-creation, or the 12-step table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter:
 * create the new table, copy, drop the old one, rename the new one into its place).
 *
 * It also lists the file's destructive changes (`changes`): dropping or renaming a table or
 * column, changing a column's type (in a rebuild), dropping a view or a trigger. A table, view
 * or trigger the file itself created is not live anywhere yet, so changing it is not destructive
 * (a `CREATE TABLE IF NOT EXISTS` of a table the schema already has creates nothing).
 */

import { InternalError } from '../../errors.ts';
import type {
  ColumnInfo,
  ForeignKeyEdge,
  IndexInfo,
  SchemaReplay,
  TriggerInfo,
} from './schema-replay.ts';
import type { ReadStatement, SqliteAlterAction } from './sqlite-statement.ts';
import type { DestructiveChange } from './types.ts';

/** What a `DROP TABLE` was about to remove, read from the replay just before it ran. */
export interface DropRecord {
  table: string;
  /** Index of the DROP statement in the file's statements. */
  statementIndex: number;
  /** UTF-16 offset of the DROP statement in the file. */
  offset: number;
  /** False when the table did not exist (the DROP then fails or has IF EXISTS). */
  existed: boolean;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  triggers: TriggerInfo[];
  /** Every foreign key of the schema at the DROP. */
  graph: ForeignKeyEdge[];
  /** Lowercase names of the tables this file had created before the DROP. */
  createdBefore: Set<string>;
}

/** A `DROP TABLE` once the whole file ran. */
export interface ResolvedDrop extends DropRecord {
  /**
   * True when a table of the same name exists after the file and was put in place after the
   * DROP by a rename or by a CREATE TABLE then filled with INSERT: the 12-step rebuild.
   */
  rebuilt: boolean;
}

/** A row write of the file. */
export interface Write {
  table: string;
  kind: 'insert' | 'update' | 'delete';
  statementIndex: number;
}

/** A destructive change of the file, where it is made. */
export interface FileChange extends Pick<DestructiveChange, 'kind' | 'table' | 'column' | 'to'> {
  /** UTF-16 offset in the file of the statement (or ALTER action) that makes it. */
  offset: number;
  /** How it happens, when not by its own statement (`is left out of the rebuilt table`). */
  detail?: string;
}

/** A statement that creates or drops one named object. */
export interface ObjectStatement {
  object: 'table' | 'view' | 'index' | 'trigger';
  name: string;
  /** UTF-16 offset of the statement. */
  offset: number;
  statementIndex: number;
}

interface SchemaEvent {
  kind: 'create-table' | 'rename-to';
  table: string;
  statementIndex: number;
}

/** The facts of one file; `record` each statement before it runs, then `resolve` once. */
export class FileFacts {
  readonly #replay: SchemaReplay;
  /**
   * Lowercase names of the tables this file created (not live anywhere yet), and of its views
   * and triggers as `view:<name>` and `trigger:<name>`.
   */
  readonly #created = new Set<string>();
  readonly #drops: DropRecord[] = [];
  /** DROP VIEW and DROP TRIGGER of objects the file did not create. */
  readonly #objectDrops: Array<{
    object: 'view' | 'trigger';
    name: string;
    offset: number;
    statementIndex: number;
  }> = [];
  readonly #createdObjects: Array<{
    object: 'view' | 'trigger';
    name: string;
    statementIndex: number;
  }> = [];
  readonly #writes: Write[] = [];
  readonly #ifNotExists: ObjectStatement[] = [];
  readonly #objectDropsAll: ObjectStatement[] = [];
  readonly #events: SchemaEvent[] = [];
  readonly #changes: FileChange[] = [];
  #resolved: ResolvedDrop[] | undefined;

  /** `replay` holds the schema as of the file's start, and runs its statements as it goes. */
  constructor(replay: SchemaReplay) {
    this.#replay = replay;
  }

  /** The file's row writes so far, in order. */
  get writes(): readonly Write[] {
    return this.#writes;
  }

  /** The file's `CREATE … IF NOT EXISTS` statements so far, in order. */
  get createsIfNotExists(): readonly ObjectStatement[] {
    return this.#ifNotExists;
  }

  /** The file's `DROP TABLE/VIEW/INDEX/TRIGGER` statements so far, in order. */
  get objectDrops(): readonly ObjectStatement[] {
    return this.#objectDropsAll;
  }

  /** Destructive changes so far, in the order they are made (rebuilds and view drops last). */
  get changes(): readonly FileChange[] {
    return this.#changes;
  }

  /**
   * Every `DROP TABLE` of a table the file did not create, as resolved by `resolve`.
   *
   * @throws InternalError `INTERNAL` before `resolve()`.
   */
  get drops(): readonly ResolvedDrop[] {
    if (!this.#resolved) {
      throw new InternalError('INTERNAL', 'FileFacts.drops was read before resolve().');
    }
    return this.#resolved;
  }

  /** Records statement `index`, before it runs in the replay. */
  record(statement: ReadStatement, index: number): void {
    const start = statement.start;
    switch (statement.kind) {
      case 'alter-table':
        this.#alter(statement.table.name, statement.action, index);
        return;
      case 'drop':
        this.#objectDropsAll.push({
          object: statement.object,
          name: statement.name.name,
          offset: start,
          statementIndex: index,
        });
        if (statement.object === 'table') this.#drop(statement.name.name, index, start);
        else if (statement.object === 'view' || statement.object === 'trigger') {
          const name = statement.name.name;
          if (this.#created.delete(`${statement.object}:${name.toLowerCase()}`)) return;
          this.#objectDrops.push({
            object: statement.object,
            name,
            offset: start,
            statementIndex: index,
          });
        }
        return;
      case 'create': {
        const name = statement.name.name;
        if (statement.ifNotExists) {
          this.#ifNotExists.push({
            object: statement.object,
            name,
            offset: start,
            statementIndex: index,
          });
        }
        if (statement.object === 'table') {
          const replacesLive = this.#drops.some(
            (d) => d.table.toLowerCase() === name.toLowerCase(),
          );
          // IF NOT EXISTS of a table the schema already has creates nothing.
          const existed = statement.ifNotExists && this.#replay.tableExists(name);
          if (!replacesLive && !existed) this.#created.add(name.toLowerCase());
          this.#events.push({ kind: 'create-table', table: name, statementIndex: index });
        } else if (statement.object === 'view' || statement.object === 'trigger') {
          this.#created.add(`${statement.object}:${name.toLowerCase()}`);
          this.#createdObjects.push({ object: statement.object, name, statementIndex: index });
        }
        return;
      }
      case 'insert':
      case 'update':
      case 'delete':
        this.#writes.push({
          table: statement.table.name,
          kind: statement.kind,
          statementIndex: index,
        });
        return;
      default:
        return;
    }
  }

  /**
   * After the whole file ran in the replay: what each DROP TABLE turned out to be (`drops`),
   * with the destructive changes that follow (a dropped table; a rebuild's left-out and retyped
   * columns; a dropped view or trigger not created again). Call once.
   */
  resolve(): void {
    this.#resolved = this.#drops.map((drop) => this.#resolveDrop(drop));
    for (const drop of this.#objectDrops) {
      const recreated = this.#createdObjects.some(
        (v) =>
          v.object === drop.object &&
          v.name.toLowerCase() === drop.name.toLowerCase() &&
          v.statementIndex > drop.statementIndex,
      );
      if (!recreated) {
        this.#changes.push({
          kind: drop.object === 'view' ? 'drop-view' : 'drop-trigger',
          table: drop.name,
          offset: drop.offset,
        });
      }
    }
  }

  #alter(table: string, action: SqliteAlterAction, index: number): void {
    const at = action.start;
    const createdHere = this.#created.has(table.toLowerCase());
    switch (action.type) {
      case 'drop-column':
        if (!createdHere) {
          this.#changes.push({ kind: 'drop-column', table, column: action.column, offset: at });
        }
        return;
      case 'rename-column':
        if (!createdHere) {
          this.#changes.push({
            kind: 'rename-column',
            table,
            column: action.column,
            to: action.to,
            offset: at,
          });
        }
        return;
      case 'rename-table': {
        const to = action.to;
        this.#events.push({ kind: 'rename-to', table: to, statementIndex: index });
        const rebuilding = this.#drops.some(
          (d) => d.table.toLowerCase() === to.toLowerCase() && d.statementIndex < index,
        );
        if (createdHere) {
          this.#created.delete(table.toLowerCase());
          // Renamed into a live table's place (the rebuild), it is that live table now.
          if (!rebuilding) this.#created.add(to.toLowerCase());
        } else if (!rebuilding) {
          this.#changes.push({ kind: 'rename-table', table, to, offset: at });
        }
        return;
      }
      default:
        return;
    }
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

  #resolveDrop(drop: DropRecord): ResolvedDrop {
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
        this.#changes.push({
          kind: 'drop-table',
          table: drop.table,
          offset: drop.offset,
          ...(exists ? { detail: 'is dropped and created again empty, so its rows are gone' } : {}),
        });
      }
    } else if (drop.existed) {
      this.#rebuiltColumns(drop);
    }
    return { ...drop, rebuilt };
  }

  /** Columns a rebuild leaves out or retypes. */
  #rebuiltColumns(drop: DropRecord): void {
    const now = new Map(this.#replay.columns(drop.table).map((c) => [c.name.toLowerCase(), c]));
    for (const old of drop.columns) {
      const current = now.get(old.name.toLowerCase());
      if (!current) {
        this.#changes.push({
          kind: 'drop-column',
          table: drop.table,
          column: old.name,
          offset: drop.offset,
          detail: 'is left out of the rebuilt table',
        });
      } else if (normalType(current.type) !== normalType(old.type)) {
        this.#changes.push({
          kind: 'change-column-type',
          table: drop.table,
          column: old.name,
          to: current.type || '(no type)',
          offset: drop.offset,
          detail: `changes type from ${old.type || '(no type)'} to ${current.type || '(no type)'} in the rebuild`,
        });
      }
    }
  }
}

function normalType(type: string): string {
  return type.trim().replace(/\s+/g, ' ').toUpperCase();
}
