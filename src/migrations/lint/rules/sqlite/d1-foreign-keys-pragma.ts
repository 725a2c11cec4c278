/**
 * `d1-foreign-keys-pragma` (D1): D1 enforces foreign keys in every query and migration and
 * ignores `PRAGMA foreign_keys` (https://developers.cloudflare.com/d1/sql-api/foreign-keys/).
 */

import { firstLine, foreignKeysPragma } from '../../sql-nodes.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const d1ForeignKeysPragmaRule: SqliteLintRule = {
  name: 'd1-foreign-keys-pragma',
  severity: 'error',
  engines: ['d1'],
  summary: 'D1 ignores PRAGMA foreign_keys = OFF; it always enforces foreign keys.',
  source: 'https://developers.cloudflare.com/d1/sql-api/foreign-keys/',
  suppressible: true,
  check(statement, context) {
    if (foreignKeysPragma(statement) !== 'off') return [];
    return [
      {
        offset: statement.start,
        message: `\`${firstLine(context.text(statement.start, statement.end))}\` does nothing on D1: D1 enforces foreign keys in every query and migration (like PRAGMA foreign_keys = on in every transaction) and ignores attempts to turn them off, so the statements after it run with foreign keys enforced — a DROP TABLE still fires ON DELETE CASCADE, and rows that violate a foreign key still fail.`,
        fix: 'Replace it with `PRAGMA defer_foreign_keys = on`, which lets the rest of the file violate foreign keys until it ends (they are checked then). It does not stop ON DELETE actions: see the rebuild rules.',
      },
    ];
  },
};
