/**
 * The catalogue of `airlock migrate lint`: every rule name a finding can carry, its severity,
 * the engines it runs on, and why. Plain data, so the CLI can print it and
 * `-- airlock:lint-ignore <rule> <reason>` can be checked against it.
 *
 * Severity policy (one rule, one severity):
 * - **error** (blocks the deployment): the migration will fail, will fail once the table has
 *   rows (so it may pass staging and fail production), silently destroys or rewrites data, or
 *   breaks code that is still live (expand/contract).
 * - **warning**: a hazard that depends on things lint cannot see (table size, traffic), or
 *   style. Shown, never blocking.
 */

import { InternalError } from '../../errors.ts';
import { POSTGRES_LINT_RULES } from './rules/postgres/registry.ts';
import { SQLITE_LINT_RULES } from './rules/sqlite/registry.ts';

/** The database engines lint knows. D1 is SQLite behind Cloudflare's batch API. */
export type LintEngine = 'sqlite' | 'd1' | 'postgres';

export type LintSeverity = 'error' | 'warning';

export interface LintRule {
  name: string;
  severity: LintSeverity;
  engines: readonly LintEngine[];
  /** One sentence: the hazard, for `--help`-style listings. */
  summary: string;
  /** Where the behaviour is documented. */
  source: string;
  /** False for the rules about directives themselves: they cannot be suppressed. */
  suppressible: boolean;
}

const ALL: readonly LintEngine[] = ['sqlite', 'd1', 'postgres'];

/** Rules the linters report themselves, about statements as such. */
const LINTER_RULES: readonly LintRule[] = [
  {
    name: 'syntax-error',
    severity: 'error',
    engines: ALL,
    summary:
      "The statement does not parse: SQLite's parser refuses it (SQLite, D1), or squawk's Postgres parser does.",
    source: 'https://www.sqlite.org/lang.html',
    suppressible: true,
  },
  {
    name: 'unparsed',
    severity: 'error',
    engines: ['sqlite', 'd1'],
    summary:
      "SQLite accepts the statement but Airlock's SQLite reader cannot read it, so no rule checked it.",
    source: 'src/migrations/lint/sqlite-statement.ts',
    suppressible: true,
  },
  {
    name: 'replay-error',
    severity: 'error',
    engines: ['sqlite', 'd1'],
    summary:
      'SQLite refuses the statement when the migrations are replayed in order into an empty database.',
    source: 'https://www.sqlite.org/lang.html',
    suppressible: true,
  },
];

/** Rules about the directives themselves (directives.ts): never suppressible. */
const DIRECTIVE_RULES: readonly LintRule[] = [
  {
    name: 'unknown-directive',
    severity: 'error',
    engines: ALL,
    summary:
      'A `-- airlock:` line that is not contract, no-transaction, lint-ignore or lint-ignore-file.',
    source: 'src/migrations/directives.ts',
    suppressible: false,
  },
  {
    name: 'malformed-directive',
    severity: 'error',
    engines: ALL,
    summary:
      'A directive not on a line of its own, in the wrong case, or with text after contract/no-transaction: it has no effect.',
    source: 'src/migrations/directives.ts',
    suppressible: false,
  },
  {
    name: 'lint-ignore-without-reason',
    severity: 'error',
    engines: ALL,
    summary: 'A lint-ignore without a rule or a reason; the reason goes to the audit log.',
    source: 'src/migrations/directives.ts',
    suppressible: false,
  },
  {
    name: 'lint-ignore-unknown-rule',
    severity: 'error',
    engines: ALL,
    summary: 'A lint-ignore naming a rule that does not exist.',
    source: 'src/migrations/directives.ts',
    suppressible: false,
  },
  {
    name: 'unused-lint-ignore',
    severity: 'warning',
    engines: ALL,
    summary:
      'A lint-ignore that suppressed nothing in its statement (or a lint-ignore-file in its file): stale, or the wrong engine.',
    source: 'src/migrations/directives.ts',
    suppressible: false,
  },
  {
    name: 'squawk-ignore-comment',
    severity: 'warning',
    engines: ['postgres'],
    summary:
      'A `-- squawk-ignore` comment: Airlock disables it, because a suppression must carry a reason for the audit log.',
    source: 'https://squawkhq.com/docs/rules',
    suppressible: false,
  },
];

/** A rule's catalogue entry alone (plain data), without the functions of a rule module. */
function entry({ name, severity, engines, summary, source, suppressible }: LintRule): LintRule {
  return { name, severity, engines, summary, source, suppressible };
}

/**
 * Airlock's own rules: the linters' own, each rule module's (SQLite and D1: rules/sqlite/;
 * Postgres: rules/postgres/), and the directives'.
 */
export const AIRLOCK_RULES: readonly LintRule[] = [
  ...LINTER_RULES,
  ...SQLITE_LINT_RULES.map(entry),
  // A rule with a module for each engine (create-if-not-exists-then-drop) is listed once.
  ...POSTGRES_LINT_RULES.filter((r) => !SQLITE_LINT_RULES.some((s) => s.name === r.name)).map(
    entry,
  ),
  ...DIRECTIVE_RULES,
];

/**
 * How Airlock treats each squawk 2.61.0 rule (https://squawkhq.com/docs/rules). Rules not
 * listed (a newer squawk) are warnings.
 *
 * - `error`: the statement fails (`syntax-error`), Airlock's driver refuses the file
 *   (`transaction-nesting`, `ban-uncommitted-transaction`), it fails once the table has rows
 *   (`adding-required-field`), or it destroys data (`ban-drop-database`,
 *   `ban-truncate-cascade`).
 * - `destructive`: `ban-drop-column`, `ban-drop-table`, `renaming-column`, `renaming-table`,
 *   `changing-column-type`. Outside a contract file they become Airlock's
 *   `destructive-change-outside-contract` (error); inside one they are expected and dropped,
 *   except `changing-column-type`, which stays a warning there (it still rewrites the table
 *   under an ACCESS EXCLUSIVE lock). On a table created earlier in the same file they are
 *   dropped (no live code can use it yet).
 * - `excluded`: not run. Airlock's Postgres driver sets `lock_timeout` (5 s) and
 *   `statement_timeout` (60 s) on its session, which is what the timeout rules ask for.
 *   `ban-concurrent-index-creation-in-transaction` is replaced by Airlock's
 *   `statement-needs-no-transaction`, which knows which files the driver wraps in a
 *   transaction: squawk 2.61 with `--assume-in-transaction` does not flag a file whose only
 *   statement is `CREATE INDEX CONCURRENTLY`, which Postgres then refuses.
 * - `prefer-robust-stmts` is kept only in `-- airlock:no-transaction` files: a transactional
 *   file is rolled back whole, so re-running it needs no IF NOT EXISTS.
 * - `warning`: lock and rewrite hazards whose cost depends on the table's size and traffic,
 *   which lint cannot see, and type/style advice.
 */
/**
 * Squawk's type and style advice (`warning`): a better column type or a schema-qualified name,
 * not a hazard of the deployment. An ORM's generated SQL (Prisma's `SERIAL` and `TIMESTAMP(3)`)
 * trips these on every new table, so a deployment's lint step counts them on one line instead
 * of one line each; `airlock migrate lint` lists them all.
 */
export const STYLE_RULES: ReadonlySet<string> = new Set([
  'prefer-bigint-over-int',
  'prefer-bigint-over-smallint',
  'prefer-identity',
  'prefer-text-field',
  'prefer-timestamp-tz',
  'ban-char-field',
  'require-table-schema',
]);

export const SQUAWK_RULES: Readonly<
  Record<string, 'error' | 'warning' | 'destructive' | 'excluded'>
> = {
  'syntax-error': 'error',
  'ban-concurrent-index-creation-in-transaction': 'excluded',
  'transaction-nesting': 'error',
  'ban-uncommitted-transaction': 'error',
  'adding-required-field': 'error',
  'ban-drop-database': 'error',
  'ban-truncate-cascade': 'error',
  'ban-drop-column': 'destructive',
  'ban-drop-table': 'destructive',
  'renaming-column': 'destructive',
  'renaming-table': 'destructive',
  'changing-column-type': 'destructive',
  'require-lock-timeout': 'excluded',
  'require-statement-timeout': 'excluded',
  'require-timeout-settings': 'excluded',
  'require-concurrent-index-creation': 'warning',
  'require-concurrent-index-deletion': 'warning',
  'require-concurrent-partition-detach': 'warning',
  'require-concurrent-reindex': 'warning',
  'constraint-missing-not-valid': 'warning',
  'adding-field-with-default': 'warning',
  'adding-foreign-key-constraint': 'warning',
  'adding-not-nullable-field': 'warning',
  'adding-serial-primary-key-field': 'warning',
  'disallowed-unique-constraint': 'warning',
  'ban-drop-not-null': 'warning',
  'ban-char-field': 'warning',
  'ban-create-domain-with-constraint': 'warning',
  'ban-alter-domain-with-add-constraint': 'warning',
  'prefer-bigint-over-int': 'warning',
  'prefer-bigint-over-smallint': 'warning',
  'prefer-identity': 'warning',
  'prefer-repack': 'warning',
  'prefer-robust-stmts': 'warning',
  'prefer-text-field': 'warning',
  'prefer-timestamp-tz': 'warning',
  'require-enum-value-ordering': 'warning',
  'require-table-schema': 'warning',
  'identifier-too-long': 'warning',
  'unused-ignore': 'warning',
};

/** The squawk rules Airlock passes to `--exclude`. */
export const EXCLUDED_SQUAWK_RULES: readonly string[] = Object.entries(SQUAWK_RULES)
  .filter(([, treatment]) => treatment === 'excluded')
  .map(([name]) => name);

/** Every rule a `-- airlock:lint-ignore` may name: Airlock's suppressible rules and squawk's. */
export const SUPPRESSIBLE_RULES: ReadonlySet<string> = new Set([
  ...AIRLOCK_RULES.filter((r) => r.suppressible).map((r) => r.name),
  ...Object.entries(SQUAWK_RULES)
    .filter(([, treatment]) => treatment !== 'excluded')
    .map(([name]) => name),
]);

/** Where the lint rules are explained, one section per rule (a file of the package). */
export const LINT_RULES_DOC = 'docs/lint-rules.md';

/**
 * Where `rule` is explained: `docs/lint-rules.md#<rule>` for Airlock's rules, squawk's page for
 * squawk's (https://squawkhq.com/docs/<rule>).
 */
export function ruleDocs(rule: string): string {
  if (AIRLOCK_RULES.some((r) => r.name === rule)) return `${LINT_RULES_DOC}#${rule}`;
  return `https://squawkhq.com/docs/${rule}`;
}

/** The severity of one of Airlock's own rules. */
export function airlockSeverity(rule: string): LintSeverity {
  const found = AIRLOCK_RULES.find((r) => r.name === rule);
  if (!found) throw new InternalError('INTERNAL', `Unknown lint rule ${rule}.`);
  return found.severity;
}
