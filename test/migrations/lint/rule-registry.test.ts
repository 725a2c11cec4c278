/**
 * The rule modules and their registries: one module per rule, named after the rule, listed in
 * its registry, and in the catalogue (`AIRLOCK_RULES`) exactly once.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { POSTGRES_LINT_RULES } from '../../../src/migrations/lint/rules/postgres/registry.ts';
import { SQLITE_LINT_RULES } from '../../../src/migrations/lint/rules/sqlite/registry.ts';
import { AIRLOCK_RULES, ruleDocs } from '../../../src/migrations/lint/rules.ts';

/** Modules of a rules folder that are not rules: the registry, the rule shape, shared helpers. */
const NOT_RULES = new Set([
  'registry.ts',
  'sqlite-lint-rule.ts',
  'postgres-lint-rule.ts',
  'drop-effects.ts',
  'add-column.ts',
]);

function ruleModules(engine: 'sqlite' | 'postgres'): string[] {
  const dir = new URL(`../../../src/migrations/lint/rules/${engine}/`, import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !NOT_RULES.has(f))
    .map((f) => f.slice(0, -'.ts'.length))
    .sort();
}

describe('lint rule registries', () => {
  it('list one rule per module, named after it', () => {
    expect(SQLITE_LINT_RULES.map((r) => r.name).sort()).toEqual(ruleModules('sqlite'));
    expect(POSTGRES_LINT_RULES.map((r) => r.name).sort()).toEqual(ruleModules('postgres'));
  });

  it('put every rule in the catalogue once, as plain data', () => {
    const names = AIRLOCK_RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const rule of [...SQLITE_LINT_RULES, ...POSTGRES_LINT_RULES]) {
      const entry = AIRLOCK_RULES.find((r) => r.name === rule.name);
      expect(entry, rule.name).toBeDefined();
      expect(entry).toEqual({
        name: rule.name,
        severity: rule.severity,
        engines: rule.engines,
        summary: rule.summary,
        source: rule.source,
        suppressible: rule.suppressible,
      });
    }
  });

  it('give every SQLite rule something to run, on SQLite engines only', () => {
    for (const rule of SQLITE_LINT_RULES) {
      expect(rule.check ?? rule.finish, rule.name).toBeTypeOf('function');
      expect(
        rule.engines.some((e) => e === 'sqlite' || e === 'd1'),
        rule.name,
      ).toBe(true);
    }
  });

  it('document every rule in its own section of docs/lint-rules.md, which findings link to', () => {
    const doc = readFileSync(new URL('../../../docs/lint-rules.md', import.meta.url), 'utf8');
    const sections = [...doc.matchAll(/^### `([a-z0-9-]+)`$/gm)].map((m) => m[1]);
    expect([...sections].sort()).toEqual(AIRLOCK_RULES.map((r) => r.name).sort());
    for (const rule of AIRLOCK_RULES) {
      expect(ruleDocs(rule.name)).toBe(`docs/lint-rules.md#${rule.name}`);
      const section = doc.slice(doc.indexOf(`### \`${rule.name}\``)).split(/^##/m)[1]!;
      expect(section, rule.name).toContain(`**${rule.severity}**`);
    }
    // The other links into it (docs/migrations.md) point at sections that exist.
    const migrations = readFileSync(
      new URL('../../../docs/migrations.md', import.meta.url),
      'utf8',
    );
    for (const [, anchor] of migrations.matchAll(/lint-rules\.md#([a-z0-9-]+)/g)) {
      expect([...sections, 'squawk-rules'], anchor).toContain(anchor);
    }
  });
});
