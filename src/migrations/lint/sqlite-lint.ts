/**
 * The SQLite and Cloudflare D1 linter: runs the rules of rules/sqlite/ (registry.ts) on each
 * reported file, and reports itself what concerns the file as a whole (`syntax-error`,
 * `unparsed-statement`, `replay-error`; see rules.ts for the catalogue).
 *
 * Each reported file is parsed with sql-parser-cst (`dialect: 'sqlite'`, `includeRange`) and
 * walked statement by statement against a `SchemaReplay` holding the schema as of the file: the
 * earlier files are replayed into it in version order, and each statement of the file is run in
 * it right after the rules' `check`, so a rule sees the tables, foreign keys, indexes and
 * triggers that exist at that very statement. What the file does is gathered as it goes
 * (sqlite-file-facts.ts) for the rules' `finish`, called once the whole file ran. Transaction
 * control and `PRAGMA foreign_keys` are not run in the replay: they are the rules' business,
 * and must not change how the next statements replay.
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

import { type Node, type Program, parse, type Statement } from 'sql-parser-cst';
import type { MigrationFile } from '../migration-files.ts';
import { SQLITE_LINT_RULES } from './rules/sqlite/registry.ts';
import type { SqliteEngine, SqliteLintRule } from './rules/sqlite/sqlite-lint-rule.ts';
import { airlockSeverity } from './rules.ts';
import { SchemaReplay } from './schema-replay.ts';
import { SourceText } from './source-text.ts';
import { foreignKeysPragma, isTransactionControl } from './sql-nodes.ts';
import { FileFacts } from './sqlite-file-facts.ts';
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
  if (replay.run(file.sql) === null) return;
  let program: Program;
  try {
    program = parseSqlite(file);
  } catch {
    return; // the schema stays as far as SQLite got
  }
  for (const statement of program.statements) {
    if (statement.type === 'empty' || isTransactionControl(statement)) continue;
    const [start, end] = statement.range!;
    replay.run(file.sql.slice(start, end));
  }
}

function parseSqlite(file: MigrationFile): Program {
  return parse(file.sql, { dialect: 'sqlite', includeRange: true, filename: file.filename });
}

/** False for the statements that must not run in the replay (see the module comment). */
function replays(statement: Statement): boolean {
  return !isTransactionControl(statement) && foreignKeysPragma(statement) === null;
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
    let program: Program;
    try {
      program = parseSqlite(this.#file);
    } catch (error) {
      this.#unparsed(error);
      return { findings: this.#findings, destructive: [] };
    }
    const context = {
      engine: this.#engine,
      file: this.#file,
      text: (node: Node) => this.#text(node),
    };
    const facts = new FileFacts(this.#replay);
    let replayFailure: { offset: number; message: string } | undefined;
    let laterFailures = 0;
    program.statements.forEach((statement, index) => {
      if (statement.type === 'empty') return;
      let reported = false;
      for (const rule of this.#rules) {
        const found = rule.check?.(statement, context) ?? [];
        if (found.length > 0) reported = true;
        this.#report(rule.name, found);
      }
      facts.record(statement, index);
      if (!replays(statement)) return;
      const [start, end] = statement.range!;
      const failure = this.#replay.run(this.#file.sql.slice(start, end));
      // A statement a rule reported on already says why it fails.
      if (failure === null || reported) return;
      if (replayFailure) laterFailures++;
      else replayFailure = { offset: start, message: failure };
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
    const fileContext = { ...context, contract: this.#contract, replay: this.#replay, facts };
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

  /** `syntax-error` when SQLite refuses the file too, else `unparsed-statement`. */
  #unparsed(error: unknown): void {
    const text = error instanceof Error ? error.message : String(error);
    const where = /--> .*:(\d+):(\d+)\s*$/m.exec(text);
    const line = where ? Number(where[1]) : 1;
    const col = where ? Number(where[2]) : 1;
    const offset =
      this.#source.lineStart(line) +
      [...this.#source.lineText(line)].slice(0, col - 1).join('').length;
    const parser = text.split('\n', 1)[0]!;
    const sqlite = this.#replay.run(this.#file.sql);
    if (sqlite === null) {
      this.#add(
        'unparsed-statement',
        offset,
        `Airlock's SQLite parser cannot read this file (${parser}), although SQLite accepts it, so none of its statements were linted.`,
        'Check the file by hand against the rules of `airlock migrate lint`; if the syntax is ordinary SQLite, report it to Airlock with the statement.',
      );
    } else {
      this.#add(
        'syntax-error',
        offset,
        `The file does not parse: ${parser}. SQLite refuses it too: ${sqlite}.`,
        'Fix the SQL at this position.',
      );
    }
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
    });
  }

  #text(node: Node): string {
    const [start, end] = node.range!;
    return this.#file.sql.slice(start, end);
  }
}
