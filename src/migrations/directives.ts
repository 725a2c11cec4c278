/**
 * The `-- airlock:` directives of a migration file. Pure (no I/O).
 *
 * A directive is a SQL line comment **on a line of its own** (spaces around it allowed), in
 * lowercase:
 *
 * - `-- airlock:contract` — the file is the *contract* step of an expand/contract change: it may
 *   drop or rename tables and columns that no live release uses any more. Outside such a file
 *   lint reports those changes as `destructive-change-outside-contract` (errors).
 * - `-- airlock:no-transaction` — Postgres: run the file's statements one by one, outside a
 *   transaction (what `CREATE INDEX CONCURRENTLY` needs). See `PostgresMigrationDriver`, which
 *   reads it through `isNoTransactionMigration` → `parseDirectives`.
 * - `-- airlock:lint-ignore <rule> <reason…>` — suppress `<rule>` on the next statement only
 *   (the first statement that ends after the directive's line). The reason is required: it is
 *   what the audit log records.
 * - `-- airlock:lint-ignore-file <rule> <reason…>` — suppress `<rule>` in the whole file.
 *
 * A suppression without a reason or for an unknown rule suppresses nothing and is itself an
 * error.
 *
 * Anything else that looks like a directive (`-- airlock:contracts`, `-- AIRLOCK:contract`,
 * `SELECT 1; -- airlock:contract`, `-- airlock:contract drop old columns`) has no effect and is
 * reported as a problem, so a typo can never silently change how a file runs. Scanning is by
 * line, like the driver's, so a directive-looking line inside a multi-line string literal counts
 * too (do not write one there).
 */

import { closest, distance } from 'fastest-levenshtein';
import { SUPPRESSIBLE_RULES } from './lint/rules.ts';
import type { MigrationFile } from './migration-files.ts';

/** The line that marks a contract migration. */
export const CONTRACT_MARKER = '-- airlock:contract';

/** The line that opts a (Postgres) migration out of its transaction. */
export const NO_TRANSACTION_MARKER = '-- airlock:no-transaction';

/** The directive names, as written after `airlock:`. */
export const DIRECTIVE_NAMES = [
  'contract',
  'no-transaction',
  'lint-ignore',
  'lint-ignore-file',
] as const;

/** One `-- airlock:lint-ignore[-file] <rule> <reason>` that takes effect. */
export interface LintIgnore {
  rule: string;
  /** `statement`: the next statement only (`lint-ignore`); `file`: the whole file (`lint-ignore-file`). */
  scope: 'statement' | 'file';
  /** The reason as written (trimmed); never empty. */
  reason: string;
  /** 1-based line of the directive. */
  line: number;
}

/** A directive that has no effect, and why. Lint reports each as an error finding. */
export interface DirectiveProblem {
  code:
    | 'unknown-directive'
    | 'malformed-directive'
    | 'lint-ignore-without-reason'
    | 'lint-ignore-unknown-rule';
  /** 1-based line. */
  line: number;
  /** 1-based column (Unicode code points) of the `--`. */
  col: number;
  message: string;
  fix: string;
}

/** What the directives of one file say. */
export interface MigrationDirectives {
  contract: boolean;
  noTransaction: boolean;
  ignores: LintIgnore[];
  problems: DirectiveProblem[];
}

export interface ParseDirectivesOptions {
  /** Rule names a lint-ignore may name. Default: every suppressible lint rule. */
  knownRules?: ReadonlySet<string>;
}

/** `--` then `airlock:` in any case, at the start of a line (after spaces). */
const DIRECTIVE_LINE = /^([ \t]*)--[ \t]*(airlock):(.*)$/i;
/** A directive after something else on the line. */
const TRAILING_DIRECTIVE = /--[ \t]*airlock:(?:contract|no-transaction|lint-ignore(?:-file)?)\b/;

/**
 * Reads the directives of a migration file's text. Never throws: every malformed directive is
 * a `problems` entry (code, line, col, message, fix), and does not take effect.
 */
export function parseDirectives(
  sql: string,
  options: ParseDirectivesOptions = {},
): MigrationDirectives {
  const knownRules = options.knownRules ?? SUPPRESSIBLE_RULES;
  const result: MigrationDirectives = {
    contract: false,
    noTransaction: false,
    ignores: [],
    problems: [],
  };
  if (!/airlock:/i.test(sql)) return result;
  const lines = sql.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index]!.replace(/\r$/, '');
    const line = index + 1;
    const match = DIRECTIVE_LINE.exec(text);
    if (!match) {
      const trailing = TRAILING_DIRECTIVE.exec(text);
      if (trailing) {
        result.problems.push({
          code: 'malformed-directive',
          line,
          col: columnOf(text, trailing.index),
          message: `The directive \`${text.slice(trailing.index).trim()}\` follows SQL on the same line, so it has no effect: directives must be on a line of their own.`,
          fix: `Move \`${text.slice(trailing.index).trim()}\` to a line of its own.`,
        });
      }
      continue;
    }
    const col = match[1]!.length + 1;
    const body = match[3]!.trim();
    const name = body.split(/\s+/, 1)[0] ?? '';
    const args = body.slice(name.length).trim();
    const written = text.trim();
    const lowerName = name.toLowerCase();
    if (match[2] !== 'airlock' || name !== lowerName || /^\s/.test(match[3]!)) {
      // `-- AIRLOCK:contract`, `-- airlock:Contract`, `-- airlock: contract`: meant as a
      // directive, but the driver would not see it. Other text (`-- Airlock: see README`) is
      // left alone as a plain comment unless it is written exactly like a directive.
      if (isDirective(lowerName)) {
        const proper = `-- airlock:${lowerName}${args ? ` ${args}` : ''}`;
        result.problems.push({
          code: 'malformed-directive',
          line,
          col,
          message: `\`${written}\` has no effect: a directive is written in lowercase, with nothing between \`airlock:\` and its name.`,
          fix: `Write \`${proper}\`.`,
        });
        continue;
      }
      if (match[2] !== 'airlock' || /^\s/.test(match[3]!)) continue;
    }
    switch (name) {
      case 'contract':
      case 'no-transaction': {
        if (args) {
          result.problems.push({
            code: 'malformed-directive',
            line,
            col,
            message: `\`${written}\` has no effect: \`-- airlock:${name}\` takes nothing after it.`,
            fix: `Write \`-- airlock:${name}\` alone on its line, and any explanation on a comment line of its own.`,
          });
        } else if (name === 'contract') {
          result.contract = true;
        } else {
          result.noTransaction = true;
        }
        break;
      }
      case 'lint-ignore':
      case 'lint-ignore-file': {
        const rule = args.split(/\s+/, 1)[0] ?? '';
        const reason = args.slice(rule.length).trim();
        if (!rule) {
          result.problems.push({
            code: 'lint-ignore-without-reason',
            line,
            col,
            message:
              '`-- airlock:${name}` names no rule and gives no reason, so it suppresses nothing.',
            fix: `Write \`-- airlock:${name} <rule> <why this is safe here>\`; the reason is recorded in the audit log.`,
          });
        } else if (!knownRules.has(rule)) {
          const suggestion = suggest(rule, knownRules);
          result.problems.push({
            code: 'lint-ignore-unknown-rule',
            line,
            col,
            message: `\`-- airlock:${name} ${rule}\` names no lint rule, so it suppresses nothing.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`,
            fix: suggestion
              ? `Write \`-- airlock:${name} ${suggestion}${reason ? ` ${reason}` : ' <reason>'}\`.`
              : 'Name the rule exactly as the finding shows it (e.g. `destructive-change-outside-contract`).',
          });
        } else if (!reason) {
          result.problems.push({
            code: 'lint-ignore-without-reason',
            line,
            col,
            message: `\`-- airlock:${name} ${rule}\` gives no reason, so it suppresses nothing: every suppression is recorded in the audit log with its reason.`,
            fix: `Write \`-- airlock:${name} ${rule} <why this is safe here>\`.`,
          });
        } else {
          result.ignores.push({
            rule,
            scope: name === 'lint-ignore-file' ? 'file' : 'statement',
            reason,
            line,
          });
        }
        break;
      }
      default: {
        const suggestion = name ? closest(name, [...DIRECTIVE_NAMES]) : undefined;
        const near = suggestion && distance(name, suggestion) <= 3 ? suggestion : undefined;
        result.problems.push({
          code: 'unknown-directive',
          line,
          col,
          message: `\`${written}\` is not an Airlock directive, so it has no effect.${near ? ` Did you mean \`-- airlock:${near}\`?` : ''}`,
          fix: `The directives are ${DIRECTIVE_NAMES.map((d) => `\`-- airlock:${d}\``).join(', ')}; write a plain comment without \`airlock:\` otherwise.`,
        });
      }
    }
  }
  return result;
}

/** The file's directives: the ones `readMigrationDir` parsed, or parsed now. */
export function directivesOf(file: Pick<MigrationFile, 'sql' | 'directives'>): MigrationDirectives {
  return file.directives ?? parseDirectives(file.sql);
}

function isDirective(name: string): boolean {
  return (DIRECTIVE_NAMES as readonly string[]).includes(name);
}

function suggest(rule: string, known: ReadonlySet<string>): string | undefined {
  if (known.size === 0) return undefined;
  // A shortened name (`destructive-change`) means the rule it starts.
  const prefixed = [...known].filter(
    (k) => rule.length >= 6 && k.startsWith(rule.replace(/s$/, '')),
  );
  if (prefixed.length === 1) return prefixed[0];
  const candidate = closest(rule, [...known]);
  return distance(rule, candidate) <= Math.max(3, Math.floor(rule.length / 3))
    ? candidate
    : undefined;
}

/** 1-based column in code points of UTF-16 index `index` of `text`. */
function columnOf(text: string, index: number): number {
  return [...text.slice(0, index)].length + 1;
}
