/**
 * `destructive-change-outside-contract`: dropping or renaming a table or column, changing a
 * column's type (in a table rebuild) or dropping a view, outside a file marked `--
 * airlock:contract`. The release still serving traffic while the migration runs, and any
 * release one rolls back to, may still use the old shape (expand/contract:
 * https://martinfowler.com/bliki/ParallelChange.html). The changes are found as the file is
 * walked (sqlite-file-facts.ts); on Postgres the same rule comes from squawk's destructive rules
 * (squawk-lint.ts).
 */

import { describeDestructive } from '../../destructive-change.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const destructiveChangeOutsideContractRule: SqliteLintRule = {
  name: 'destructive-change-outside-contract',
  severity: 'error',
  engines: ['sqlite', 'd1', 'postgres'],
  summary:
    'Dropping or renaming a table or column, or changing a column type, outside a file marked -- airlock:contract.',
  source: 'https://martinfowler.com/bliki/ParallelChange.html',
  suppressible: true,
  finish({ contract, facts }) {
    if (contract) return [];
    return facts.changes.map(({ offset, detail, ...change }) => ({
      offset,
      ...describeDestructive(change, detail),
    }));
  },
};
