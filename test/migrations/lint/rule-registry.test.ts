/**
 * The rule modules and their registries: one module per rule, named after the rule, listed in
 * its registry, and in the catalogue (`AIRLOCK_RULES`) exactly once.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { POSTGRES_LINT_RULES } from '../../../src/migrations/lint/rules/postgres/registry.ts';
import { SQLITE_LINT_RULES } from '../../../src/migrations/lint/rules/sqlite/registry.ts';
import { AIRLOCK_RULES } from '../../../src/migrations/lint/rules.ts';

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
});
