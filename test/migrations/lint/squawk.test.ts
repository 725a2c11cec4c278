/**
 * Postgres lint: the real squawk binary (squawk-cli 2.61.0) on Postgres-flavoured migration
 * files — no server needed, squawk parses the files. Checks Airlock's severity mapping,
 * expand/contract, `-- airlock:no-transaction`, line:col conversion from squawk's byte columns,
 * and the errors when squawk is missing or broken. What the Postgres rules claim about Postgres
 * itself is shown on a real server in postgres-behaviour.test.ts.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../src/errors.ts';
import {
  destructiveChanges,
  lintMigrations,
} from '../../../src/migrations/lint/lint-migrations.ts';
import { SQUAWK_RULES, STYLE_RULES } from '../../../src/migrations/lint/rules.ts';
import { squawkBinary } from '../../../src/migrations/lint/squawk-lint.ts';
import { warningSummary } from '../../../src/pipeline/steps/lint-step.ts';
import { caught } from '../engines.ts';
import { expectOne, lint, migration, migrations, where } from './helpers.ts';

const NOTES = `CREATE TABLE notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title text NOT NULL,
  body text,
  created_at timestamptz NOT NULL DEFAULT now()
);
`;
const INDEX_CONCURRENTLY = `-- airlock:no-transaction
-- Build the index without blocking writes on a live table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);
`;

describe('squawk on Postgres migrations', () => {
  it('passes a clean history, including a no-transaction CREATE INDEX CONCURRENTLY file', async () => {
    const report = await lint('postgres', [
      NOTES,
      'ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;\n',
      INDEX_CONCURRENTLY,
    ]);
    expect(where(report.findings)).toEqual([]);
    expect(report).toMatchObject({
      engine: 'postgres',
      errors: 0,
      warnings: 0,
      files: 3,
      suppressed: [],
    });
  });

  it('resolves the binary from the installed squawk-cli package, not from PATH', () => {
    const binary = squawkBinary();
    expect(binary).toContain(`${sep}node_modules${sep}@squawk-cli${sep}`);
    expect(existsSync(binary)).toBe(true);
  });

  describe('statement-needs-no-transaction', () => {
    it('fails CREATE INDEX CONCURRENTLY in a file Airlock runs in a transaction (squawk alone misses a one-statement file)', async () => {
      const sql =
        '-- index\nCREATE INDEX CONCURRENTLY IF NOT EXISTS notes_title_idx ON notes (title);\n';
      const report = await lint('postgres', [NOTES, sql]);
      const finding = expectOne(report, 'statement-needs-no-transaction', sql, 'CREATE INDEX', 2);
      expect(finding.severity).toBe('error');
      expect(finding.fix).toContain('-- airlock:no-transaction');
      expect(report.findings.map((f) => f.rule)).toEqual(['statement-needs-no-transaction']);
    });
    it('fails it after a BEGIN of the file’s own, even in a no-transaction file', async () => {
      const sql =
        '-- airlock:no-transaction\nBEGIN;\nDROP INDEX CONCURRENTLY IF EXISTS old_idx;\nCOMMIT;\n';
      const report = await lint('postgres', [NOTES, sql]);
      expectOne(report, 'statement-needs-no-transaction', sql, 'DROP INDEX', 2);
    });
    it('passes it in a no-transaction file', async () => {
      expect((await lint('postgres', [NOTES, INDEX_CONCURRENTLY])).findings).toEqual([]);
    });
  });

  describe('severities', () => {
    it('adding-required-field is an error (it fails on any table with rows)', async () => {
      const sql = '-- pinned\nALTER TABLE notes ADD COLUMN pinned boolean NOT NULL;\n';
      const finding = expectOne(
        await lint('postgres', [NOTES, sql]),
        'adding-required-field',
        sql,
        'ADD COLUMN',
      );
      expect(finding.severity).toBe('error');
      expect(finding.message).toContain('passes on an empty staging table and fails in production');
      expect(finding.fix).toContain('Add a non-volatile DEFAULT');
      expect(finding.fix).not.toContain('non-VOLATILE'); // squawk's own help, said once only
      expect(finding.docs).toBe('https://squawkhq.com/docs/adding-required-field');
    });
    it('adding-required-field passes with a default', async () => {
      const sql = 'ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;\n';
      expect((await lint('postgres', [NOTES, sql])).findings).toEqual([]);
    });
    it('transaction-nesting is an error: Airlock’s driver refuses BEGIN/COMMIT in a transactional file', async () => {
      const sql = 'BEGIN;\nALTER TABLE notes ADD COLUMN pinned boolean;\nCOMMIT;\n';
      const report = await lint('postgres', [NOTES, sql]);
      expect(where(report.findings)).toEqual([
        'transaction-nesting@2:1:1',
        'transaction-nesting@2:3:1',
      ]);
      expect(report.errors).toBe(2);
    });
    it('transaction-nesting passes when the file has no BEGIN/COMMIT', async () => {
      const sql = 'ALTER TABLE notes ADD COLUMN pinned boolean;\n';
      expect((await lint('postgres', [NOTES, sql])).findings).toEqual([]);
    });
    it('require-concurrent-index-creation is a warning (its cost depends on the table’s size)', async () => {
      const sql = 'CREATE INDEX notes_title_idx ON notes (title);\n';
      const finding = expectOne(
        await lint('postgres', [NOTES, sql]),
        'require-concurrent-index-creation',
        sql,
        'CREATE INDEX',
      );
      expect(finding.severity).toBe('warning');
      expect(finding.fix).toContain('-- airlock:no-transaction');
    });
    it('prefer-robust-stmts warns in a no-transaction file, where a re-run follows a failure…', async () => {
      const sql =
        '-- airlock:no-transaction\nCREATE INDEX CONCURRENTLY notes_body_idx ON notes (body);\n';
      const finding = expectOne(
        await lint('postgres', [NOTES, sql]),
        'prefer-robust-stmts',
        sql,
        'CREATE',
      );
      expect(finding.severity).toBe('warning');
      expect(finding.message).toContain('its earlier statements stay applied');
    });
    it('…and is dropped in a transactional file, which is rolled back whole', async () => {
      const sql = 'ALTER TABLE notes DROP CONSTRAINT IF EXISTS x;\nCREATE TABLE t (id bigint);\n';
      expect((await lint('postgres', [NOTES, sql])).findings).toEqual([]);
    });
    it('never reports the timeout rules: the driver sets lock_timeout and statement_timeout', async () => {
      const sql =
        '-- airlock:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON notes (body);\n';
      const report = await lint('postgres', [NOTES, sql]);
      expect(report.findings).toEqual([]);
      expect(SQUAWK_RULES['require-lock-timeout']).toBe('excluded');
    });
    it('reports one syntax error per file, counting the rest', async () => {
      const sql = 'SELECT 1;\nALTER TABLE notes ADD COLUMN ;\n';
      const report = await lint('postgres', [sql]);
      expect(report.findings.map((f) => f.rule)).toEqual(['syntax-error']);
      expect(report.findings[0]).toMatchObject({ severity: 'error', line: 2 });
      // squawk's own words, then Airlock's, as two sentences.
      expect(report.findings[0]?.message).toMatch(
        /^expected name\. Postgres will refuse the file\./,
      );
    });
    it('passes the Postgres version to squawk (--pg-version)', async () => {
      const sql = 'ALTER TABLE notes ADD COLUMN seen_at timestamptz DEFAULT now();\n';
      expect((await lint('postgres', [NOTES, sql])).findings).toEqual([]);
      const old = await lint('postgres', [NOTES, sql], { postgresVersion: '10' });
      expect(old.findings.map((f) => f.rule)).toEqual(['adding-field-with-default']);
    });
  });

  describe('line:col', () => {
    it('converts squawk’s UTF-8 byte columns to code points', async () => {
      const sql = '-- notes\nALTER TABLE /* épée 😀 */ notes ADD COLUMN pinned boolean NOT NULL;\n';
      const finding = expectOne(
        await lint('postgres', [NOTES, sql]),
        'adding-required-field',
        sql,
        'ADD COLUMN',
      );
      expect(finding.col).toBe(32); // squawk says byte 36 (0-based); UTF-16 would say 33
    });
  });

  describe('destructive-change-outside-contract', () => {
    const cases: Array<[string, string, string, string]> = [
      [
        'ban-drop-column',
        'ALTER TABLE notes DROP COLUMN body;',
        'DROP COLUMN',
        'Column notes.body is dropped',
      ],
      ['ban-drop-table', 'DROP TABLE notes;', 'DROP', 'Table notes is dropped'],
      [
        'renaming-column',
        'ALTER TABLE notes RENAME COLUMN body TO text;',
        'RENAME COLUMN',
        'Column notes.body is renamed to text',
      ],
      [
        'renaming-table',
        'ALTER TABLE notes RENAME TO posts;',
        'RENAME TO',
        'Table notes is renamed to posts',
      ],
      [
        'changing-column-type',
        'ALTER TABLE notes ALTER COLUMN title TYPE text COLLATE "C";',
        'TYPE',
        'Column notes.title changes type to text',
      ],
    ];
    it.each(cases)(
      'turns squawk’s %s into an error outside a contract file',
      async (rule, statement, needle, message) => {
        const sql = `-- change\n${statement}\n`;
        const report = await lint('postgres', [NOTES, sql]);
        const finding = expectOne(report, 'destructive-change-outside-contract', sql, needle, 2);
        expect(finding.severity).toBe('error');
        expect(finding.message).toContain(message);
        expect(finding.message).toContain(`(squawk ${rule}:`);
        expect(report.destructive).toHaveLength(1);
        expect(report.destructive[0]).toMatchObject({
          contract: false,
          version: 2,
          ...at(sql, needle),
        });
      },
    );
    it.each(cases)('expects squawk’s %s in a contract file', async (rule, statement) => {
      const report = await lint('postgres', [NOTES, `-- airlock:contract\n${statement}\n`]);
      // A type change still rewrites the table under an ACCESS EXCLUSIVE lock: a warning.
      expect(report.findings.map((f) => `${f.rule}:${f.severity}`)).toEqual(
        rule === 'changing-column-type' ? ['changing-column-type:warning'] : [],
      );
      expect(report.destructive.map((d) => d.contract)).toEqual([true]);
    });
    it('ignores changes to a table the same file created, and lists each table of a DROP', async () => {
      const sql = `CREATE TABLE scratch (id bigint, x text);
ALTER TABLE scratch DROP COLUMN x;
ALTER TABLE scratch ALTER COLUMN id TYPE text;
DROP TABLE scratch, "Legacy Notes", archive.old_notes;
`;
      const report = await lint('postgres', [NOTES, sql]);
      expect(report.destructive.map((d) => `${d.kind} ${d.table}`)).toEqual([
        'drop-table Legacy Notes',
        'drop-table old_notes',
      ]);
      expect(where(report.findings)).toEqual(['destructive-change-outside-contract@2:4:1']);
    });
  });

  describe('squawk-ignore', () => {
    it('is disabled: the violation is reported, with a warning to use an audited lint-ignore', async () => {
      const sql = '-- squawk-ignore ban-drop-column\nALTER TABLE notes DROP COLUMN body;\n';
      const report = await lint('postgres', [NOTES, sql]);
      expect(where(report.findings)).toEqual([
        'squawk-ignore-comment@2:1:1',
        'destructive-change-outside-contract@2:2:19',
      ]);
    });
    it('an airlock:lint-ignore with a reason suppresses it instead', async () => {
      const sql =
        '-- airlock:lint-ignore destructive-change-outside-contract body was never read, checked in release 7\nALTER TABLE notes DROP COLUMN body;\n';
      const report = await lint('postgres', [NOTES, sql]);
      expect(report.findings).toEqual([]);
      expect(report.suppressed.map((f) => [f.rule, f.suppressedBecause])).toEqual([
        ['destructive-change-outside-contract', 'body was never read, checked in release 7'],
      ]);
    });
  });

  describe('only', () => {
    it('runs squawk on the reported files only', async () => {
      const files = migrations('ALTER TABLE notes ADD COLUMN a int NOT NULL;\n', NOTES);
      const report = await lintMigrations(files, { engine: 'postgres', only: [2] });
      expect(report.findings).toEqual([]);
      expect(report.files).toBe(1);
    });
  });

  describe('destructiveChanges', () => {
    it('lists a file’s destructive statements for the pipeline', async () => {
      const file = migration(
        2,
        '-- airlock:contract\nALTER TABLE notes DROP COLUMN body, RENAME COLUMN title TO name;\n',
      );
      expect(await destructiveChanges(file, 'postgres')).toEqual([
        expect.objectContaining({
          kind: 'drop-column',
          table: 'notes',
          column: 'body',
          line: 2,
          col: 19,
          contract: true,
        }),
        expect.objectContaining({
          kind: 'rename-column',
          table: 'notes',
          column: 'title',
          to: 'name',
          line: 2,
          col: 37,
        }),
      ]);
    });
  });

  describe('when squawk is missing or broken', () => {
    it('fails with MIGRATION_LINT_UNAVAILABLE, saying how to install it', async () => {
      const error = await caught(lint('postgres', [NOTES], { squawkPath: '/nonexistent/squawk' }));
      expect(error).toBeInstanceOf(ProviderError);
      expect(error.code).toBe('MIGRATION_LINT_UNAVAILABLE');
      expect(error.hint).toContain('npm ci --include=optional');
    });
    it('fails with MIGRATION_LINT_FAILED when squawk exits with an error', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'airlock-fake-squawk-'));
      try {
        const fake = join(dir, 'squawk');
        await writeFile(fake, '#!/bin/sh\necho "error: something broke" >&2\nexit 2\n');
        await chmod(fake, 0o755);
        const error = await caught(lint('postgres', [NOTES], { squawkPath: fake }));
        expect(error.code).toBe('MIGRATION_LINT_FAILED');
        expect(error.message).toContain('something broke');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
    it('needs no squawk for SQLite and D1', async () => {
      const report = await lint('sqlite', ['CREATE TABLE t (a);'], {
        squawkPath: '/nonexistent/squawk',
      });
      expect(report.findings).toEqual([]);
    });
  });
});

/** line:col of `needle` (helpers.at, re-exported here for the destructive list). */
function at(sql: string, needle: string): { line: number; col: number } {
  const lines = sql.split('\n');
  const line = lines.findIndex((l) => l.includes(needle));
  return {
    line: line + 1,
    col: Array.from(lines[line]!.slice(0, lines[line]!.indexOf(needle))).length + 1,
  };
}

describe("a deployment's lint step on an ORM's generated SQL", () => {
  // Prisma's first migration for a model with an autoincrement id and a timestamp.
  const PRISMA_INIT = `-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
`;
  const where = (f: { path: string; line: number; rule: string; message: string }) =>
    `${f.path}:${f.line}: ${f.rule}: ${f.message}`;

  it('counts type and style advice on one line, and still shows each hazard on its own', async () => {
    const report = await lint('postgres', [
      PRISMA_INIT,
      'ALTER TABLE "User" ADD CONSTRAINT "User_email_key" UNIQUE ("email");\n',
    ]);
    const warnings = report.findings.filter((f) => f.severity === 'warning');
    const style = warnings.filter((f) => STYLE_RULES.has(f.rule)).map((f) => f.rule);
    expect(style).toEqual(expect.arrayContaining(['prefer-identity', 'prefer-timestamp-tz']));
    const lines = warningSummary(warnings, where).split('\n').slice(1);
    // The hazard (a unique constraint built under a lock on a live table) is shown as ever.
    expect(lines.filter((l) => l.startsWith('    warning: '))).toEqual([
      expect.stringContaining('constraint-missing-not-valid'),
      expect.stringContaining('disallowed-unique-constraint'),
    ]);
    expect(lines.at(-1)).toBe(
      `    and ${style.length} type or style suggestions (${[...new Set(style)].join(', ')}; \`airlock migrate lint\` lists them)`,
    );
    expect(lines).toHaveLength(3);
  });
});
