/**
 * Helpers for the lint tests: migration files built in memory (lint reads `sql`, never the
 * disk), a one-call lint, and positions computed independently of the code under test.
 */
import { expect } from 'vitest';
import { lintMigrations } from '../../../src/migrations/lint/lint-migrations.ts';
import type {
  LintEngine,
  LintFinding,
  LintOptions,
  LintReport,
} from '../../../src/migrations/lint/types.ts';
import { type MigrationFile, sha256Hex } from '../../../src/migrations/migration-files.ts';

/** A migration file in memory: version N, name `m<N>` unless given. */
export function migration(version: number, sql: string, name = `m${version}`): MigrationFile {
  const filename = `${String(version).padStart(4, '0')}_${name}.sql`;
  return {
    version,
    name,
    filename,
    path: `/project/migrations/${filename}`,
    sql,
    sha256: sha256Hex(sql),
  };
}

/** Files 0001, 0002, … with these texts. */
export function migrations(...sqls: string[]): MigrationFile[] {
  return sqls.map((sql, i) => migration(i + 1, sql));
}

/** Lints these texts as files 0001, 0002, … reporting on all of them (or `only`). */
export function lint(
  engine: LintEngine,
  sqls: string[],
  options: Omit<LintOptions, 'engine'> = {},
): Promise<LintReport> {
  return lintMigrations(migrations(...sqls), { engine, ...options });
}

/** `rule@file-version:line:col` of each finding, for compact assertions. */
export function where(findings: LintFinding[]): string[] {
  return findings.map((f) => `${f.rule}@${Number(f.file.slice(0, 4))}:${f.line}:${f.col}`);
}

/** The rules of the findings, sorted and unique. */
export function rulesOf(findings: LintFinding[]): string[] {
  return [...new Set(findings.map((f) => f.rule))].sort();
}

/**
 * 1-based line and column (code points) of the `occurrence`-th (1-based) `needle` in `sql`,
 * computed by splitting lines: independent of the code under test.
 */
export function at(sql: string, needle: string, occurrence = 1): { line: number; col: number } {
  const lines = sql.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    let from = 0;
    for (;;) {
      const index = lines[i]!.indexOf(needle, from);
      if (index < 0) break;
      if (++seen === occurrence)
        return { line: i + 1, col: Array.from(lines[i]!.slice(0, index)).length + 1 };
      from = index + 1;
    }
  }
  throw new Error(`${needle} not found ${occurrence} time(s)`);
}

/** Asserts `report` has exactly one finding of `rule`, at `needle` in file `version`, and returns it. */
export function expectOne(
  report: LintReport,
  rule: string,
  sql: string,
  needle: string,
  version?: number,
): LintFinding {
  const found = report.findings.filter((f) => f.rule === rule);
  expect(found, `findings: ${JSON.stringify(where(report.findings))}`).toHaveLength(1);
  const finding = found[0]!;
  const position = at(sql, needle);
  expect({ line: finding.line, col: finding.col }).toEqual(position);
  if (version !== undefined) expect(Number(finding.file.slice(0, 4))).toBe(version);
  expect(finding.message.length).toBeGreaterThan(40);
  expect(finding.fix.length).toBeGreaterThan(20);
  return finding;
}
