/**
 * `explicit-transaction` (SQLite): BEGIN/COMMIT/ROLLBACK in a file Airlock already runs in one
 * transaction with its ledger row. `SqliteMigrationDriver` runs each file inside `BEGIN
 * IMMEDIATE`, so a BEGIN fails and a COMMIT or ROLLBACK ends that transaction early
 * (https://www.sqlite.org/lang_transaction.html). Savepoints nest inside it and are fine.
 */

import { firstLine, isSavepointControl, isTransactionControl } from '../../sql-nodes.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const explicitTransactionRule: SqliteLintRule = {
  name: 'explicit-transaction',
  severity: 'error',
  engines: ['sqlite'],
  summary:
    'BEGIN/COMMIT/ROLLBACK in a file Airlock already runs in one transaction with its ledger row.',
  source: 'https://www.sqlite.org/lang_transaction.html',
  suppressible: true,
  check(statement, context) {
    if (!isTransactionControl(statement) || isSavepointControl(statement)) return [];
    const text = firstLine(context.text(statement.start, statement.end));
    return [
      {
        offset: statement.start,
        message: `\`${text}\` controls a transaction, but Airlock already runs each SQLite migration in one transaction (BEGIN IMMEDIATE) together with its ledger row: a BEGIN fails ("cannot start a transaction within a transaction"), and a COMMIT or ROLLBACK ends Airlock's transaction early, so a later failure leaves part of the file applied without a ledger row.`,
        fix: 'Remove the BEGIN/COMMIT/ROLLBACK statements: the whole file is atomic already. Use SAVEPOINT … RELEASE if you need to roll back part of it.',
      },
    ];
  },
};
