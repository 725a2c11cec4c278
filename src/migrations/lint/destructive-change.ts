/**
 * The words of a destructive change outside a contract migration: what live code loses, and
 * the expand/contract way to do it instead (https://martinfowler.com/bliki/ParallelChange.html).
 * Shared by the SQLite rule (rules/sqlite/destructive-change-outside-contract.ts) and the
 * mapping of squawk's destructive rules (squawk-lint.ts).
 */

import type { DestructiveChange } from './types.ts';

/** The message and fix of `destructive-change-outside-contract` for one change. */
export function describeDestructive(
  change: Pick<DestructiveChange, 'kind' | 'table' | 'column' | 'to'>,
  detail?: string,
): { message: string; fix: string } {
  const live =
    'the release still serving traffic while this migration runs, and any release you roll back to, may still use it';
  const contract =
    'then do the destructive step in a later migration containing the line `-- airlock:contract`, once no live release uses the old shape. If nothing uses it already, mark this file `-- airlock:contract`, or suppress with `-- airlock:lint-ignore destructive-change-outside-contract <reason>`.';
  const column = change.column ? `${change.table}.${change.column}` : `a column of ${change.table}`;
  const Column = change.column ? `Column ${column}` : `A column of ${change.table}`;
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
    case 'drop-trigger':
      return {
        message: `Trigger ${change.table} is dropped outside a contract migration: ${live} and rely on what it does (keeping a search index, a counter or an audit table in step), which silently stops.`,
        fix: `First deploy code that no longer relies on ${change.table}, ${contract} To change the trigger, drop and create it again in the same file.`,
      };
    case 'drop-type':
      return {
        message: `Type ${change.table} is dropped outside a contract migration: ${live} in casts and parameters, and fails once it is gone; Postgres refuses the drop while a column uses it (or drops those columns with CASCADE).`,
        fix: `First deploy code that no longer uses ${change.table}, ${contract}`,
      };
    case 'drop-function':
      return {
        message: `Function ${change.table} is dropped outside a contract migration: ${live} (directly, or through a trigger, a default, a policy or a view that calls it), and fails once it is gone.`,
        fix: `First deploy code that no longer calls ${change.table}, ${contract} To change it, use CREATE OR REPLACE FUNCTION.`,
      };
    case 'drop-schema':
      return {
        message: `Schema ${change.table} is dropped with CASCADE outside a contract migration: every table, view, function and type in it goes too, with their rows; ${live}.`,
        fix: `Drop the objects one by one in a contract migration once nothing live uses them, and the schema without CASCADE (Postgres then refuses to drop a schema that still has objects). ${contract}`,
      };
    case 'truncate-table':
      return {
        message: `Table ${change.table} is emptied (TRUNCATE) outside a contract migration: every row is gone, and ${live}.`,
        fix: `Delete only the rows that must go (DELETE … WHERE …), or do it in a contract migration once no live release needs the rows: ${contract}`,
      };
    case 'drop-column':
      return {
        message: `${Column} ${detail ?? 'is dropped'} outside a contract migration: ${live}, and its queries fail without it (expand/contract).`,
        fix: `First deploy code that no longer reads or writes ${column}, ${contract}`,
      };
    case 'rename-column':
      return {
        message: `${Column} is renamed to ${change.to} outside a contract migration: ${live} under its old name, and fails after the rename (expand/contract).`,
        fix: `Expand: add ${change.to}, write both columns, backfill it, and deploy code that reads ${change.to}; ${contract}`,
      };
    case 'rename-table':
      return {
        message: `Table ${change.table} is renamed to ${change.to} outside a contract migration: ${live} under its old name, and fails after the rename (expand/contract).`,
        fix: `Expand: create ${change.to} (or a view named ${change.table} over it while code moves), copy and dual-write, deploy code that uses ${change.to}; ${contract}`,
      };
    case 'change-column-type':
      return {
        message: `${Column} ${detail ?? `changes type to ${change.to ?? 'another type'}`} outside a contract migration: ${live} with values of the old type.`,
        fix: `Expand: add a new column of the new type, write both, backfill it, deploy code that reads it; ${contract}`,
      };
  }
}
