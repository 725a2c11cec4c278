/**
 * The SQLite and Cloudflare D1 linter: runs the rules of rules/sqlite/ (registry.ts) on each
 * reported file, and reports itself what concerns the statements as such (`syntax-error`,
 * `unparsed`, `replay-error`; see rules.ts for the catalogue).
 *
 * SQLite itself is the grammar: each reported file is split into statements as SQLite's parser
 * splits it (sql-tokens.ts), each statement is read into what the rules need
 * (sqlite-statement.ts) and run in a `SchemaReplay`. What SQLite's parser refuses is a
 * `syntax-error`; what SQLite accepts but the reader cannot read is `unparsed` (an error: no
 * statement is skipped silently). The file is walked statement by statement against the
 * replay, which holds the schema as of the file: the
 * earlier files are replayed into it in version order, and each statement of the file is run in
 * it right after the rules' `check`, so a rule sees the tables, foreign keys, indexes and
 * triggers that exist at that very statement. What the file does is gathered as it goes
 * (sqlite-file-facts.ts) for the rules' `finish`, called once the whole file ran. Transaction
 * control and `PRAGMA foreign_keys` are not run in the replay: they are the rules' business,
 * and must not change how the next statements replay; `ATTACH` attaches an in-memory database
 * and `VACUUM` is skipped, so the replay never writes a file.
 *
 * Engine facts the rules rely on (each shown on real SQLite in test/migrations/lint/; each rule
 * module cites its own):
 * - Airlock's `SqliteMigrationDriver` runs a file inside `BEGIN IMMEDIATE`, on a `node:sqlite`
 *   connection, which enforces foreign keys by default. D1 enforces them in every query and
 *   migration and ignores `PRAGMA foreign_keys`
 *   (https://developers.cloudflare.com/d1/sql-api/foreign-keys/).
 * - `PRAGMA foreign_keys` is a no-op inside a transaction
 *   (https://www.sqlite.org/pragma.html#pragma_foreign_keys).
 * - With foreign keys on, `DROP TABLE` first runs an implicit `DELETE FROM`, which fires ON
 *   DELETE actions; `PRAGMA defer_foreign_keys` defers checks, not actions
 *   (https://www.sqlite.org/foreignkeys.html#fk_schemacommands; D1's SQL statements page says
 *   the same for CASCADE).
 * - The 12-step table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter): create
 *   the new table, copy, `DROP TABLE` the old one, rename the new one, recreate indexes,
 *   triggers and views (step 8).
 * - D1 refuses `BEGIN`/`SAVEPOINT` (https://github.com/cloudflare/workerd/issues/5411).
 */

import type { MigrationFile } from '../migration-files.ts';
import { SQLITE_LINT_RULES } from './rules/sqlite/registry.ts';
import type { SqliteEngine, SqliteLintRule } from './rules/sqlite/sqlite-lint-rule.ts';
import { airlockSeverity } from './rules.ts';
import { SchemaReplay } from './schema-replay.ts';
import { SourceText } from './source-text.ts';
import { foreignKeysPragma, isTransactionControl } from './sql-nodes.ts';
import { type SqliteStatementText, splitSqliteStatements } from './sql-tokens.ts';
import { FileFacts } from './sqlite-file-facts.ts';
import { type ReadStatement, readSqliteStatement } from './sqlite-statement.ts';
import type { DestructiveChange, EngineLintResult, LintFinding, RuleFinding } from './types.ts';

/**
 * Lints `files` (sorted by version) for SQLite or D1, reporting on the versions in `report`
 * (all when undefined). Files after the last reported one are not read.
 */
export function lintSqliteMigrations(
  files: MigrationFile[],
  engine: SqliteEngine,
  report: ReadonlySet<number> | undefined,
  contractOf: (file: MigrationFile) => boolean,
): EngineLintResult {
  const last = report ? Math.max(...report) : Number.POSITIVE_INFINITY;
  const rules = SQLITE_LINT_RULES.filter((r) => r.engines.includes(engine));
  const replay = new SchemaReplay();
  const findings: LintFinding[] = [];
  const destructive: DestructiveChange[] = [];
  try {
    for (const file of files) {
      if (file.version > last) break;
      if (report && !report.has(file.version)) {
        replayContext(replay, file);
        continue;
      }
      const result = new FileLint(file, engine, rules, replay, contractOf(file)).run();
      findings.push(...result.findings);
      destructive.push(...result.destructive);
    }
  } finally {
    replay.close();
  }
  return { findings, destructive };
}

/** Replays a file that is only context: whole, or statement by statement if that fails. */
function replayContext(replay: SchemaReplay, file: MigrationFile): void {
  if (!mayRunWhole(file.sql) || replay.run(file.sql) !== null) {
    for (const text of splitSqliteStatements(file.sql)) {
      const reading = readSqliteStatement(text.tokens);
      if (reading.ok && !replays(reading.statement)) continue;
      replay.run(replayText(file.sql, text, reading.ok ? reading.statement : undefined));
    }
  }
}

/**
 * False when a file has statements that must not run as written in the replay (transaction
 * control, PRAGMA foreign_keys, ATTACH, VACUUM): it is then replayed statement by statement.
 */
function mayRunWhole(sql: string): boolean {
  return !/\b(?:begin|commit|end|rollback|savepoint|release|foreign_keys|attach|vacuum)\b/i.test(
    sql,
  );
}

/**
 * False for the statements that do not run in the replay: transaction control and `PRAGMA
 * foreign_keys` (the rules' business; they must not change how the next statements replay),
 * VACUUM (it may write a file: `VACUUM INTO`), EXPLAIN (it changes nothing).
 */
function replays(statement: ReadStatement): boolean {
  return (
    !isTransactionControl(statement) &&
    foreignKeysPragma(statement) === null &&
    statement.kind !== 'vacuum' &&
    statement.kind !== 'explain'
  );
}

/** The text the replay runs for a statement: ATTACH attaches an in-memory database instead of a file. */
function replayText(sql: string, text: SqliteStatementText, statement?: ReadStatement): string {
  if (statement?.kind === 'attach' && statement.schema) {
    return `ATTACH DATABASE ':memory:' AS "${statement.schema.replace(/"/g, '""')}"`;
  }
  return sql.slice(text.start, text.end);
}

/**
 * SQLite's own messages for text its parser refuses (`sqlite3ErrorMsg` in `src/tokenize.c` and
 * `src/parse.y`), as opposed to a statement that reads well but fails on the schema.
 */
function isSyntaxError(message: string): boolean {
  return /syntax error|incomplete input|unrecognized token/.test(message);
}

/** The lint of one file. */
class FileLint {
  readonly #file: MigrationFile;
  readonly #engine: SqliteEngine;
  readonly #rules: readonly SqliteLintRule[];
  readonly #replay: SchemaReplay;
  readonly #contract: boolean;
  readonly #source: SourceText;
  readonly #findings: LintFinding[] = [];

  constructor(
    file: MigrationFile,
    engine: SqliteEngine,
    rules: readonly SqliteLintRule[],
    replay: SchemaReplay,
    contract: boolean,
  ) {
    this.#file = file;
    this.#engine = engine;
    this.#rules = rules;
    this.#replay = replay;
    this.#contract = contract;
    this.#source = new SourceText(file.sql);
  }

  run(): EngineLintResult {
    const context = {
      engine: this.#engine,
      file: this.#file,
      text: (start: number, end: number) => this.#file.sql.slice(start, end),
      replay: this.#replay,
    };
    const facts = new FileFacts(this.#replay);
    let replayFailure: { offset: number; message: string } | undefined;
    let laterFailures = 0;
    splitSqliteStatements(this.#file.sql).forEach((text, index) => {
      const reading = readSqliteStatement(text.tokens);
      if (!reading.ok) {
        const failure = this.#replay.run(this.#file.sql.slice(text.start, text.end));
        if (failure === null) {
          this.#add(
            'unparsed',
            reading.offset,
            `SQLite accepts this statement, but Airlock's SQLite reader cannot read it (${reading.reason} at \`${firstWords(this.#file.sql, reading.offset)}\`), so no rule could check it.`,
            'Check the statement by hand against the rules of `airlock migrate lint` and, if it is safe, say why with `-- airlock:lint-ignore unparsed <reason>` on the line before it; please report the statement to Airlock so the reader learns it.',
          );
        } else if (isSyntaxError(failure)) {
          this.#syntaxError(text, failure);
        } else if (replayFailure) laterFailures++;
        else replayFailure = { offset: text.start, message: failure };
        return;
      }
      const statement = reading.statement;
      let reported = false;
      for (const rule of this.#rules) {
        const found = rule.check?.(statement, context) ?? [];
        if (found.length > 0) reported = true;
        this.#report(rule.name, found);
      }
      facts.record(statement, index);
      if (!replays(statement)) return;
      const failure = this.#replay.run(replayText(this.#file.sql, text, statement));
      // A statement a rule reported on already says why it fails.
      if (failure === null || reported) return;
      if (isSyntaxError(failure)) this.#syntaxError(text, failure);
      else if (replayFailure) laterFailures++;
      else replayFailure = { offset: text.start, message: failure };
    });
    if (replayFailure) {
      const later =
        laterFailures > 0
          ? ` ${laterFailures} later statement${laterFailures === 1 ? '' : 's'} of this file failed too, probably because of it.`
          : '';
      this.#add(
        'replay-error',
        replayFailure.offset,
        `SQLite refuses this statement when the migrations up to ${this.#file.filename} are replayed in order into an empty database: ${replayFailure.message}. A fresh ${this.#engine === 'd1' ? 'D1' : 'SQLite'} database fails the same way, and so will staging.${later}`,
        'Fix the statement. If it needs a table that was created outside the migrations, add that schema as an earlier migration first, so every environment can be built from the migrations alone.',
      );
    }
    facts.resolve();
    const fileContext = { ...context, contract: this.#contract, facts };
    for (const rule of this.#rules) this.#report(rule.name, rule.finish?.(fileContext) ?? []);
    const destructive = facts.changes.map(({ offset, detail: _, ...change }): DestructiveChange => {
      const { line, col } = this.#source.position(offset);
      return {
        ...change,
        file: this.#file.filename,
        path: this.#file.path,
        version: this.#file.version,
        line,
        col,
        contract: this.#contract,
      };
    });
    return { findings: this.#findings, destructive };
  }

  /** Reports SQLite's syntax error at the token where its parser stopped. */
  #syntaxError(text: SqliteStatementText, message: string): void {
    this.#add(
      'syntax-error',
      this.#syntaxErrorOffset(text),
      `SQLite cannot read this statement: ${message}. Every ${this.#engine === 'd1' ? 'D1' : 'SQLite'} database refuses it, staging and production alike.`,
      'Fix the SQL of this statement (SQLite names the token where it stopped).',
    );
  }

  /**
   * The offset of the token SQLite's parser stops at: the first token `k` such that the
   * statement cut after `k` is a syntax error (before it, a cut is incomplete or complete input,
   * never a syntax error), found by bisection with SQLite compiling (not running) each cut.
   */
  #syntaxErrorOffset(text: SqliteStatementText): number {
    const { tokens } = text;
    const cut = (k: number) => this.#file.sql.slice(text.start, tokens[k]!.end);
    let lo = 0;
    let hi = tokens.length - 1;
    const failsAt = (k: number) => {
      const message = this.#replay.compile(cut(k));
      return message !== null && isSyntaxError(message) && !/incomplete input/.test(message);
    };
    if (!failsAt(hi)) return tokens[hi]!.end; // SQLite wants more: it stops at the end
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (failsAt(mid)) hi = mid;
      else lo = mid + 1;
    }
    return tokens[lo]!.start;
  }

  #report(rule: string, found: RuleFinding[]): void {
    for (const f of found) this.#add(rule, f.offset, f.message, f.fix);
  }

  #add(rule: string, offset: number, message: string, fix: string): void {
    const { line, col } = this.#source.position(offset);
    this.#findings.push({
      rule,
      severity: airlockSeverity(rule),
      file: this.#file.filename,
      path: this.#file.path,
      line,
      col,
      message,
      fix,
      docs: '',
    });
  }
}

/** The text at `offset`, up to 30 characters on one line, for messages. */
function firstWords(sql: string, offset: number): string {
  const line = sql.slice(offset).split('\n', 1)[0]!.trim();
  return line.length > 30 ? `${line.slice(0, 27)}...` : line || '(end of statement)';
}
