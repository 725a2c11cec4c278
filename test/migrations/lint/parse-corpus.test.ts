/**
 * Parse coverage of SQLite/D1 lint: the corpus test/fixtures/lint/sqlite-grammar-corpus.sql
 * holds one valid statement per case across SQLite's documented grammar (CREATE TABLE with
 * every kind of constraint, comma-less table constraints, STRICT, WITHOUT ROWID, generated
 * columns, FTS5 options with UNINDEXED, triggers, CTEs, UPSERT, RETURNING, JSON operators,
 * window functions, PRAGMAs with quoted arguments, …) and the D1 subset (`[d1]`). The corpus is
 * honest because real SQLite runs every case in order; and every case must be read by lint's
 * reader and lint without an `unparsed`, `syntax-error` or `replay-error` finding.
 */
import { readFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { splitSqliteStatements } from '../../../src/migrations/lint/sql-tokens.ts';
import { readSqliteStatement } from '../../../src/migrations/lint/sqlite-statement.ts';
import { lint, where } from './helpers.ts';

interface Case {
  label: string;
  sql: string;
  d1: boolean;
}

const CORPUS = readFileSync(
  new URL('../../fixtures/lint/sqlite-grammar-corpus.sql', import.meta.url),
  'utf8',
);

/** The cases: each starts at a line `-- @case <label>` and runs to the next. */
const CASES: Case[] = CORPUS.split(/^-- @case /m)
  .slice(1)
  .map((part) => {
    const newline = part.indexOf('\n');
    const label = part.slice(0, newline).trim();
    return { label, sql: part.slice(newline + 1), d1: label.endsWith('[d1]') };
  });

const STATEMENT_ERRORS = new Set(['unparsed', 'syntax-error', 'replay-error']);

describe('the SQLite grammar corpus', () => {
  it('has at least 150 statements, and a D1 subset of at least 100', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    expect(CASES.filter((c) => c.d1).length).toBeGreaterThanOrEqual(100);
  });

  it('is valid SQLite: real SQLite runs every case, in order, in one database', () => {
    const db = new DatabaseSync(':memory:');
    try {
      const refused = CASES.flatMap((c) => {
        try {
          db.exec(c.sql);
          return [];
        } catch (error) {
          return [`${c.label}: ${(error as Error).message}`];
        }
      });
      expect(refused).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("is read by lint's reader: each case is one statement, and every one is read", () => {
    const unread = CASES.flatMap((c) => {
      const statements = splitSqliteStatements(c.sql);
      if (statements.length !== 1) return [`${c.label}: split into ${statements.length}`];
      const reading = readSqliteStatement(statements[0]!.tokens);
      return reading.ok ? [] : [`${c.label}: ${reading.reason}`];
    });
    expect(unread).toEqual([]);
  });

  it('reads what the rules need from the statements earlier parsers could not read', () => {
    const read = (label: string) => {
      const c = CASES.find((x) => x.label.startsWith(label));
      const reading = readSqliteStatement(splitSqliteStatements(c!.sql)[0]!.tokens);
      if (!reading.ok) throw new Error(reading.reason);
      return reading.statement;
    };
    expect(read('Prisma rebuild: PRAGMA foreign_key_check("users")')).toMatchObject({
      kind: 'pragma',
      name: 'foreign_key_check',
      value: 'users',
    });
    expect(read('pragma: cache_size negative')).toMatchObject({ value: '-2000' });
    expect(
      read('create table: table constraints without commas between them (SQLite accepts it)'),
    ).toMatchObject({ kind: 'create', object: 'table', name: { name: 'invites' } });
    expect(read('fts5: UNINDEXED column')).toMatchObject({ kind: 'create', module: 'fts5' });
    expect(read('alter table: add a REFERENCES column with a NULL default')).toMatchObject({
      action: { type: 'add-column', column: { name: 'owner_id', references: { table: 'users' } } },
    });
  });

  it.each(['sqlite', 'd1'] as const)(
    'lints, one file per case, on %s without a statement error',
    async (engine) => {
      const cases = engine === 'd1' ? CASES.filter((c) => c.d1) : CASES;
      const report = await lint(
        engine,
        cases.map((c) => c.sql),
      );
      expect(report.files).toBe(cases.length);
      expect(where(report.findings.filter((f) => STATEMENT_ERRORS.has(f.rule)))).toEqual([]);
      // Prisma's DROP TABLE "users", which Post, memberships, Session and accounts reference ON
      // DELETE CASCADE, is linted, not skipped: it deletes their rows.
      const drop = cases.findIndex((c) => c.label.startsWith('Prisma rebuild: drop the old table'));
      const cascade = report.findings.filter((f) => f.rule === 'rebuild-with-cascading-children');
      expect(cascade.map((f) => Number(f.file.slice(0, 4)))).toEqual([drop + 1]);
      expect(cascade[0]!.message).toMatch(
        /^Dropping users deletes every row of Post .*memberships/,
      );
    },
  );
});
