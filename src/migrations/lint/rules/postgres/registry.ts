/**
 * Airlock's own Postgres lint rules (squawk's are run by squawk-lint.ts), in catalogue order.
 */

import { createIfNotExistsThenDropPostgresRule } from './create-if-not-exists-then-drop.ts';
import type { PostgresLintRule } from './postgres-lint-rule.ts';
import { statementNeedsNoTransactionRule } from './statement-needs-no-transaction.ts';

export const POSTGRES_LINT_RULES: readonly PostgresLintRule[] = [
  statementNeedsNoTransactionRule,
  createIfNotExistsThenDropPostgresRule,
];
