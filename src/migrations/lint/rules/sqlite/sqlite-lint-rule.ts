/**
 * The shape of a SQLite/D1 lint rule, in the manner of ESLint's rule modules
 * (https://eslint.org/docs/latest/extend/custom-rules: a rule's metadata beside the functions
 * the linter calls as it walks the code). One module per rule in this folder; registry.ts lists
 * them; sqlite-lint.ts walks each file and calls them.
 */

import type { MigrationFile } from '../../../migration-files.ts';
import type { LintRule } from '../../rules.ts';
import type { SchemaReplay } from '../../schema-replay.ts';
import type { FileFacts } from '../../sqlite-file-facts.ts';
import type { ReadStatement } from '../../sqlite-statement.ts';
import type { RuleFinding } from '../../types.ts';

/** The two engines the SQLite rules run on. */
export type SqliteEngine = 'sqlite' | 'd1';

/** What every rule call can see. */
export interface SqliteRuleContext {
  engine: SqliteEngine;
  file: MigrationFile;
  /** The text of the file from `start` to `end` (UTF-16 offsets, e.g. a statement's). */
  text(start: number, end: number): string;
  /**
   * The schema: in `check`, as it is just before the statement runs; in `finish`, as the file
   * leaves it.
   */
  replay: SchemaReplay;
}

/** What `finish` can see, once every statement of the file ran in the replay. */
export interface SqliteFileContext extends SqliteRuleContext {
  /** True when the file is marked `-- airlock:contract`. */
  contract: boolean;
  /** What the file did (resolved: `facts.drops` is readable). */
  facts: FileFacts;
}

/**
 * One rule: its catalogue entry (`LintRule`: name, severity, engines, summary, source) and
 * one or both of:
 * - `check`: called for each statement, in order, before it runs in the replay. A statement a
 *   check reports on is not reported again as `replay-error` when SQLite then refuses it.
 * - `finish`: called once after the file's last statement ran.
 *
 * A rule runs only on its `engines`. Both return `[]` when all is well.
 */
export interface SqliteLintRule extends LintRule {
  check?(statement: ReadStatement, context: SqliteRuleContext): RuleFinding[];
  finish?(context: SqliteFileContext): RuleFinding[];
}
