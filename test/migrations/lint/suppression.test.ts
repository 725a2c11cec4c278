/**
 * `-- airlock:lint-ignore <rule> <reason>` (the next statement) and `-- airlock:lint-ignore-file
 * <rule> <reason>` (the whole file): a finding one covers moves to `suppressed` with the reason
 * (which the caller writes to the audit log); without a reason, or for an unknown rule, nothing
 * is suppressed and the directive itself is an error; an ignore that suppresses nothing is a
 * warning. The same on every engine.
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

  it('covers the next statement only: a reason about one column does not hide a DROP TABLE', async () => {
    const sql = `-- airlock:lint-ignore destructive-change-outside-contract body was never read
ALTER TABLE notes DROP COLUMN body;
CREATE TABLE other (id bigint);
DROP TABLE notes;
`;
    const report = await lint(engine, [NOTES, sql]);
    expect(where(report.suppressed).map((w) => w.replace(/:\d+$/, ''))).toEqual([
      'destructive-change-outside-contract@2:2',
    ]);
    expect(where(report.findings).map((w) => w.replace(/:\d+$/, ''))).toEqual([
      'destructive-change-outside-contract@2:4',
    ]);
  });

  it('covers a statement that spans lines, with comments between the directive and it', async () => {
    const sql = `-- airlock:lint-ignore destructive-change-outside-contract body was never read
-- (checked in the access logs)

ALTER TABLE notes
  DROP COLUMN body;
`;
    const report = await lint(engine, [NOTES, sql]);
    expect(report.findings).toEqual([]);
    expect(report.suppressed).toHaveLength(1);
  });

  it('warns about an ignore whose next statement has nothing to suppress, and reports the later finding', async () => {
    const sql = `-- airlock:lint-ignore destructive-change-outside-contract meant for the drop below
CREATE TABLE other (id bigint);
ALTER TABLE notes DROP COLUMN body;
`;
    const report = await lint(engine, [NOTES, sql]);
    expect(where(report.findings).map((w) => w.replace(/:\d+$/, ''))).toEqual([
      'unused-lint-ignore@2:1',
      'destructive-change-outside-contract@2:3',
    ]);
    expect(report.findings[0]!.message).toContain('covers the next statement only');
  });

  it('lint-ignore-file covers every statement of its file, and only its file', async () => {
    const sql = `-- airlock:lint-ignore-file destructive-change-outside-contract the old notes schema is dead code
ALTER TABLE notes DROP COLUMN body;
DROP TABLE notes;
`;
    const report = await lint(engine, [
      NOTES,
      sql,
      `${NOTES.replace('notes', 'notes2')}DROP TABLE notes2;\n`,
    ]);
    expect(where(report.suppressed).map((w) => w.replace(/:\d+$/, ''))).toEqual([
      'destructive-change-outside-contract@2:2',
      'destructive-change-outside-contract@2:3',
    ]);
    expect(
      report.suppressed.every((f) => f.suppressedBecause === 'the old notes schema is dead code'),
    ).toBe(true);
    expect(report.findings).toEqual([]);
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
