/**
 * The shapes `airlock migrate lint` produces. Plain data, JSON-serialisable (`--json`, the
 * audit log, the pipeline's gate).
 */

import type { LintEngine, LintSeverity } from './rules.ts';

export type { LintEngine, LintSeverity } from './rules.ts';

/** One problem in one migration file. */
export interface LintFinding {
  /** The rule's name: one of `AIRLOCK_RULES` or, on Postgres, a squawk rule. */
  rule: string;
  severity: LintSeverity;
  /** The file name, e.g. `0003_drop_body.sql`. */
  file: string;
  /** The file's `MigrationFile.path`: absolute, or relative to the project for a release's snapshot. */
  path: string;
  /** 1-based line. */
  line: number;
  /** 1-based column, in Unicode code points. */
  col: number;
  /** What is wrong, and why it is dangerous on this engine. */
  message: string;
  /** How to do it safely. */
  fix: string;
  /**
   * Where the rule is explained: `docs/lint-rules.md#<rule>` (a file of the airlock-deploy
   * package) for Airlock's rules, squawk's page (https://squawkhq.com/docs/<rule>) for squawk's.
   */
  docs: string;
  /** Set on suppressed findings: the reason written in `-- airlock:lint-ignore <rule> <reason>`. */
  suppressedBecause?: string;
}

/**
 * A finding as a rule module reports it: the linter adds the rule's name and severity, the file
 * and the line:col of `offset`.
 */
export interface RuleFinding {
  /** UTF-16 offset in the file's text. */
  offset: number;
  /** What is wrong, and why it is dangerous on this engine. */
  message: string;
  /** How to do it safely. */
  fix: string;
}

/** What an engine's linter (sqlite-lint.ts, squawk-lint.ts) returns to `lintMigrations`. */
export interface EngineLintResult {
  /** Findings before suppression, for the reported files only. */
  findings: LintFinding[];
  destructive: DestructiveChange[];
}

/** What a destructive statement does. */
export type DestructiveChangeKind =
  | 'drop-table'
  | 'drop-column'
  | 'rename-table'
  | 'rename-column'
  | 'change-column-type'
  | 'drop-view'
  | 'drop-trigger'
  /** Postgres: `DROP TYPE` / `DROP DOMAIN`. */
  | 'drop-type'
  /** Postgres: `DROP FUNCTION` / `DROP PROCEDURE`. */
  | 'drop-function'
  /** Postgres: `DROP SCHEMA … CASCADE`, which drops everything in it. */
  | 'drop-schema'
  /** Postgres: `TRUNCATE`. */
  | 'truncate-table';

/**
 * One destructive change of one file: something code that is still live (the release being
 * replaced, or one you may roll back to) can be using. The pipeline reads these for its
 * expand/contract decisions; lint reports them outside contract files.
 */
export interface DestructiveChange {
  kind: DestructiveChangeKind;
  /**
   * The object as written, without a schema prefix: the table, or the view, trigger, type,
   * function or schema the kind names.
   */
  table: string;
  /** The column, for column changes. */
  column?: string;
  /** The new name (renames) or the new type (`change-column-type`), when known. */
  to?: string;
  /** File name. */
  file: string;
  /** Absolute path. */
  path: string;
  version: number;
  /** 1-based line of the statement (or action) that makes the change. */
  line: number;
  /** 1-based column, in code points. */
  col: number;
  /** True when the file is marked `-- airlock:contract`. */
  contract: boolean;
}

/** The result of `lintMigrations`. */
export interface LintReport {
  engine: LintEngine;
  /** Findings that stand, sorted by file, line, column. */
  findings: LintFinding[];
  /** Number of `findings` with severity `error`; non-zero blocks the deployment. */
  errors: number;
  /** Number of `findings` with severity `warning`. */
  warnings: number;
  /** Findings a `-- airlock:lint-ignore` suppressed, each with `suppressedBecause`. */
  suppressed: LintFinding[];
  /** Destructive changes of the reported files, contract files included. */
  destructive: DestructiveChange[];
  /** Number of files reported on. */
  files: number;
  /** Wall time (ms). */
  durationMs: number;
}

export interface LintOptions {
  engine: LintEngine;
  /**
   * Versions to report on (e.g. the pending ones). Every earlier file still gives context (its
   * schema is replayed on SQLite/D1). Default: all files.
   */
  only?: number[];
  /** Postgres: the server's version for squawk (`--pg-version`, e.g. `15` or `16.2`). */
  postgresVersion?: string;
  /** Postgres: the squawk binary to run. Default: the one squawk-cli installed. */
  squawkPath?: string;
}
