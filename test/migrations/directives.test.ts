/**
 * `-- airlock:` directives: what takes effect, what is a problem (and so an error finding in
 * `airlock migrate lint`), and that the Postgres driver reads `no-transaction` the same way.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONTRACT_MARKER,
  directivesOf,
  NO_TRANSACTION_MARKER,
  parseDirectives,
} from '../../src/migrations/directives.ts';
import { readMigrationDir } from '../../src/migrations/migration-files.ts';
import { isNoTransactionMigration } from '../../src/migrations/postgres-migration-driver.ts';
import { migrationDir } from './engines.ts';

const codes = (sql: string) =>
  parseDirectives(sql).problems.map((p) => `${p.code}@${p.line}:${p.col}`);

describe('parseDirectives', () => {
  it('reads contract, no-transaction and lint-ignore with its reason and line', () => {
    const d = parseDirectives(
      [
        '-- Migration 0003',
        CONTRACT_MARKER,
        `  ${NO_TRANSACTION_MARKER}  `,
        '-- airlock:lint-ignore destructive-change-outside-contract   the v2 API stopped reading body in release 41  ',
        'ALTER TABLE notes DROP COLUMN body;',
      ].join('\n'),
    );
    expect(d.contract).toBe(true);
    expect(d.noTransaction).toBe(true);
    expect(d.ignores).toEqual([
      {
        rule: 'destructive-change-outside-contract',
        scope: 'statement',
        reason: 'the v2 API stopped reading body in release 41',
        line: 4,
      },
    ]);
    expect(d.problems).toEqual([]);
  });

  it('reads lint-ignore-file as a file-wide ignore, with the same checks', () => {
    const d = parseDirectives(
      '-- airlock:lint-ignore-file destructive-change-outside-contract v1 tables are dead\n-- airlock:lint-ignore-file replay-error\n-- airlock:lint-ignore-files replay-error x\nSELECT 1;\n',
    );
    expect(d.ignores).toEqual([
      {
        rule: 'destructive-change-outside-contract',
        scope: 'file',
        reason: 'v1 tables are dead',
        line: 1,
      },
    ]);
    expect(d.problems.map((p) => `${p.code}@${p.line}`)).toEqual([
      'lint-ignore-without-reason@2',
      'unknown-directive@3',
    ]);
    expect(d.problems[0]!.message).toContain(
      '`-- airlock:lint-ignore-file replay-error` gives no reason',
    );
  });

  it('finds nothing in a file without directives, and ignores plain comments that mention Airlock', () => {
    expect(parseDirectives('-- Airlock: see the README\nCREATE TABLE t (a);\n')).toEqual({
      contract: false,
      noTransaction: false,
      ignores: [],
      problems: [],
    });
  });

  it('accepts CRLF line ends and `--airlock:` without a space', () => {
    const d = parseDirectives(
      '--airlock:contract\r\n-- airlock:lint-ignore replay-error table made by hand\r\nSELECT 1;\r\n',
    );
    expect(d.contract).toBe(true);
    expect(d.ignores).toEqual([
      { rule: 'replay-error', scope: 'statement', reason: 'table made by hand', line: 2 },
    ]);
  });

  it('requires a reason: a lint-ignore without one suppresses nothing and is a problem', () => {
    const d = parseDirectives(
      'SELECT 1;\n  -- airlock:lint-ignore replay-error\n-- airlock:lint-ignore\n',
    );
    expect(d.ignores).toEqual([]);
    expect(d.problems.map((p) => `${p.code}@${p.line}:${p.col}`)).toEqual([
      'lint-ignore-without-reason@2:3',
      'lint-ignore-without-reason@3:1',
    ]);
    expect(d.problems[0]!.message).toContain('gives no reason');
    expect(d.problems[0]!.fix).toBe(
      'Write `-- airlock:lint-ignore replay-error <why this is safe here>`.',
    );
    expect(d.problems[1]!.message).toContain('names no rule and gives no reason');
  });

  it('refuses an unknown rule, suggesting the closest one', () => {
    const d = parseDirectives(
      '-- airlock:lint-ignore destructive-change-outside-contrct old column, unused\n',
    );
    expect(d.ignores).toEqual([]);
    expect(d.problems).toHaveLength(1);
    expect(d.problems[0]!.code).toBe('lint-ignore-unknown-rule');
    expect(d.problems[0]!.message).toContain('Did you mean `destructive-change-outside-contract`?');
    expect(d.problems[0]!.fix).toBe(
      'Write `-- airlock:lint-ignore destructive-change-outside-contract old column, unused`.',
    );
    expect(codes('-- airlock:lint-ignore no-such-thing-at-all because\n')).toEqual([
      'lint-ignore-unknown-rule@1:1',
    ]);
  });

  it('knows squawk rules as well as its own', () => {
    const d = parseDirectives(
      '-- airlock:lint-ignore prefer-bigint-over-int ids stay below 2^31\n',
    );
    expect(d.ignores.map((i) => i.rule)).toEqual(['prefer-bigint-over-int']);
  });

  it('reports typos and misplaced directives instead of silently ignoring them', () => {
    expect(codes('-- airlock:contracts\n')).toEqual(['unknown-directive@1:1']);
    expect(parseDirectives('-- airlock:contracts\n').problems[0]!.message).toContain(
      'Did you mean `-- airlock:contract`?',
    );
    expect(codes('-- airlock:no-transactions please\n')).toEqual(['unknown-directive@1:1']);
    expect(codes('SELECT 1; -- airlock:no-transaction\n')).toEqual(['malformed-directive@1:11']);
    expect(codes('-- airlock:contract drop the old columns\n')).toEqual([
      'malformed-directive@1:1',
    ]);
    expect(codes('-- AIRLOCK:contract\n-- airlock:Contract\n-- airlock: contract\n')).toEqual([
      'malformed-directive@1:1',
      'malformed-directive@2:1',
      'malformed-directive@3:1',
    ]);
    const d = parseDirectives('-- airlock:contract drop old columns\n-- AIRLOCK:no-transaction\n');
    expect(d.contract).toBe(false);
    expect(d.noTransaction).toBe(false);
  });

  it('counts columns in code points', () => {
    expect(codes("SELECT 'é😀'; -- airlock:contract\n")).toEqual(['malformed-directive@1:14']); // 15 in UTF-16 units
  });
});

describe('the Postgres driver and lint agree on -- airlock:no-transaction', () => {
  const cases = [
    '-- airlock:no-transaction\nCREATE INDEX …;',
    '-- Migration 0002\n  --airlock:no-transaction  \r\n',
    'SELECT 1; -- airlock:no-transaction\n',
    '-- airlock:no-transactions please\n',
    '-- airlock:no-transaction because\n',
    '-- AIRLOCK:no-transaction\n',
    'CREATE TABLE t (a int);\n',
  ];
  it.each(cases)('%j', (sql) => {
    expect(isNoTransactionMigration(sql)).toBe(parseDirectives(sql).noTransaction);
  });
  it('keeps the driver’s documented behaviour', () => {
    expect(cases.map(isNoTransactionMigration)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('readMigrationDir exposes the directives', () => {
  let remove: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await remove?.();
  });

  it('parses each file once, and directivesOf parses files built in memory', async () => {
    const dir = await migrationDir();
    remove = dir.remove;
    await dir.write('0001_init.sql', 'CREATE TABLE t (a);\n');
    await dir.write('0002_drop.sql', `${CONTRACT_MARKER}\nDROP TABLE t;\n`);
    const [first, second] = await readMigrationDir(dir.dir);
    expect(first!.directives).toEqual(parseDirectives(first!.sql));
    expect(second!.directives?.contract).toBe(true);
    expect(directivesOf({ sql: `${CONTRACT_MARKER}\n` }).contract).toBe(true);
    await rm(dir.dir, { recursive: true });
  });
});
