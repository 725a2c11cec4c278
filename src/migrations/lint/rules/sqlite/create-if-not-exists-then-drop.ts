/**
 * `create-if-not-exists-then-drop` (SQLite/D1; the Postgres rule of the same name is in
 * rules/postgres/): `CREATE … IF NOT EXISTS x` followed, in the same file, by `DROP … x` (a
 * drop, or a drop and re-creation to replace it). IF NOT EXISTS says x may already be there;
 * where it is (made by hand, by another tool, or by an earlier run), the CREATE does nothing
 * and the DROP removes the live object — with its rows, for a table
 * (https://www.sqlite.org/lang_createtable.html: "If … IF NOT EXISTS … and a table of the same
 * name already exists, the CREATE TABLE command simply has no effect").
 */

import type { LintRule } from '../../rules.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

/** The catalogue entry, shared with the Postgres module of the same rule. */
export const createIfNotExistsThenDropEntry: LintRule = {
  name: 'create-if-not-exists-then-drop',
  severity: 'error',
  engines: ['sqlite', 'd1', 'postgres'],
  summary:
    'CREATE … IF NOT EXISTS x, then DROP x in the same file: where x already existed, the live x (and its rows) is what gets dropped.',
  source: 'https://www.sqlite.org/lang_createtable.html',
  suppressible: true,
};

export const createIfNotExistsThenDropRule: SqliteLintRule = {
  ...createIfNotExistsThenDropEntry,
  finish({ facts }) {
    return facts.objectDrops.flatMap((drop) => {
      const created = facts.createsIfNotExists.find(
        (c) =>
          c.object === drop.object &&
          c.name.toLowerCase() === drop.name.toLowerCase() &&
          c.statementIndex < drop.statementIndex,
      );
      if (!created) return [];
      const rows = drop.object === 'table' ? ' with all its rows' : '';
      return [
        {
          offset: drop.offset,
          message: `${drop.object[0]!.toUpperCase()}${drop.object.slice(1)} ${drop.name} is created with IF NOT EXISTS, then dropped in the same file: where ${drop.name} already exists (made outside migrations, or by an earlier partial run), \`CREATE ${created.object.toUpperCase()} IF NOT EXISTS ${created.name}\` does nothing, and this DROP removes the live ${drop.object}${rows}. Lint cannot tell from the file which case an environment is in.`,
          fix: `Remove IF NOT EXISTS, so the CREATE fails loudly where ${drop.name} already exists; or, if the file means to replace a live ${drop.object}, drop it first (\`DROP ${drop.object.toUpperCase()} IF EXISTS ${drop.name}\`), in a contract migration when live code uses it.`,
        },
      ];
    });
  },
};
