/**
 * The shape of Airlock's own Postgres lint rules, beside squawk's (squawk-lint.ts runs both):
 * a rule's catalogue entry and a check of one file, whose statements are split the way
 * `PostgresMigrationDriver` splits a `-- airlock:no-transaction` file (sql-split.ts). One module
 * per rule in this folder; registry.ts lists them.
 */

import type { MigrationFile } from '../../../migration-files.ts';
import type { SqlStatement } from '../../../sql-split.ts';
import type { PostgresStatement } from '../../postgres-statement.ts';
import type { LintRule } from '../../rules.ts';
import type { RuleFinding } from '../../types.ts';

/** One reported Postgres file, as a rule sees it. */
export interface PostgresFileContext {
  file: MigrationFile;
  /** The file's statements, in order. */
  statements: readonly SqlStatement[];
  /** The same statements as postgres-statement.ts reads them. */
  read: readonly PostgresStatement[];
  /** True when the file is marked `-- airlock:no-transaction` (the driver runs it outside one). */
  noTransaction: boolean;
}

/** One rule: its catalogue entry and `check`, which returns `[]` when all is well. */
export interface PostgresLintRule extends LintRule {
  check(context: PostgresFileContext): RuleFinding[];
}
