/**
 * The machine formats of `airlock migrate lint`: the SARIF 2.1.0 log is validated against the
 * SARIF 2.1.0 JSON schema (test/fixtures/lint/sarif-schema-2.1.0.json, the 2.1.0 release schema,
 * sarif-2.1.0-rtm.5, as shipped in the MIT-licensed npm package @microsoft/jest-sarif) with ajv;
 * the GitHub annotations follow the workflow-command syntax, escapes included.
 */
import { readFileSync } from 'node:fs';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { lintMigrations } from '../../../src/migrations/lint/lint-migrations.ts';
import { lintGithubAnnotations, lintSarif } from '../../../src/migrations/lint/lint-output.ts';
import { migrations } from './helpers.ts';

const SCHEMA = JSON.parse(
  readFileSync(new URL('../../fixtures/lint/sarif-schema-2.1.0.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

// Both packages are CommonJS: their classes are the modules' `default`.
const Ajv = ajvDraft04.default;
const addFormats = ajvFormats.default;

function validator() {
  // The schema's language-tag pattern is not valid with the RegExp u flag (as JSON Schema draft-04 meant).
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  addFormats(ajv);
  return ajv.compile(SCHEMA);
}

/** Files with an error, a warning-free suppression and a squawk finding's shape on SQLite. */
const FILES = migrations(
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);\n',
  'ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL;\n-- airlock:lint-ignore destructive-change-outside-contract body is unused since r4\nALTER TABLE notes DROP COLUMN body;\n',
  "ALTER TABLE notes ADD COLUMN created TEXT DEFAULT (datetime('now'));\n",
).map((f) => ({ ...f, path: `/repo/app/migrations/${f.filename}` }));

describe('SARIF output', () => {
  it('is valid SARIF 2.1.0, with one result per finding and suppressed ones marked', async () => {
    const report = await lintMigrations(FILES, { engine: 'sqlite' });
    const log = lintSarif(report.findings, report.suppressed, { root: '/repo', version: '0.1.0' });
    const validate = validator();
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);

    const run = log.runs[0]!;
    expect(run.results.map((r) => r.ruleId)).toEqual([
      'add-not-null-column-without-default',
      'add-column-non-constant-default',
      'destructive-change-outside-contract',
    ]);
    expect(run.results[0]).toMatchObject({
      level: 'error',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'app/migrations/0002_m2.sql', uriBaseId: '%SRCROOT%' },
            region: { startLine: 1, startColumn: 30 },
          },
        },
      ],
    });
    expect(run.results[2]!.suppressions).toEqual([
      { kind: 'inSource', justification: 'body is unused since r4' },
    ]);
    // Each rule once, linked to its section of docs/lint-rules.md.
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual([
      'add-not-null-column-without-default',
      'add-column-non-constant-default',
      'destructive-change-outside-contract',
    ]);
    expect(run.tool.driver.rules[0]!.help.text).toContain(
      'docs/lint-rules.md#add-not-null-column-without-default',
    );
    expect(run.results.every((r) => run.tool.driver.rules[r.ruleIndex]!.id === r.ruleId)).toBe(
      true,
    );
  });

  it('is valid for squawk findings on Postgres too (rules linked to squawk’s pages)', async () => {
    const report = await lintMigrations(
      migrations(
        'CREATE TABLE notes (id bigint PRIMARY KEY, title text);\n',
        'ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL;\nCREATE INDEX notes_title ON notes (title);\n',
      ),
      { engine: 'postgres' },
    );
    const log = lintSarif(report.findings, report.suppressed, {
      root: '/project',
      version: '0.1.0',
    });
    const validate = validator();
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const rules = log.runs[0]!.tool.driver.rules;
    expect(rules.map((r) => r.id)).toEqual([
      'adding-required-field',
      'require-concurrent-index-creation',
    ]);
    expect(rules[0]!.helpUri).toBe('https://squawkhq.com/docs/adding-required-field');
  });

  it('the schema catches a log that breaks it (the validation can fail)', () => {
    const validate = validator();
    expect(validate({ version: '2.1.0', runs: [{ results: [] }] })).toBe(false);
    expect(validate({ version: '2.0.0', runs: [] })).toBe(false);
  });
});

describe('GitHub annotations', () => {
  it('one workflow command per finding, file relative to the root, data and properties escaped', async () => {
    const report = await lintMigrations(FILES, { engine: 'sqlite' });
    const lines = lintGithubAnnotations(report.findings, { root: '/repo' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^::error file=app\/migrations\/0002_m2\.sql,line=1,col=30,title=airlock lint%3A add-not-null-column-without-default::Column notes\.pinned is added NOT NULL .* See: docs\/lint-rules\.md#add-not-null-column-without-default$/,
    );
    const escaped = lintGithubAnnotations(
      [{ ...report.findings[0]!, message: '100% sure,\nreally: yes', path: '/repo/a,b:c.sql' }],
      { root: '/repo' },
    )[0]!;
    expect(escaped).toMatch(
      /^::error file=a%2Cb%3Ac\.sql,line=1,col=30,title=[^:]+::100%25 sure,%0Areally: yes Fix: /,
    );
  });
});
