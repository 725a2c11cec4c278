/**
 * `statement-needs-no-transaction`: statements Postgres refuses inside a transaction block
 * (SQLSTATE 25001: `CREATE INDEX CONCURRENTLY`,
 * https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY;
 * `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `DETACH PARTITION … CONCURRENTLY`,
 * `VACUUM`) where the driver runs them in one: a transactional file, or after the file's own
 * BEGIN in a `-- airlock:no-transaction` file. It replaces squawk's
 * `ban-concurrent-index-creation-in-transaction`, which with `--assume-in-transaction` does not
 * flag a file whose only statement is `CREATE INDEX CONCURRENTLY` (squawk 2.61).
 */

import type { RuleFinding } from '../../types.ts';
import type { PostgresLintRule } from './postgres-lint-rule.ts';

/** Statements Postgres refuses inside a transaction block (SQLSTATE 25001). */
const NEEDS_NO_TRANSACTION =
  /^(?:create\s+(?:unique\s+)?index\s+concurrently\b|drop\s+index\s+concurrently\b|reindex\b[\s\S]*\bconcurrently\b|alter\s+table\b[\s\S]*\bdetach\s+partition\b[\s\S]*\bconcurrently\b|vacuum\b)/i;

export const statementNeedsNoTransactionRule: PostgresLintRule = {
  name: 'statement-needs-no-transaction',
  severity: 'error',
  engines: ['postgres'],
  summary:
    'CREATE/DROP INDEX CONCURRENTLY, REINDEX … CONCURRENTLY, DETACH PARTITION … CONCURRENTLY or VACUUM in a transaction: Postgres refuses them (25001).',
  source:
    'https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY',
  suppressible: true,
  check({ statements, noTransaction }) {
    const findings: RuleFinding[] = [];
    let inTransaction = !noTransaction;
    for (const statement of statements) {
      const text = statement.text;
      if (noTransaction) {
        if (/^(?:begin|start\s+transaction)\b/i.test(text)) inTransaction = true;
        else if (
          /^(?:commit|end|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b))\b/i.test(text)
        ) {
          inTransaction = false;
        }
      }
      if (!inTransaction || !NEEDS_NO_TRANSACTION.test(text)) continue;
      const shown = text.split('\n', 1)[0]!.trim();
      findings.push({
        offset: statement.offset,
        message: `\`${shown.length > 100 ? `${shown.slice(0, 97)}...` : shown}\` cannot run inside a transaction block (Postgres error 25001), and ${noTransaction ? 'this file opens one before it' : 'Airlock runs this file in one transaction together with its ledger row'}: the migration fails on every environment.`,
        fix: 'Put the statement in a migration of its own containing the line `-- airlock:no-transaction` (Airlock then sends its statements one by one, outside a transaction), with IF NOT EXISTS / IF EXISTS so it can run again after a failure; a failed CREATE INDEX CONCURRENTLY leaves an INVALID index to drop first.',
      });
    }
    return findings;
  },
};
