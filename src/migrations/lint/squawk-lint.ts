/**
 * Postgres lint: squawk (https://squawkhq.com, the `squawk-cli` package, pinned to 2.61.0)
 * run on the migration files, its violations mapped to `LintFinding`s with Airlock's
 * severities (`SQUAWK_RULES` in rules.ts) and expand/contract awareness, beside Airlock's own
 * Postgres rules (rules/postgres/).
 *
 * How squawk is run:
 * - The binary is resolved from the installed `squawk-cli` package (its platform package
 *   `@squawk-cli/<platform>-<arch>`), never from PATH.
 * - squawk reads each file where it is when its text on disk is exactly the `sql` of its
 *   `MigrationFile`; any other (a rewritten `-- squawk-ignore`, a file known only in memory) is
 *   copied to a temporary directory first. squawk runs with an empty config file, so a stray
 *   `.squawk.toml` cannot change the result.
 * - Files run as Airlock's driver runs them: `--assume-in-transaction` (one transaction per
 *   file) except for files marked `-- airlock:no-transaction` (`--no-assume-in-transaction`).
 * - `--exclude` drops the timeout rules: the driver sets `lock_timeout` and
 *   `statement_timeout` on its session.
 * - `-- squawk-ignore` comments are disabled (rewritten in the temporary copy): a suppression
 *   must be an `-- airlock:lint-ignore <rule> <reason>`, whose reason is audited.
 * - `--reporter json` gives one object per violation with a 0-based line and a 0-based UTF-8
 *   byte column, converted here to 1-based line:col in code points.
 */

import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProviderError } from '../../errors.ts';
import { runTool } from '../../process/run-tool.ts';
import type { MigrationFile } from '../migration-files.ts';
import { type SqlStatement, splitSqlStatements } from '../sql-split.ts';
import { describeDestructive } from './destructive-change.ts';
import { postgresDestructiveStatements } from './postgres-destructive.ts';
import {
  type PostgresAlterAction,
  type PostgresStatement,
  readPostgresStatement,
} from './postgres-statement.ts';
import { POSTGRES_LINT_RULES } from './rules/postgres/registry.ts';
import { EXCLUDED_SQUAWK_RULES, ruleDocs, SQUAWK_RULES } from './rules.ts';
import { SourceText } from './source-text.ts';
import type { DestructiveChange, EngineLintResult, LintFinding } from './types.ts';

/** One violation as squawk's JSON reporter prints it. */
export interface SquawkViolation {
  file: string;
  /** 0-based line. */
  line: number;
  /** 0-based UTF-8 byte column. */
  column: number;
  line_end: number;
  column_end: number;
  level: string;
  message: string;
  help: string | null;
  rule_name: string;
}

export interface SquawkOptions {
  /** `--pg-version`. */
  postgresVersion?: string;
  /** The binary; default `squawkBinary()`. */
  squawkPath?: string;
}

/**
 * Absolute path of the squawk binary installed with the `squawk-cli` package.
 *
 * @throws ProviderError `MIGRATION_LINT_UNAVAILABLE` when squawk-cli or its platform package
 *   (`@squawk-cli/<platform>-<arch>`, an optional dependency) is not installed.
 */
export function squawkBinary(): string {
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  const exe = process.platform === 'win32' ? 'squawk.exe' : 'squawk';
  try {
    const requireHere = createRequire(import.meta.url);
    const cli = requireHere.resolve('squawk-cli/package.json');
    return createRequire(cli).resolve(`${pkg}/bin/${exe}`);
  } catch (error) {
    throw unavailable(
      `squawk (Postgres migration lint) is not installed: cannot find ${pkg}/bin/${exe} beside the squawk-cli package.`,
      error,
    );
  }
}

function unavailable(message: string, cause?: unknown): ProviderError {
  return new ProviderError('MIGRATION_LINT_UNAVAILABLE', message, {
    hint: `Install Airlock's dependencies with optional packages included (\`npm ci --include=optional\`): squawk-cli ships its binary in the optional package @squawk-cli/${process.platform}-${process.arch}. Then run \`airlock migrate lint\` again.`,
    details: { platform: `${process.platform}-${process.arch}` },
    cause,
  });
}

/**
 * Runs squawk on `files` (the reported Postgres migrations) and maps its violations.
 *
 * @throws ProviderError `MIGRATION_LINT_UNAVAILABLE` when the binary is missing or cannot run;
 *   `MIGRATION_LINT_FAILED` when squawk exits with an error or prints something that is not its
 *   JSON report.
 */
export async function lintPostgresMigrations(
  files: MigrationFile[],
  options: SquawkOptions,
  directives: (file: MigrationFile) => { contract: boolean; noTransaction: boolean },
): Promise<EngineLintResult> {
  const findings: LintFinding[] = [];
  const destructive: DestructiveChange[] = [];
  if (files.length === 0) return { findings, destructive };
  const binary = options.squawkPath ?? squawkBinary();
  if (!existsSync(binary)) throw unavailable(`The squawk binary ${binary} does not exist.`);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-squawk-'));
  try {
    const config = join(dir, 'squawk.toml');
    await writeFile(config, '');
    // squawk reads each file where it is when its text on disk is exactly what is linted;
    // only the others (rewritten `squawk-ignore` comments, files known only in memory) are
    // copied, by file name, into the temporary folder. Writing 500 copies took longer than
    // squawk itself.
    const byPath = new Map<string, MigrationFile>();
    const paths = new Map<MigrationFile, string>();
    await Promise.all(
      files.map(async (file) => {
        const { text, ignores } = disableSquawkIgnores(file.sql);
        findings.push(...ignores.map((line) => squawkIgnoreFinding(file, line)));
        const onDisk = resolve(file.path);
        const where =
          ignores.length === 0 && readsAs(onDisk, text) ? onDisk : join(dir, file.filename);
        if (where !== onDisk) await writeFile(where, text);
        paths.set(file, where);
        byPath.set(where, file);
      }),
    );
    const names = (list: MigrationFile[]) => list.map((f) => paths.get(f)!);
    const common = [
      '--reporter',
      'json',
      '--config',
      config,
      ...(options.postgresVersion ? ['--pg-version', options.postgresVersion] : []),
    ];
    const inTransaction = files.filter((f) => !directives(f).noTransaction);
    const outside = files.filter((f) => directives(f).noTransaction);
    const runs = await Promise.all([
      // prefer-robust-stmts is dropped for transactional files (see SQUAWK_RULES): not run.
      inTransaction.length
        ? runSquawk(
            binary,
            [
              ...common,
              `--exclude=${[...EXCLUDED_SQUAWK_RULES, 'prefer-robust-stmts'].join(',')}`,
              '--assume-in-transaction',
              ...names(inTransaction),
            ],
            dir,
          )
        : [],
      outside.length
        ? runSquawk(
            binary,
            [
              ...common,
              `--exclude=${EXCLUDED_SQUAWK_RULES.join(',')}`,
              '--no-assume-in-transaction',
              ...names(outside),
            ],
            dir,
          )
        : [],
    ]);
    const analyses = new Map<string, PostgresFile>();
    const analysis = (file: MigrationFile) => {
      let found = analyses.get(file.filename);
      if (!found) {
        found = new PostgresFile(file, directives(file));
        analyses.set(file.filename, found);
      }
      return found;
    };
    for (const file of files) analysis(file).airlockRules(findings, destructive);
    for (const violation of runs.flat()) {
      const file = byPath.get(resolve(dir, violation.file));
      if (file) analysis(file).map(violation, findings, destructive);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { findings, destructive };
}

/**
 * True when the file at `path` holds exactly `text` (and so squawk may read it there). Read
 * synchronously: for hundreds of small files, several times faster than through promises.
 */
function readsAs(path: string, text: string): boolean {
  try {
    return readFileSync(path, 'utf8') === text;
  } catch {
    return false;
  }
}

/** Runs squawk and parses its JSON report. */
async function runSquawk(binary: string, args: string[], cwd: string): Promise<SquawkViolation[]> {
  const result = await runTool({ command: binary, args, cwd });
  if (result.spawnError) {
    const cause = Object.assign(new Error(result.spawnError.message), {
      code: result.spawnError.code,
    });
    throw unavailable(`Cannot run squawk (${binary}): ${result.spawnError.message}.`, cause);
  }
  const { exitCode: code, stdout, stderr } = result;
  // squawk exits 0 without violations and 1 with some; anything else is its own failure.
  if (code === 0 || code === 1) {
    try {
      const parsed: unknown = JSON.parse(stdout.trim() || '[]');
      if (Array.isArray(parsed)) return parsed as SquawkViolation[];
    } catch {
      // reported below
    }
  }
  throw new ProviderError(
    'MIGRATION_LINT_FAILED',
    `squawk failed (exit code ${code}): ${(stderr || stdout).trim().slice(0, 2000) || 'no output'}`,
    {
      hint: 'This is a problem with squawk or with how Airlock runs it. Re-run with --verbose and report it to Airlock with the output.',
      details: { binary, args, exitCode: code },
    },
  );
}

/** Rewrites `-- squawk-ignore…` comments so squawk does not honour them (same length). */
export function disableSquawkIgnores(sql: string): { text: string; ignores: number[] } {
  const ignores: number[] = [];
  const lines = sql.split('\n');
  const text = lines
    .map((line, index) => {
      if (!/--\s*squawk-ignore/i.test(line)) return line;
      ignores.push(index + 1);
      return line.replace(/(--\s*squawk)-(ignore)/gi, '$1~$2');
    })
    .join('\n');
  return { text, ignores };
}

function squawkIgnoreFinding(file: MigrationFile, line: number): LintFinding {
  const source = new SourceText(file.sql);
  const text = source.lineText(line);
  const col = [...text.slice(0, Math.max(0, text.indexOf('--')))].length + 1;
  return {
    rule: 'squawk-ignore-comment',
    severity: 'warning',
    file: file.filename,
    path: file.path,
    line,
    col,
    docs: ruleDocs('squawk-ignore-comment'),
    message:
      '`squawk-ignore` has no effect under Airlock: every suppression must say why, and the reason goes to the audit log. The violations it meant to hide are reported.',
    fix: 'Replace it with `-- airlock:lint-ignore <rule> <why this is safe here>` on a line of its own.',
  };
}

/** Airlock's engine-specific words for some squawk rules: why (appended to squawk's message) and how. */
const NOTES: Readonly<Record<string, { why?: string; fix?: string }>> = {
  'syntax-error': { why: 'Postgres will refuse the file.', fix: 'Fix the SQL at this position.' },
  'ban-concurrent-index-creation-in-transaction': {
    why: 'Postgres refuses CREATE INDEX CONCURRENTLY inside a transaction block ("cannot run inside a transaction block"), and Airlock runs this file in one.',
    fix: 'Move the statement to a migration of its own containing the line `-- airlock:no-transaction`; Airlock then runs it outside a transaction.',
  },
  'transaction-nesting': {
    why: 'Airlock runs each Postgres migration in one transaction together with its ledger row, and refuses a file that has its own BEGIN/COMMIT (MIGRATION_FAILED); a COMMIT would split the file from its ledger row.',
    fix: 'Remove the BEGIN/COMMIT statements: the file is atomic already. If it must run outside a transaction, mark it `-- airlock:no-transaction` instead.',
  },
  'ban-uncommitted-transaction': {
    why: 'A transaction left open would swallow the ledger row Airlock writes after the file.',
    fix: 'Add the COMMIT, or remove the BEGIN.',
  },
  'adding-required-field': {
    why: 'Postgres fails with "column … contains null values" on any table with rows: it passes on an empty staging table and fails in production.',
    fix: 'Add a non-volatile DEFAULT; or add the column nullable, backfill it, add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL.',
  },
  'ban-truncate-cascade': {
    why: 'TRUNCATE … CASCADE also empties every table with a foreign key to this one.',
  },
  'require-concurrent-index-creation': {
    fix: 'Under Airlock: `CREATE INDEX CONCURRENTLY IF NOT EXISTS …` in a migration of its own containing the line `-- airlock:no-transaction`.',
  },
  'require-concurrent-index-deletion': {
    fix: 'Under Airlock: `DROP INDEX CONCURRENTLY IF EXISTS …` in a migration of its own containing the line `-- airlock:no-transaction`.',
  },
  'prefer-robust-stmts': {
    why: 'This file runs without a transaction (`-- airlock:no-transaction`): if it fails midway its earlier statements stay applied and no ledger row is written, so `airlock migrate apply` runs the whole file again.',
    fix: 'Make every statement safe to run twice (IF NOT EXISTS / IF EXISTS).',
  },
  'changing-column-type': {
    fix: 'Expand/contract: add a new column of the new type, backfill it in batches, switch the code, then drop the old column in a contract migration.',
  },
};

/** Statements of one Postgres file, read once, to name the objects of a violation. */
class PostgresFile {
  readonly #file: MigrationFile;
  readonly #contract: boolean;
  readonly #noTransaction: boolean;
  readonly #source: SourceText;
  readonly #statements: SqlStatement[];
  readonly #read: PostgresStatement[];
  /** The file's first syntax error (squawk reports several per broken statement) and the rest's count. */
  #syntaxError: { finding: LintFinding; more: number } | undefined;
  #syntaxErrorMessage = '';

  constructor(file: MigrationFile, directives: { contract: boolean; noTransaction: boolean }) {
    this.#file = file;
    this.#contract = directives.contract;
    this.#noTransaction = directives.noTransaction;
    this.#source = new SourceText(file.sql);
    this.#statements = splitSqlStatements(file.sql);
    this.#read = this.#statements.map((s) => readPostgresStatement(s.text, s.offset));
  }

  #finding(rule: string, offset: number, message: string, fix: string): LintFinding {
    const { line, col } = this.#source.position(offset);
    return {
      rule,
      severity: rule === 'destructive-change-outside-contract' ? 'error' : ruleSeverity(rule),
      file: this.#file.filename,
      path: this.#file.path,
      line,
      col,
      message,
      fix,
      docs: ruleDocs(rule),
    };
  }

  /**
   * Runs Airlock's own Postgres rules (rules/postgres/) on the file, and reports its destructive
   * statements squawk has no rule for (DROP SCHEMA … CASCADE, TRUNCATE, DROP VIEW/TYPE/FUNCTION/
   * TRIGGER) as destructive changes.
   */
  airlockRules(findings: LintFinding[], destructive: DestructiveChange[]): void {
    const context = {
      file: this.#file,
      statements: this.#statements,
      read: this.#read,
      noTransaction: this.#noTransaction,
    };
    for (const rule of POSTGRES_LINT_RULES) {
      for (const found of rule.check(context)) {
        findings.push({
          ...this.#finding(rule.name, found.offset, found.message, found.fix),
          severity: rule.severity,
        });
      }
    }
    for (const change of postgresDestructiveStatements(this.#read)) {
      const { line, col } = this.#source.position(change.offset);
      destructive.push({
        kind: change.kind,
        table: change.table,
        file: this.#file.filename,
        path: this.#file.path,
        version: this.#file.version,
        line,
        col,
        contract: this.#contract,
      });
      if (this.#contract) continue;
      const { message, fix } = describeDestructive(change);
      findings.push(
        this.#finding('destructive-change-outside-contract', change.offset, message, fix),
      );
    }
  }

  map(violation: SquawkViolation, findings: LintFinding[], destructive: DestructiveChange[]): void {
    const rule = violation.rule_name;
    const treatment = SQUAWK_RULES[rule] ?? 'warning';
    // A transactional file is rolled back whole: it re-runs without IF NOT EXISTS.
    if (rule === 'prefer-robust-stmts' && !this.#noTransaction) return;
    const offset = this.#source.offsetOfByteColumn(
      Math.max(0, violation.line),
      Math.max(0, violation.column),
    );
    const { line, col } = this.#source.position(offset);
    const base = { file: this.#file.filename, path: this.#file.path, line, col };
    const note = NOTES[rule];
    const docs = `https://squawkhq.com/docs/${rule}`;
    if (treatment === 'destructive') {
      const changes = this.#changes(rule, offset);
      for (const change of changes) {
        destructive.push({
          ...change,
          ...base,
          version: this.#file.version,
          contract: this.#contract,
        });
      }
      if (changes.length === 0) return; // a table this very file created: nothing live uses it
      if (this.#contract) {
        if (rule !== 'changing-column-type') return; // the point of a contract migration
        findings.push({
          rule,
          severity: 'warning',
          ...base,
          message: `${violation.message} (Expected in a contract migration, but the type change still rewrites the table under an ACCESS EXCLUSIVE lock.)`,
          fix: note?.fix ?? violation.help ?? `See ${docs}.`,
          docs,
        });
        return;
      }
      const described = changes.map((c) => describeDestructive(c));
      findings.push({
        rule: 'destructive-change-outside-contract',
        severity: 'error',
        ...base,
        message: `${described.map((d) => d.message).join(' ')} (squawk ${rule}: ${violation.message})`,
        fix: described[0]!.fix,
        docs: ruleDocs('destructive-change-outside-contract'),
      });
      return;
    }
    const finding: LintFinding = {
      rule,
      severity: treatment === 'error' ? 'error' : 'warning',
      ...base,
      // squawk's message may end without a period ("missing comma"): one before Airlock's why.
      message: note?.why
        ? `${violation.message}${/[.!?:]$/.test(violation.message) ? '' : '.'} ${note.why}`
        : violation.message,
      // Airlock's own advice replaces squawk's where it has some (it says the same, for how
      // Airlock runs migrations); the rule's page is in `docs`, printed once.
      fix: note?.fix ?? violation.help ?? `See ${docs}.`,
      docs: ruleDocs(rule),
    };
    if (rule === 'syntax-error') {
      if (this.#syntaxError) {
        const more = ++this.#syntaxError.more;
        this.#syntaxError.finding.message = `${this.#syntaxErrorMessage} (and ${more} more syntax error${more === 1 ? '' : 's'} after it)`;
        return;
      }
      this.#syntaxError = { finding, more: 0 };
      this.#syntaxErrorMessage = finding.message;
    }
    findings.push(finding);
  }

  /** The destructive changes of the statement at `offset`; [] on a table created earlier in the file. */
  #changes(
    rule: string,
    offset: number,
  ): Array<Pick<DestructiveChange, 'kind' | 'table' | 'column' | 'to'>> {
    const index = this.#statements.findIndex(
      (s) => offset >= s.offset && offset <= s.offset + s.text.length,
    );
    const read = index >= 0 ? this.#read[index]! : undefined;
    const created = this.#createdBefore(index);
    const fresh = (table: string) => created.has(table);
    const kind = KIND_OF_RULE[rule]!;
    if (read?.kind === 'drop' && read.object === 'table') {
      return read.names.filter((n) => !fresh(n.name)).map((n) => ({ kind, table: n.name }));
    }
    if (read?.kind === 'alter-table') {
      const table = read.table.name;
      if (fresh(table)) return [];
      const wanted = ACTION_OF_RULE[rule];
      const matching = read.actions.filter((a) => a.type === wanted);
      // The action the violation points into: the last one starting at or before it.
      const action = matching.filter((a) => a.start <= offset).at(-1) ?? matching[0];
      return [{ kind, table, ...details(action) }];
    }
    return [{ kind, table: '(a table squawk names in its message)' }];
  }

  /** Names of the tables created by the statements before `index`. */
  #createdBefore(index: number): Set<string> {
    const created = new Set<string>();
    for (const read of this.#read.slice(0, Math.max(0, index))) {
      if (read.kind === 'create' && read.object === 'table') {
        for (const n of read.names) created.add(n.name);
      }
    }
    return created;
  }
}

function ruleSeverity(rule: string): 'error' | 'warning' {
  return SQUAWK_RULES[rule] === 'error' ? 'error' : 'warning';
}

const KIND_OF_RULE: Readonly<Record<string, DestructiveChange['kind']>> = {
  'ban-drop-column': 'drop-column',
  'ban-drop-table': 'drop-table',
  'renaming-column': 'rename-column',
  'renaming-table': 'rename-table',
  'changing-column-type': 'change-column-type',
};

const ACTION_OF_RULE: Readonly<Record<string, PostgresAlterAction['type']>> = {
  'ban-drop-column': 'drop-column',
  'renaming-column': 'rename-column',
  'renaming-table': 'rename-table',
  'changing-column-type': 'set-type',
};

function details(
  action: PostgresAlterAction | undefined,
): Pick<DestructiveChange, 'column' | 'to'> {
  switch (action?.type) {
    case 'drop-column':
      return { column: action.column };
    case 'rename-column':
      return { column: action.column, to: action.to };
    case 'rename-table':
      return { to: action.to };
    case 'set-type':
      return { column: action.column, ...(action.to ? { to: action.to } : {}) };
    default:
      return {};
  }
}
