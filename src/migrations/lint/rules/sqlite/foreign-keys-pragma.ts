/**
 * `foreign-keys-pragma` (SQLite): `PRAGMA foreign_keys = OFF` is a no-op inside a transaction
 * (https://www.sqlite.org/pragma.html#pragma_foreign_keys), and `SqliteMigrationDriver` runs
 * each file inside one, on a `node:sqlite` connection, which enforces foreign keys by default.
 */

import { firstLine, foreignKeysPragma } from '../../sql-nodes.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const foreignKeysPragmaRule: SqliteLintRule = {
  name: 'foreign-keys-pragma',
  severity: 'error',
  engines: ['sqlite'],
  summary: 'PRAGMA foreign_keys = OFF is a no-op inside the transaction Airlock runs each file in.',
  source: 'https://www.sqlite.org/pragma.html#pragma_foreign_keys',
  suppressible: true,
  check(statement, context) {
    if (foreignKeysPragma(statement) !== 'off') return [];
    return [
      {
        offset: statement.start,
        message: `\`${firstLine(context.text(statement.start, statement.end))}\` does nothing here: SQLite ignores PRAGMA foreign_keys inside a transaction, and Airlock runs each migration inside one, on a node:sqlite connection with foreign keys on. The statements after it run with foreign keys enforced — a DROP TABLE still fires ON DELETE CASCADE.`,
        fix: 'Remove it. Use `PRAGMA defer_foreign_keys = on` to let the file violate foreign keys until it ends (checked at COMMIT); it does not stop ON DELETE actions.',
      },
    ];
  },
};
