/**
 * `insert-select-star-column-order`: `INSERT INTO new SELECT * FROM old` (step 4 of the
 * 12-step rebuild, https://www.sqlite.org/lang_altertable.html#otheralter) copies values by
 * position, not by name (https://www.sqlite.org/lang_insert.html: "the values are assigned to
 * columns in the order in which the columns appear in the table"). When the new table lists the
 * same columns in another order, values land in the wrong columns — silently, since SQLite's
 * type affinity converts rather than refuses.
 */

import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const insertSelectStarColumnOrderRule: SqliteLintRule = {
  name: 'insert-select-star-column-order',
  severity: 'error',
  engines: ['sqlite', 'd1'],
  summary:
    'INSERT INTO new SELECT * FROM old where the two tables order their columns differently: values land in the wrong columns.',
  source: 'https://www.sqlite.org/lang_insert.html',
  suppressible: true,
  check(statement, { replay }) {
    if (statement.kind !== 'insert' || !statement.selectStar) return [];
    const target = statement.table.name;
    const source = statement.selectStar.name;
    if (!replay.tableExists(target) || !replay.tableExists(source)) return [];
    const into = statement.columns ?? replay.insertColumns(target);
    const from = replay.selectStarColumns(source);
    if (into.length !== from.length) return []; // SQLite refuses the count itself
    const lower = (names: string[]) => names.map((n) => n.toLowerCase());
    const intoNames = new Set(lower(into));
    const fromNames = new Set(lower(from));
    const misplaced = from
      .map((name, i) => ({ name, into: into[i]! }))
      .filter(
        ({ name, into: to }) =>
          name.toLowerCase() !== to.toLowerCase() &&
          (intoNames.has(name.toLowerCase()) || fromNames.has(to.toLowerCase())),
      );
    if (misplaced.length === 0) return [];
    const shown = misplaced.slice(0, 4).map((m) => `${source}.${m.name} → ${target}.${m.into}`);
    const shared = into.filter((n) => fromNames.has(n.toLowerCase()));
    return [
      {
        offset: statement.selectStar.start,
        message: `\`SELECT * FROM ${source}\` copies by position, not by name: ${source} has (${from.join(', ')}) and the insert fills ${target} (${into.join(', ')}), so ${shown.join(', ')}${misplaced.length > 4 ? ` and ${misplaced.length - 4} more` : ''}. SQLite converts the values instead of refusing them, so the data is silently wrong.`,
        fix: `Name the columns on both sides: \`INSERT INTO ${target} (${shared.join(', ')}) SELECT ${shared.join(', ')} FROM ${source};\``,
      },
    ];
  },
};
