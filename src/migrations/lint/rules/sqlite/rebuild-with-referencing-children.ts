/**
 * `rebuild-with-referencing-children`: a `DROP TABLE` (a plain drop, or the 12-step rebuild)
 * of a table other tables reference with NO ACTION / RESTRICT fails with "FOREIGN KEY
 * constraint failed" as soon as they have rows, even with `PRAGMA defer_foreign_keys`
 * (https://www.sqlite.org/foreignkeys.html#fk_schemacommands; see drop-effects.ts): a staging
 * database with empty children passes, production fails.
 */

import type { RuleFinding } from '../../types.ts';
import { dropEffects } from './drop-effects.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const rebuildWithReferencingChildrenRule: SqliteLintRule = {
  name: 'rebuild-with-referencing-children',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'DROP TABLE (e.g. in the 12-step rebuild) of a table other tables reference with NO ACTION / RESTRICT fails as soon as they have rows, even with PRAGMA defer_foreign_keys.',
  source: 'https://www.sqlite.org/foreignkeys.html#fk_schemacommands',
  suppressible: true,
  finish({ facts, engine }) {
    const findings: RuleFinding[] = [];
    for (const drop of facts.drops) {
      if (!drop.existed) continue;
      const { stuck, what } = dropEffects(drop, facts.writes, engine);
      if (stuck.length === 0) continue;
      const tables = stuck.map(([t]) => t);
      findings.push({
        offset: drop.offset,
        message: `${what} fails with "FOREIGN KEY constraint failed" as soon as ${tables.join(', ')} ${tables.length === 1 ? 'has' : 'have'} rows (${stuck.map(([, why]) => why).join('; ')}): the implicit DELETE FROM ${drop.table} of DROP TABLE violates ${tables.length === 1 ? 'that foreign key' : 'those foreign keys'}, at once, or at COMMIT with PRAGMA defer_foreign_keys = on — SQLite does not check the rows again against the table put in its place. A staging database with empty children passes; production fails.`,
        fix: `Empty the children first and put their rows back after the rebuild: ${tables.map((t) => `CREATE TABLE ${t}_keep AS SELECT * FROM ${t}; DELETE FROM ${t};`).join(' ')} … rebuild … ${tables.map((t) => `INSERT INTO ${t} SELECT * FROM ${t}_keep; DROP TABLE ${t}_keep;`).join(' ')} Or avoid the rebuild with ALTER TABLE … ADD / RENAME / DROP COLUMN.`,
      });
    }
    return findings;
  },
};
