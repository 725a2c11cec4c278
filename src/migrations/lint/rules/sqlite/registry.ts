/**
 * Every SQLite/D1 lint rule with a module of its own, in catalogue order (rules.ts lists them
 * in `AIRLOCK_RULES` with the rules the linter reports itself). sqlite-lint.ts runs the ones
 * whose `engines` include the file's engine, in this order.
 */

import { addColumnNonConstantDefaultRule } from './add-column-non-constant-default.ts';
import { addColumnReferencesWithDefaultRule } from './add-column-references-with-default.ts';
import { addColumnStoredGeneratedRule } from './add-column-stored-generated.ts';
import { addNotNullColumnWithoutDefaultRule } from './add-not-null-column-without-default.ts';
import { createIfNotExistsThenDropRule } from './create-if-not-exists-then-drop.ts';
import { d1ExplicitTransactionRule } from './d1-explicit-transaction.ts';
import { d1ForeignKeysPragmaRule } from './d1-foreign-keys-pragma.ts';
import { destructiveChangeOutsideContractRule } from './destructive-change-outside-contract.ts';
import { explicitTransactionRule } from './explicit-transaction.ts';
import { foreignKeysPragmaRule } from './foreign-keys-pragma.ts';
import { insertSelectStarColumnOrderRule } from './insert-select-star-column-order.ts';
import { rebuildDropsIndexesOrTriggersRule } from './rebuild-drops-indexes-or-triggers.ts';
import { rebuildWithCascadingChildrenRule } from './rebuild-with-cascading-children.ts';
import { rebuildWithReferencingChildrenRule } from './rebuild-with-referencing-children.ts';
import type { SqliteLintRule } from './sqlite-lint-rule.ts';

export const SQLITE_LINT_RULES: readonly SqliteLintRule[] = [
  explicitTransactionRule,
  d1ExplicitTransactionRule,
  foreignKeysPragmaRule,
  d1ForeignKeysPragmaRule,
  rebuildWithCascadingChildrenRule,
  rebuildWithReferencingChildrenRule,
  rebuildDropsIndexesOrTriggersRule,
  insertSelectStarColumnOrderRule,
  addNotNullColumnWithoutDefaultRule,
  addColumnStoredGeneratedRule,
  addColumnNonConstantDefaultRule,
  addColumnReferencesWithDefaultRule,
  createIfNotExistsThenDropRule,
  destructiveChangeOutsideContractRule,
];
