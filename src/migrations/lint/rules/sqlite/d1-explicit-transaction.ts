/**
 * `d1-explicit-transaction` (D1): D1 refuses BEGIN, COMMIT, ROLLBACK, SAVEPOINT and RELEASE in
 * SQL (https://github.com/cloudflare/workerd/issues/5411); it runs each migration file as one
 * batch, which is atomic already.
 */

import { firstLine, isTransactionControl } from '../../sql-nodes.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const d1ExplicitTransactionRule: SqliteLintRule = {
  name: 'd1-explicit-transaction',
  severity: 'error',
  engines: ['d1'],
  summary: 'D1 refuses BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE: it runs each file as one batch.',
  source: 'https://github.com/cloudflare/workerd/issues/5411',
  suppressible: true,
  check(statement, context) {
    if (!isTransactionControl(statement)) return [];
    const text = firstLine(context.text(statement.start, statement.end));
    return [
      {
        offset: statement.start,
        message: `\`${text}\` controls a transaction, which D1 refuses ("To execute a transaction, please use the state.storage.transaction() … APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT statements"): D1 runs each migration file as one batch, which is already atomic.`,
        fix: 'Remove every BEGIN, COMMIT, END, ROLLBACK, SAVEPOINT and RELEASE from the file; if part of it must not be atomic with the rest, put it in a migration of its own.',
      },
    ];
  },
};
