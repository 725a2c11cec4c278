/**
 * `compareSchemas` lists the differences of two `SchemaSnapshot`s, each with a sentence
 * (`staging has column notes.archived (integer) that production lacks`). Pure. `airlock migrate
 * drift`, drift detection (schema-drift.ts) and ledger adoption's schema check word the
 * sentences their own way (`DifferencePhrasing`).
 */

import {
  type ColumnSnapshot,
  compareText,
  type ForeignKeySnapshot,
  type IndexSnapshot,
  type SchemaSnapshot,
} from './schema-snapshot.ts';

/** One way two schemas differ. Plain data (JSON-serialisable for `--json`). */
export interface SchemaDifference {
  object: 'table' | 'column' | 'primary key' | 'index' | 'foreign key';
  /**
   * `notes` (table, primary key), `notes.archived` (column), `notes_title_idx` (index),
   * `tags (note_id) → notes` (foreign key).
   */
  name: string;
  /** The table it belongs to. */
  table: string;
  /** Present only in the first schema, only in the second, or in both but not the same. */
  change: 'only-in-a' | 'only-in-b' | 'differs';
  /** Its definition in the first / second schema (`integer not null default 0`), or null. */
  a: string | null;
  b: string | null;
  /**
   * One sentence with the environments' names, e.g. `staging has column notes.archived
   * (integer) that production lacks`.
   */
  message: string;
}

/** Definitions of every object of a snapshot, by `<object>:<name>`, with what to say. */
interface ObjectDefinition {
  object: SchemaDifference['object'];
  name: string;
  table: string;
  definition: string;
}

function describeColumn(c: ColumnSnapshot): string {
  return `${c.type || 'no type'}${c.nullable ? '' : ' not null'}${c.default === null ? '' : ` default ${c.default}`}`;
}

function describeIndex(table: string, i: IndexSnapshot): string {
  return `${i.unique ? 'unique ' : ''}on ${table} (${i.columns.join(', ')})${i.where ? ` where ${i.where}` : ''}`;
}

function describeForeignKey(f: ForeignKeySnapshot): string {
  const actions = [
    f.onDelete !== 'no action' ? ` on delete ${f.onDelete}` : '',
    f.onUpdate !== 'no action' ? ` on update ${f.onUpdate}` : '',
  ].join('');
  return `references ${f.references} (${f.referencedColumns.join(', ')})${actions}`;
}

function definitions(snapshot: SchemaSnapshot): Map<string, ObjectDefinition> {
  const out = new Map<string, ObjectDefinition>();
  const add = (d: ObjectDefinition) => out.set(`${d.object}:${d.name}`, d);
  for (const t of snapshot.tables) {
    add({
      object: 'table',
      name: t.name,
      table: t.name,
      definition: `${t.columns.length} column${t.columns.length === 1 ? '' : 's'}`,
    });
    for (const c of t.columns) {
      add({
        object: 'column',
        name: `${t.name}.${c.name}`,
        table: t.name,
        definition: describeColumn(c),
      });
    }
    if (t.primaryKey.length > 0) {
      add({
        object: 'primary key',
        name: t.name,
        table: t.name,
        definition: `(${t.primaryKey.join(', ')})`,
      });
    }
    for (const i of t.indexes) {
      add({ object: 'index', name: i.name, table: t.name, definition: describeIndex(t.name, i) });
    }
    for (const f of t.foreignKeys) {
      add({
        object: 'foreign key',
        name: `${t.name} (${f.columns.join(', ')}) → ${f.references}`,
        table: t.name,
        definition: describeForeignKey(f),
      });
    }
  }
  return out;
}

/** How a difference is put into words; `compareSchemas`'s default names both sides. */
export type DifferencePhrasing = (d: Omit<SchemaDifference, 'message'>) => string;

function phrasingBetween(aName: string, bName: string): DifferencePhrasing {
  return (d) => {
    const what = (definition: string | null) =>
      d.object === 'table' ? `table ${d.name}` : `${d.object} ${d.name} (${definition})`;
    if (d.change === 'only-in-a') return `${aName} has ${what(d.a)} that ${bName} lacks`;
    if (d.change === 'only-in-b') return `${bName} has ${what(d.b)} that ${aName} lacks`;
    return `${d.object} ${d.name} is ${d.a} on ${aName} but ${d.b} on ${bName}`;
  };
}

/**
 * The differences between two snapshots, ordered by table then object. Objects of a table
 * present on one side only are not listed one by one (the table is). Pure.
 *
 * @param names what to call each side in the sentences, e.g. `{ a: 'staging', b: 'production' }`
 *   (default `a` / `b`); or a function that words each difference.
 */
export function compareSchemas(
  a: SchemaSnapshot,
  b: SchemaSnapshot,
  names: { a: string; b: string } | DifferencePhrasing = { a: 'a', b: 'b' },
): SchemaDifference[] {
  const phrase = typeof names === 'function' ? names : phrasingBetween(names.a, names.b);
  const left = definitions(a);
  const right = definitions(b);
  const onlyTables = new Set<string>();
  for (const [key, d] of left) if (d.object === 'table' && !right.has(key)) onlyTables.add(d.name);
  for (const [key, d] of right) if (d.object === 'table' && !left.has(key)) onlyTables.add(d.name);
  const out: Array<Omit<SchemaDifference, 'message'>> = [];
  for (const key of new Set([...left.keys(), ...right.keys()])) {
    const l = left.get(key);
    const r = right.get(key);
    const d = (l ?? r)!;
    if (d.object !== 'table' && onlyTables.has(d.table)) continue;
    if (l && r) {
      if (d.object !== 'table' && l.definition !== r.definition) {
        out.push({
          object: d.object,
          name: d.name,
          table: d.table,
          change: 'differs',
          a: l.definition,
          b: r.definition,
        });
      }
    } else {
      out.push({
        object: d.object,
        name: d.name,
        table: d.table,
        change: l ? 'only-in-a' : 'only-in-b',
        a: l?.definition ?? null,
        b: r?.definition ?? null,
      });
    }
  }
  const rank: Record<SchemaDifference['object'], number> = {
    table: 0,
    column: 1,
    'primary key': 2,
    index: 3,
    'foreign key': 4,
  };
  return out
    .sort(
      (x, y) =>
        compareText(x.table, y.table) ||
        rank[x.object] - rank[y.object] ||
        compareText(x.name, y.name),
    )
    .map((d) => ({ ...d, message: phrase(d) }));
}
