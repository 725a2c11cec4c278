import { describe, expect, it } from 'vitest';
import { splitSqlStatements } from '../../src/migrations/sql-split.ts';

function texts(sql: string): string[] {
  return splitSqlStatements(sql).map((s) => s.text);
}

describe('splitSqlStatements', () => {
  it('splits on top-level semicolons, with offsets and 1-based lines', () => {
    const sql = 'CREATE TABLE a (id int);\n\n  CREATE TABLE b (id int)  ;\r\nSELECT 1';
    expect(splitSqlStatements(sql)).toEqual([
      { text: 'CREATE TABLE a (id int)', offset: 0, line: 1 },
      { text: 'CREATE TABLE b (id int)', offset: sql.indexOf('CREATE TABLE b'), line: 3 },
      { text: 'SELECT 1', offset: sql.indexOf('SELECT'), line: 4 },
    ]);
  });

  it('drops empty statements and leading comments; a script of comments has none', () => {
    expect(texts(';; -- only a comment\n /* and; this */ ;\n')).toEqual([]);
    expect(texts('')).toEqual([]);
    const [statement] = splitSqlStatements('-- Migration 0002\n/* why */\nSELECT 1; -- done\n');
    expect(statement).toEqual({ text: 'SELECT 1', offset: 28, line: 3 });
  });

  it('keeps semicolons inside single-quoted strings, with doubled quotes', () => {
    expect(texts("INSERT INTO t VALUES ('a;b', 'it''s; fine', ''); SELECT 2")).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', '')",
      'SELECT 2',
    ]);
  });

  it("honours backslash escapes in E'' strings only", () => {
    expect(texts("SELECT E'it\\'s; here', e'\\\\'; SELECT 2")).toEqual([
      "SELECT E'it\\'s; here', e'\\\\'",
      'SELECT 2',
    ]);
    // standard_conforming_strings: a backslash in a plain string is just a character.
    expect(texts("SELECT 'C:\\'; SELECT 2")).toEqual(["SELECT 'C:\\'", 'SELECT 2']);
    expect(texts("SELECT U&'d\\0061t;', B'01', X'1F'; SELECT 2")).toHaveLength(2);
  });

  it('keeps semicolons inside double-quoted identifiers', () => {
    expect(texts('CREATE TABLE "we;ird""name" (id int); SELECT 1')).toEqual([
      'CREATE TABLE "we;ird""name" (id int)',
      'SELECT 1',
    ]);
  });

  it('keeps dollar-quoted bodies whole, with tags and nested other tags', () => {
    const fn = 'CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql';
    const block = 'DO $body$ BEGIN EXECUTE $q$SELECT 1; SELECT $$x;$$$q$; END $body$';
    expect(texts(`${fn};\n${block};\nSELECT 3;`)).toEqual([fn, block, 'SELECT 3']);
  });

  it('tells dollar quotes from parameters and from $ inside identifiers', () => {
    expect(texts('PREPARE p AS SELECT $1, $2; EXECUTE p(1, 2)')).toEqual([
      'PREPARE p AS SELECT $1, $2',
      'EXECUTE p(1, 2)',
    ]);
    expect(texts('SELECT a$b$ FROM t; SELECT $x$;$x$')).toEqual([
      'SELECT a$b$ FROM t',
      'SELECT $x$;$x$',
    ]);
  });

  it('skips -- comments and nested /* */ comments', () => {
    const sql = [
      'SELECT 1; -- not; a statement',
      "/* outer; /* inner; */ still ';' a comment; */ SELECT 2;",
      'SELECT /* mid; */ 3',
    ].join('\n');
    expect(splitSqlStatements(sql).map((s) => [s.text, s.line])).toEqual([
      ['SELECT 1', 1],
      ['SELECT 2', 2],
      ['SELECT /* mid; */ 3', 3],
    ]);
  });

  it('does not split inside parentheses (multi-action rules)', () => {
    const rule =
      'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))';
    expect(texts(`${rule}; SELECT 1`)).toEqual([rule, 'SELECT 1']);
  });

  it('keeps SQL-standard BEGIN ATOMIC … END function bodies whole (psql heuristic)', () => {
    const fn = [
      'CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql',
      'BEGIN ATOMIC',
      '  SELECT CASE WHEN a IS NULL THEN 0 ELSE a END + b;',
      'END',
    ].join('\n');
    const proc =
      'create or replace procedure p() language sql begin atomic insert into t values (1); end';
    expect(texts(`${fn};\n${proc};\nSELECT 3`)).toEqual([fn, proc, 'SELECT 3']);
    // Outside CREATE FUNCTION/PROCEDURE, BEGIN is a transaction statement of its own.
    expect(texts('BEGIN; SELECT 1; END; COMMIT;')).toEqual(['BEGIN', 'SELECT 1', 'END', 'COMMIT']);
    expect(texts('CREATE TABLE t (begin_at int); SELECT 2')).toEqual([
      'CREATE TABLE t (begin_at int)',
      'SELECT 2',
    ]);
  });

  it('runs an unterminated quote or comment to the end (Postgres reports it when run)', () => {
    expect(texts("SELECT 'oops; SELECT 1")).toEqual(["SELECT 'oops; SELECT 1"]);
    expect(texts('SELECT $$oops; SELECT 1')).toEqual(['SELECT $$oops; SELECT 1']);
    expect(texts('SELECT 1; /* never closed; SELECT 2')).toEqual(['SELECT 1']);
  });

  it('counts lines across multi-line strings and comments', () => {
    const sql = "SELECT 'a\nb';\n/*\n\n*/\nSELECT 2;";
    expect(splitSqlStatements(sql).map((s) => s.line)).toEqual([1, 6]);
  });
});
