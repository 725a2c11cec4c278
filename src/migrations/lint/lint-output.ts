/**
 * The machine formats of `airlock migrate lint` besides text and JSON. Pure (no I/O).
 *
 * - SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html), the format
 *   GitHub code scanning uploads (`github/codeql-action/upload-sarif`,
 *   https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/sarif-support-for-code-scanning):
 *   one run, the rules that fired in `tool.driver.rules`, one result per finding with its file
 *   (relative to the repository root), line and column (`columnKind: unicodeCodePoints`), and
 *   suppressed findings as results with an in-source suppression carrying its reason.
 * - GitHub Actions workflow commands
 *   (https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands):
 *   `::error file=…,line=…,col=…,title=…::message`, which annotate the pull request's diff.
 */

import path from 'node:path';
import { AIRLOCK_RULES, ruleDocs } from './rules.ts';
import type { LintFinding } from './types.ts';

/** One SARIF 2.1.0 log, as much of it as Airlock writes. */
export interface SarifLog {
  $schema: string;
  version: '2.1.0';
  runs: SarifRun[];
}

export interface SarifRun {
  tool: {
    driver: {
      name: string;
      version: string;
      informationUri?: string;
      rules: SarifRule[];
    };
  };
  columnKind: 'unicodeCodePoints';
  originalUriBaseIds: Record<string, { uri: string }>;
  results: SarifResult[];
}

export interface SarifRule {
  id: string;
  name: string;
  shortDescription: { text: string };
  help: { text: string; markdown: string };
  helpUri?: string;
  defaultConfiguration: { level: 'error' | 'warning' };
}

export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: 'error' | 'warning';
  message: { text: string };
  locations: Array<{
    physicalLocation: {
      artifactLocation: { uri: string; uriBaseId: string };
      region: { startLine: number; startColumn: number };
    };
  }>;
  suppressions?: Array<{ kind: 'inSource'; justification: string }>;
}

export interface LintOutputOptions {
  /** The folder paths are made relative to (the repository root, where the command runs). */
  root: string;
  /** Airlock's version, for the SARIF driver. */
  version: string;
}

/** Where findings' paths are relative to in the SARIF log. */
const SOURCE_ROOT = '%SRCROOT%';

/** A path relative to `root`, with forward slashes, for a URI. */
function relativeUri(root: string, file: string): string {
  return path
    .relative(root, file)
    .split(path.sep)
    .map((part) => encodeURIComponent(part))
    .join('/');
}

/**
 * The SARIF 2.1.0 log of `findings` (those that stand) and `suppressed` (shown as suppressed),
 * in their order.
 */
export function lintSarif(
  findings: readonly LintFinding[],
  suppressed: readonly LintFinding[],
  options: LintOutputOptions,
): SarifLog {
  const rules: SarifRule[] = [];
  const index = new Map<string, number>();
  const ruleOf = (finding: LintFinding): number => {
    const known = index.get(finding.rule);
    if (known !== undefined) return known;
    const entry = AIRLOCK_RULES.find((r) => r.name === finding.rule);
    const docs = finding.docs || ruleDocs(finding.rule);
    const external = /^https?:\/\//.test(docs);
    const summary = entry?.summary ?? `squawk rule ${finding.rule}.`;
    rules.push({
      id: finding.rule,
      name: finding.rule,
      shortDescription: { text: summary },
      help: {
        text: `${summary} See ${external ? docs : `${docs} in the airlock-deploy package`}.`,
        markdown: `${summary} See ${external ? `[${finding.rule}](${docs})` : `\`${docs}\` in the airlock-deploy package`}.`,
      },
      ...(external ? { helpUri: docs } : {}),
      defaultConfiguration: { level: entry?.severity ?? finding.severity },
    });
    index.set(finding.rule, rules.length - 1);
    return rules.length - 1;
  };
  const result = (finding: LintFinding): SarifResult => ({
    ruleId: finding.rule,
    ruleIndex: ruleOf(finding),
    level: finding.severity,
    message: { text: `${finding.message} Fix: ${finding.fix}` },
    locations: [
      {
        physicalLocation: {
          artifactLocation: {
            uri: relativeUri(options.root, finding.path),
            uriBaseId: SOURCE_ROOT,
          },
          region: { startLine: finding.line, startColumn: finding.col },
        },
      },
    ],
    ...(finding.suppressedBecause
      ? { suppressions: [{ kind: 'inSource' as const, justification: finding.suppressedBecause }] }
      : {}),
  });
  const results = [...findings.map(result), ...suppressed.map(result)];
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'airlock migrate lint', version: options.version, rules } },
        columnKind: 'unicodeCodePoints',
        originalUriBaseIds: {
          [SOURCE_ROOT]: { uri: `${new URL(`file://${path.resolve(options.root)}/`).href}` },
        },
        results,
      },
    ],
  };
}

/** Escapes a workflow command's message (`%`, CR, LF). */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow command's property value (also `:` and `,`). */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * One GitHub Actions annotation per finding that stands:
 * `::error file=migrations/0003_x.sql,line=4,col=1,title=airlock lint: rule::message Fix: …`.
 */
export function lintGithubAnnotations(
  findings: readonly LintFinding[],
  options: Pick<LintOutputOptions, 'root'>,
): string[] {
  return findings.map((f) => {
    const file = path.relative(options.root, f.path).split(path.sep).join('/');
    const properties = [
      `file=${escapeProperty(file)}`,
      `line=${f.line}`,
      `col=${f.col}`,
      `title=${escapeProperty(`airlock lint: ${f.rule}`)}`,
    ].join(',');
    return `::${f.severity} ${properties}::${escapeData(`${f.message} Fix: ${f.fix} See: ${f.docs}`)}`;
  });
}
