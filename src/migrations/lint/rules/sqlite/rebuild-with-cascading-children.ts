/**
 * `rebuild-with-cascading-children`: a `DROP TABLE` (a plain drop, or step 3 of the 12-step
 * rebuild, https://www.sqlite.org/lang_altertable.html#otheralter) of a table other tables
 * reference ON DELETE CASCADE / SET NULL / SET DEFAULT silently deletes their rows or rewrites
 * their keys (see drop-effects.ts), unless the file puts them back after the DROP.
 */

import type { RuleFinding } from '../../types.ts';
import { dropEffects } from './drop-effects.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const rebuildWithCascadingChildrenRule: SqliteLintRule = {
  name: 'rebuild-with-cascading-children',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'DROP TABLE (e.g. in the 12-step rebuild) of a table other tables reference ON DELETE CASCADE / SET NULL / SET DEFAULT deletes or rewrites their rows.',
  source: 'https://www.sqlite.org/foreignkeys.html#fk_schemacommands',
  suppressible: true,
  finish({ facts, engine }) {
    const findings: RuleFinding[] = [];
    for (const drop of facts.drops) {
      if (!drop.existed) continue;
      const { lostRows, lostValues, what, enforced } = dropEffects(drop, facts.writes, engine);
      if (lostRows.length === 0 && lostValues.length === 0) continue;
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
      findings.push({
        offset: drop.offset,
        message: `${what} ${effects.join('; ')}: with foreign keys enforced, DROP TABLE first runs an implicit DELETE FROM ${drop.table}, which fires these ON DELETE actions, silently. ${enforced}; PRAGMA defer_foreign_keys defers checks, not ON DELETE actions.`,
        fix: drop.rebuilt
          ? `Prefer ALTER TABLE … ADD / RENAME / DROP COLUMN, which change ${drop.table} in place. If the rebuild is unavoidable, keep what the DROP destroys: before it, ${before.join(' ')} After the rename, ${after.join(' ')} (lint accepts the rebuild once each of these tables gets an INSERT, or for rewritten keys an UPDATE, after the DROP).`
          : `Drop or change the children first (their foreign keys would point at a missing table anyway), or keep their rows as above; if losing them is intended, say so with \`-- airlock:lint-ignore rebuild-with-cascading-children <reason>\`.`,
      });
    }
    return findings;
  },
};
