/**
 * What a `DROP TABLE` does to the tables that reference it, shared by
 * `rebuild-with-cascading-children` and `rebuild-with-referencing-children`. With foreign keys
 * enforced, DROP TABLE first runs an implicit `DELETE FROM`, which fires ON DELETE actions;
 * `PRAGMA defer_foreign_keys` defers checks, not actions
 * (https://www.sqlite.org/foreignkeys.html#fk_schemacommands; D1's SQL statements page says
 * the same for CASCADE). Airlock's SQLite driver enforces foreign keys (node:sqlite's default)
 * and D1 always does.
 */

import type { ResolvedDrop, Write } from '../../sqlite-file-facts.ts';
import type { SqliteEngine } from './sqlite-lint-rule.ts';

/** A child table and why (`tags.note_id REFERENCES notes ON DELETE CASCADE`). */
export type AffectedTable = [table: string, why: string];

export interface DropEffects {
  /** Tables whose rows the DROP deletes (ON DELETE CASCADE, followed transitively) for good. */
  lostRows: AffectedTable[];
  /** Tables whose foreign key the DROP rewrites (SET NULL / SET DEFAULT) for good. */
  lostValues: AffectedTable[];
  /** Tables with NO ACTION / RESTRICT foreign keys: the DROP fails once they have rows. */
  stuck: AffectedTable[];
  /** `Rebuilding notes (…)` or `Dropping notes`: how a message starts. */
  what: string;
  /** Why foreign keys are enforced on this engine, for messages. */
  enforced: string;
}

/**
 * The effects of `drop` (which existed) on its children, leaving out children the file keeps
 * whole: put back with an INSERT after the DROP (or, for rewritten keys, an UPDATE), or for
 * blocking children emptied before and refilled after it. A child the file created and did not
 * fill before the DROP has no rows to lose.
 */
export function dropEffects(
  drop: ResolvedDrop,
  fileWrites: readonly Write[],
  engine: SqliteEngine,
): DropEffects {
  const key = drop.table.toLowerCase();
  const deleted = new Map<string, string>(); // table → why
  const nulled = new Map<string, string>();
  const blocking = new Map<string, string>();
  const queue = [key];
  const deletedKeys = new Set([key]);
  // A child this file created has no rows to lose, unless the file put some there before
  // the DROP (the rebuild's own new table, when it references the old one by name).
  const empty = (child: string) =>
    drop.createdBefore.has(child) &&
    !fileWrites.some(
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
    fileWrites.some(
      (w) =>
        w.table.toLowerCase() === table.toLowerCase() &&
        w.kind === kind &&
        (when === 'after'
          ? w.statementIndex > drop.statementIndex
          : w.statementIndex < drop.statementIndex),
    );
  return {
    lostRows: [...deleted].filter(([t]) => !writes(t, 'insert', 'after')),
    lostValues: [...nulled].filter(
      ([t]) => !writes(t, 'insert', 'after') && !writes(t, 'update', 'after'),
    ),
    stuck: [...blocking].filter(
      ([t]) => !(writes(t, 'delete', 'before') && writes(t, 'insert', 'after')),
    ),
    what: drop.rebuilt
      ? `Rebuilding ${drop.table} (DROP TABLE ${drop.table}, then putting a new table in its place)`
      : `Dropping ${drop.table}`,
    enforced:
      engine === 'd1'
        ? 'D1 always enforces foreign keys and ignores PRAGMA foreign_keys = OFF'
        : "Airlock's SQLite driver runs with foreign keys on (node:sqlite's default) and PRAGMA foreign_keys = OFF is a no-op inside the file's transaction",
  };
}
