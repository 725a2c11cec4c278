/**
 * The destructive Postgres statements squawk has no rule for, found by Airlock itself
 * (squawk-lint.ts reports them as `destructive-change-outside-contract` outside contract
 * files): `DROP SCHEMA … CASCADE` (drops every object in the schema,
 * https://www.postgresql.org/docs/current/sql-dropschema.html), `TRUNCATE`
 * (https://www.postgresql.org/docs/current/sql-truncate.html), `DROP VIEW`, `DROP MATERIALIZED
 * VIEW`, `DROP TYPE`, `DROP DOMAIN`, `DROP FUNCTION`, `DROP PROCEDURE`, `DROP TRIGGER`.
 *
 * What the file itself created before is not live anywhere, and an object the file drops and
 * creates again afterwards is replaced, not removed: neither is reported.
 */

import type { PostgresObjectKind, PostgresStatement } from './postgres-statement.ts';
import type { DestructiveChangeKind } from './types.ts';

/** One destructive statement: what it removes, and where. */
export interface PostgresDestructiveStatement {
  kind: DestructiveChangeKind;
  /** The object's name, without its schema. */
  table: string;
  /** UTF-16 offset of the statement in the file. */
  offset: number;
}

const KINDS: Partial<Record<PostgresObjectKind, DestructiveChangeKind>> = {
  view: 'drop-view',
  'materialized view': 'drop-view',
  type: 'drop-type',
  domain: 'drop-type',
  function: 'drop-function',
  procedure: 'drop-function',
  trigger: 'drop-trigger',
};

/** Groups object kinds that share a namespace and a way back (a view and a materialized view). */
function family(object: PostgresObjectKind): string {
  if (object === 'materialized view') return 'view';
  if (object === 'domain') return 'type';
  if (object === 'procedure') return 'function';
  return object;
}

/** The destructive statements of a file's statements (read by postgres-statement.ts), in order. */
export function postgresDestructiveStatements(
  statements: readonly PostgresStatement[],
): PostgresDestructiveStatement[] {
  const out: PostgresDestructiveStatement[] = [];
  const createdAt = (object: string, name: string, from: number, to: number) =>
    statements.some(
      (s, i) =>
        i >= from &&
        i < to &&
        s.kind === 'create' &&
        family(s.object) === object &&
        s.names.some((n) => n.name === name),
    );
  statements.forEach((statement, index) => {
    if (statement.kind === 'truncate') {
      for (const name of statement.names) {
        if (createdAt('table', name.name, 0, index)) continue;
        out.push({ kind: 'truncate-table', table: name.name, offset: statement.start });
      }
      return;
    }
    if (statement.kind !== 'drop') return;
    const kind =
      statement.object === 'schema'
        ? statement.cascade
          ? 'drop-schema'
          : undefined
        : KINDS[statement.object];
    if (!kind) return;
    const object = family(statement.object);
    for (const name of statement.names) {
      // Created earlier in this file (not live yet), or created again after the drop (replaced).
      if (createdAt(object, name.name, 0, index)) continue;
      if (createdAt(object, name.name, index + 1, statements.length)) continue;
      out.push({ kind, table: name.name, offset: statement.start });
    }
  });
  return out;
}
