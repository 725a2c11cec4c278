/**
 * `airlock migrate lint`: finds what makes a migration unsafe to promote or to roll back past,
 * before it reaches staging. A finding at error level blocks the deployment (the pipeline reads
 * `LintReport.errors`); warnings are shown.
 *
 * - SQLite and D1: Airlock's own rules on each statement (read as SQLite's grammar has it, and run
 *   by SQLite itself in a replay), against the
 *   schema replayed from the earlier files (sqlite-lint.ts).
 * - Postgres: squawk, run the way Airlock's driver runs the files, plus expand/contract
 *   (squawk-lint.ts).
 * - Everywhere: the `-- airlock:` directives (directives.ts). `-- airlock:lint-ignore <rule>
 *   <reason>` moves that rule's findings on the next statement to `suppressed` (and
 *   `-- airlock:lint-ignore-file <rule> <reason>` those of the whole file), with the reason in
 *   `suppressedBecause` for the audit log; an ignore that suppresses nothing is a warning.
 *
 * Every finding carries `docs`, where its rule is explained (`docs/lint-rules.md#<rule>`).
 *
 * The rules and their severities are listed in rules.ts.
 */

import { UserError } from '../../errors.ts';
import { directivesOf, type LintIgnore } from '../directives.ts';
import type { MigrationFile } from '../migration-files.ts';
import { formatMigrationVersion } from '../migration-name.ts';
import { splitSqlStatements } from '../sql-split.ts';
import { AIRLOCK_RULES, type LintEngine, ruleDocs } from './rules.ts';
import { SourceText } from './source-text.ts';
import { splitSqliteStatements } from './sql-tokens.ts';
import { lintSqliteMigrations } from './sqlite-lint.ts';
import { lintPostgresMigrations } from './squawk-lint.ts';
import type { DestructiveChange, LintFinding, LintOptions, LintReport } from './types.ts';

export {
  AIRLOCK_RULES,
  type LintEngine,
  type LintSeverity,
  ruleDocs,
  SQUAWK_RULES,
} from './rules.ts';
export type {
  DestructiveChange,
  DestructiveChangeKind,
  LintFinding,
  LintOptions,
  LintReport,
} from './types.ts';

const ENGINES: readonly LintEngine[] = ['sqlite', 'd1', 'postgres'];

const NOT_SUPPRESSIBLE = new Set(AIRLOCK_RULES.filter((r) => !r.suppressible).map((r) => r.name));

/**
 * Lints migration files for one engine.
 *
 * @param files the project's migrations (e.g. from `readMigrationDir`), in any order.
 * @param options `engine`; `only`: the versions to report on (earlier files still give the
 *   schema they build); Postgres: `postgresVersion`, `squawkPath`.
 * @returns findings (sorted by file, line, column), counts, suppressed findings, the destructive
 *   changes of the reported files, and the wall time in ms.
 * @throws UserError `USAGE` for an unknown engine or a version in `only` that has no file.
 * @throws ProviderError `MIGRATION_LINT_UNAVAILABLE` (Postgres) when squawk is not installed;
 *   `MIGRATION_LINT_FAILED` when squawk itself fails.
 */
export async function lintMigrations(
  files: MigrationFile[],
  options: LintOptions,
): Promise<LintReport> {
  const started = performance.now();
  const { engine } = options;
  if (!ENGINES.includes(engine)) {
    throw new UserError('USAGE', `Cannot lint migrations for engine "${String(engine)}".`, {
      hint: `The engines are ${ENGINES.join(', ')}.`,
    });
  }
  const sorted = [...files].sort((a, b) => a.version - b.version);
  const only = options.only ? new Set(options.only) : undefined;
  if (only) {
    const known = new Set(sorted.map((f) => f.version));
    const missing = [...only].filter((v) => !known.has(v));
    if (missing.length > 0) {
      throw new UserError(
        'USAGE',
        `No migration file has version ${missing.map(formatMigrationVersion).join(', ')}.`,
        {
          hint: 'Run `airlock migrate status` to see the migrations and their versions.',
          details: { missing },
        },
      );
    }
  }
  const reported = only ? sorted.filter((f) => only.has(f.version)) : sorted;
  const directives = new Map(sorted.map((f) => [f.filename, directivesOf(f)]));
  const directivesFor = (file: MigrationFile) => directives.get(file.filename)!;

  const result =
    engine === 'postgres'
      ? await lintPostgresMigrations(reported, options, directivesFor)
      : lintSqliteMigrations(sorted, engine, only, (f) => directivesFor(f).contract);

  const findings: LintFinding[] = [];
  const suppressed: LintFinding[] = [];
  const byFile = new Map(reported.map((f) => [f.filename, f]));
  for (const file of reported) {
    for (const problem of directivesFor(file).problems) {
      findings.push({
        rule: problem.code,
        severity: 'error',
        file: file.filename,
        path: file.path,
        line: problem.line,
        col: problem.col,
        message: problem.message,
        fix: problem.fix,
        docs: ruleDocs(problem.code),
      });
    }
  }
  const scopes = new Map<string, IgnoreScopes>();
  const scopesOf = (file: MigrationFile) => {
    let found = scopes.get(file.filename);
    if (!found) {
      found = new IgnoreScopes(file, engine, directivesFor(file).ignores);
      scopes.set(file.filename, found);
    }
    return found;
  };
  const used = new Set<string>();
  for (const finding of result.findings) {
    const file = byFile.get(finding.file);
    const ignore =
      NOT_SUPPRESSIBLE.has(finding.rule) || !file ? undefined : scopesOf(file).covering(finding);
    if (ignore) {
      used.add(`${finding.file}:${ignore.line}`);
      suppressed.push({ ...finding, suppressedBecause: ignore.reason });
    } else {
      findings.push(finding);
    }
  }
  for (const file of reported) {
    for (const ignore of directivesFor(file).ignores) {
      if (used.has(`${file.filename}:${ignore.line}`)) continue;
      const text = new SourceText(file.sql).lineText(ignore.line);
      const directive = ignore.scope === 'file' ? 'lint-ignore-file' : 'lint-ignore';
      const where = ignore.scope === 'file' ? `in ${file.filename}` : 'on the statement after it';
      findings.push({
        rule: 'unused-lint-ignore',
        severity: 'warning',
        file: file.filename,
        path: file.path,
        line: ignore.line,
        col: [...text.slice(0, Math.max(0, text.indexOf('--')))].length + 1,
        message: `\`-- airlock:${directive} ${ignore.rule}\` suppresses nothing ${where}${engine === 'postgres' ? '' : ` on ${engine}`}: the rule found nothing there (it may not apply to this engine, the statement it was for is gone${ignore.scope === 'statement' ? ', or it is meant for a later statement: a lint-ignore covers the next statement only' : ''}).`,
        fix:
          ignore.scope === 'statement'
            ? 'Put it on the line right before the statement it is for, or remove it, so a future finding of this rule is not hidden by a stale suppression.'
            : 'Remove the line, so a future finding of this rule is not hidden by a stale suppression.',
        docs: ruleDocs('unused-lint-ignore'),
      });
    }
  }
  for (const finding of [...findings, ...suppressed]) {
    if (!finding.docs) finding.docs = ruleDocs(finding.rule);
  }
  const order = new Map(sorted.map((f, i) => [f.filename, i]));
  const compare = (a: LintFinding, b: LintFinding) =>
    (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) ||
    a.line - b.line ||
    a.col - b.col ||
    a.rule.localeCompare(b.rule);
  findings.sort(compare);
  suppressed.sort(compare);
  const destructive = [...result.destructive].sort(
    (a, b) => a.version - b.version || a.line - b.line || a.col - b.col,
  );
  return {
    engine,
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    suppressed,
    destructive,
    files: reported.length,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  };
}

/**
 * The destructive statements of one file (drop/rename table or column, column type change, drop
 * view), contract or not, for the pipeline's expand/contract decisions. On SQLite/D1, pass the
 * files before it as `earlier`: a table rebuild is recognised against the schema they build.
 *
 * @throws as `lintMigrations`.
 */
export async function destructiveChanges(
  file: MigrationFile,
  engine: LintEngine,
  options: Omit<LintOptions, 'engine' | 'only'> & { earlier?: MigrationFile[] } = {},
): Promise<DestructiveChange[]> {
  const { earlier = [], ...rest } = options;
  const context = earlier.filter((f) => f.version < file.version);
  const report = await lintMigrations([...context, file], {
    ...rest,
    engine,
    only: [file.version],
  });
  return report.destructive;
}

/**
 * Which `lint-ignore` covers a finding: a file-wide one (`lint-ignore-file`), or one whose next
 * statement holds the finding. The statements are split as the engine's driver splits them
 * (SQLite: as SQLite's parser does; Postgres: as psql does).
 */
class IgnoreScopes {
  readonly #ignores: ReadonlyArray<LintIgnore & { from: number; to: number }>;
  readonly #source: SourceText;

  constructor(file: MigrationFile, engine: LintEngine, ignores: readonly LintIgnore[]) {
    this.#source = new SourceText(file.sql);
    const statements = ignores.some((i) => i.scope === 'statement')
      ? engine === 'postgres'
        ? splitSqlStatements(file.sql).map((s) => ({
            start: s.offset,
            end: s.offset + s.text.length,
          }))
        : splitSqliteStatements(file.sql)
      : [];
    this.#ignores = ignores.map((ignore) => {
      if (ignore.scope === 'file') return { ...ignore, from: 0, to: file.sql.length };
      // The next statement: the first that ends after the directive's line starts.
      const lineStart = this.#source.lineStart(ignore.line);
      const next = statements.find((s) => s.end > lineStart);
      return next ? { ...ignore, from: next.start, to: next.end } : { ...ignore, from: -1, to: -1 };
    });
  }

  covering(finding: LintFinding): LintIgnore | undefined {
    const offset = this.#source.offsetOf(finding.line, finding.col);
    return this.#ignores.find((i) => i.rule === finding.rule && offset >= i.from && offset <= i.to);
  }
}

/** One finding as one line: `file:line:col: severity: rule: message Fix: fix See: docs`. */
export function formatFinding(finding: LintFinding): string {
  const suppressed = finding.suppressedBecause ? ` (suppressed: ${finding.suppressedBecause})` : '';
  return `${finding.file}:${finding.line}:${finding.col}: ${finding.severity}: ${finding.rule}: ${finding.message} Fix: ${finding.fix} See: ${finding.docs}${suppressed}`;
}
