/**
 * `rebuild-drops-indexes-or-triggers`: a table rebuild that does not recreate the old table's
 * indexes and triggers loses them: DROP TABLE removes them with the table, and step 8 of
 * SQLite's 12-step ALTER TABLE procedure (https://www.sqlite.org/lang_altertable.html#otheralter)
 * is to create them again. A lost UNIQUE index lets duplicates in, a lost trigger silently
 * stops running.
 */

import type { IndexInfo } from '../../schema-replay.ts';
import type { RuleFinding } from '../../types.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const rebuildDropsIndexesOrTriggersRule: SqliteLintRule = {
  name: 'rebuild-drops-indexes-or-triggers',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'A table rebuild that does not recreate the old table’s indexes and triggers loses them (step 8 of the 12-step procedure).',
  source: 'https://www.sqlite.org/lang_altertable.html#otheralter',
  suppressible: true,
  finish({ facts, replay }) {
    const findings: RuleFinding[] = [];
    for (const drop of facts.drops) {
      if (!drop.rebuilt || !drop.existed) continue;
      const signature = (i: IndexInfo) =>
        `${i.unique}|${i.origin === 'pk' ? 'pk' : ''}|${i.partial}|${i.columns.join(',').toLowerCase()}`;
      const now = new Set(replay.indexes(drop.table).map(signature));
      const lostIndexes = drop.indexes.filter((i) => i.origin !== 'pk' && !now.has(signature(i)));
      const triggersNow = new Set(replay.triggers(drop.table).map((t) => t.name.toLowerCase()));
      const lostTriggers = drop.triggers.filter((t) => !triggersNow.has(t.name.toLowerCase()));
      if (lostIndexes.length === 0 && lostTriggers.length === 0) continue;
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
      findings.push({
        offset: drop.offset,
        message: `The rebuild of ${drop.table} loses its ${described.join(', ')}: DROP TABLE removes every index and trigger of the old table, and the rebuilt table does not have ${described.length === 1 ? 'it' : 'them'} (step 8 of SQLite's 12-step ALTER TABLE procedure recreates them). A lost UNIQUE index lets duplicates in, a lost trigger silently stops running, a lost index turns lookups into table scans.`,
        fix: `After the rename, recreate them: ${recreate.join(' ')}`,
      });
    }
    return findings;
  },
};
