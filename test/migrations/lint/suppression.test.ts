/**
 * `-- airlock:lint-ignore <rule> <reason>`: a finding it covers moves to `suppressed` with the
 * reason (which the caller writes to the audit log); without a reason, or for an unknown rule,
 * nothing is suppressed and the directive itself is an error; an ignore that suppresses nothing
 * is a warning. The same on every engine.
 */
import { describe, expect, it } from 'vitest';
import { formatFinding } from '../../../src/migrations/lint/lint-migrations.ts';
import { lint, where } from './helpers.ts';

const NOTES = 'CREATE TABLE notes (id bigint PRIMARY KEY, title text NOT NULL, body text);\n';
const DROP_BODY = 'ALTER TABLE notes DROP COLUMN body;\n';

describe.each(['sqlite', 'd1', 'postgres'] as const)('lint-ignore on %s', (engine) => {
  it('with a reason: the finding moves to suppressed, carrying the reason', async () => {
    const reason = 'no release since v12 reads body (checked in the access logs)';
    const report = await lint(engine, [
      NOTES,
      `-- airlock:lint-ignore destructive-change-outside-contract ${reason}\n${DROP_BODY}`,
    ]);
    expect(report.findings).toEqual([]);
    expect(report.errors).toBe(0);
    expect(report.suppressed).toHaveLength(1);
    expect(report.suppressed[0]).toMatchObject({
      rule: 'destructive-change-outside-contract',
      severity: 'error',
      file: '0002_m2.sql',
      line: 2,
      suppressedBecause: reason,
    });
    expect(formatFinding(report.suppressed[0]!)).toMatch(
      /^0002_m2\.sql:2:\d+: error: destructive-change-outside-contract: .* \(suppressed: no release since v12/,
    );
  });

  it('without a reason: nothing is suppressed, and the directive is an error', async () => {
    const report = await lint(engine, [
      NOTES,
      `-- airlock:lint-ignore destructive-change-outside-contract\n${DROP_BODY}`,
    ]);
    expect(where(report.findings).map((w) => w.replace(/:\d+$/, ''))).toEqual([
      'lint-ignore-without-reason@2:1',
      'destructive-change-outside-contract@2:2',
    ]);
    expect(report.errors).toBe(2);
    expect(report.suppressed).toEqual([]);
  });

  it('for an unknown rule: nothing is suppressed, and the directive is an error', async () => {
    const report = await lint(engine, [
      NOTES,
      `-- airlock:lint-ignore destructive-changes we know\n${DROP_BODY}`,
    ]);
    expect(report.findings.map((f) => f.rule)).toEqual([
      'lint-ignore-unknown-rule',
      'destructive-change-outside-contract',
    ]);
    expect(report.findings[0]!.message).toContain(
      'Did you mean `destructive-change-outside-contract`?',
    );
  });

  it('covers only its rule, only in its file', async () => {
    const report = await lint(engine, [
      NOTES,
      `-- airlock:lint-ignore destructive-change-outside-contract body is unused\n${DROP_BODY}`,
      'ALTER TABLE notes RENAME COLUMN title TO name;\n',
    ]);
    expect(report.suppressed.map((f) => f.file)).toEqual(['0002_m2.sql']);
    expect(report.findings.map((f) => `${f.rule}@${f.file}`)).toEqual([
      'destructive-change-outside-contract@0003_m3.sql',
    ]);
  });

  it('warns about an ignore that suppresses nothing', async () => {
    const report = await lint(engine, [
      NOTES,
      '  -- airlock:lint-ignore replay-error the table is made by hand\nALTER TABLE notes ADD COLUMN pinned boolean;\n',
    ]);
    expect(where(report.findings)).toEqual(['unused-lint-ignore@2:1:3']);
    expect(report.findings[0]!.severity).toBe('warning');
    expect(report.errors).toBe(0);
    expect(report.warnings).toBe(1);
  });

  it('cannot suppress the rules about directives', async () => {
    const report = await lint(engine, [
      NOTES,
      '-- airlock:lint-ignore unknown-directive typo on purpose\n-- airlock:contracts\n',
    ]);
    expect(report.findings.map((f) => f.rule)).toEqual([
      'lint-ignore-unknown-rule',
      'unknown-directive',
    ]);
    expect(report.suppressed).toEqual([]);
  });
});
