import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import {
  CONFIG_EXAMPLE,
  configGeneratedFiles,
  configReferenceMarkdown,
} from '../../src/config/reference.ts';
import { configJsonSchema } from '../../src/config/schema.ts';
import { checkJsonSchema } from './json-schema-check.ts';
import { VALID_EXAMPLE } from './yaml-text.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('generated config files', () => {
  for (const file of configGeneratedFiles()) {
    it(`${file.path} is up to date`, () => {
      const committed = readFileSync(join(ROOT, file.path), 'utf8');
      expect(committed === file.text, `${file.path} is stale: run npm run config:generate`).toBe(
        true,
      );
    });
  }

  it('the JSON Schema file is the schema of configJsonSchema()', () => {
    const [schemaFile] = configGeneratedFiles();
    expect(schemaFile?.text).toBe(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });
});

describe('the JSON Schema', () => {
  const schema = configJsonSchema();
  /** The valid example with `changes` applied (`[path, value]`; value undefined deletes). */
  const example = (...changes: Array<[string, unknown]>): Record<string, unknown> => {
    const config = parse(VALID_EXAMPLE) as Record<string, unknown>;
    for (const [path, value] of changes) {
      const keys = path.split('.');
      const last = keys.pop() as string;
      let node = config as Record<string, unknown>;
      for (const key of keys) node = node[key] as Record<string, unknown>;
      if (value === undefined) delete node[last];
      else node[last] = value;
    }
    return config;
  };

  it('accepts the valid example', () => {
    expect(checkJsonSchema(schema, example())).toEqual([]);
  });

  it('rejects unknown keys at every level', () => {
    expect(checkJsonSchema(schema, example(['servics', {}]))).toEqual(['$: unknown key servics']);
    const service = example(['services.notes.helth', { path: '/health' }]);
    expect(checkJsonSchema(schema, service)).toEqual(['$.services.notes: unknown key helth']);
    const override = example([
      'environments.staging.services.notes.build',
      { command: 'x', output: 'y' },
    ]);
    expect(checkJsonSchema(schema, override)).toEqual([
      '$.environments.staging.services.notes: unknown key build',
    ]);
    const check = example(['services.notes.checks.1.timeout', 5]);
    expect(checkJsonSchema(schema, check)).toEqual([
      '$.services.notes.checks[1]: 0 of the oneOf options match',
    ]);
  });

  it('rejects wrong types, values and names like the zod schema', () => {
    const config = example(
      ['environments.production.promotion.approval.required', 'two'],
      ['environments.staging.services.notes.port', 70000],
      ['services.notes.health', { path: 'health' }],
      ['project', 'Notes'],
    );
    expect(checkJsonSchema(schema, config).sort()).toEqual([
      '$.environments.production.promotion: 0 of the anyOf options match',
      '$.environments.staging.services.notes.port: more than 65535',
      '$.project: does not match ^[a-z][a-z0-9-]{0,39}$',
      '$.services.notes.health.path: does not match ^\\/.*',
    ]);
    expect(checkJsonSchema(schema, example(['pipeline', undefined]))).toEqual([
      '$: missing pipeline',
    ]);
  });
});

describe('the configuration reference', () => {
  const markdown = configReferenceMarkdown();

  it('opens with a complete example that is valid', () => {
    expect(CONFIG_EXAMPLE).toBe(VALID_EXAMPLE);
    expect(markdown).toContain(`\`\`\`yaml\n${CONFIG_EXAMPLE}\`\`\``);
    expect(parseConfig(CONFIG_EXAMPLE, '/tmp/x/airlock.yaml').warnings).toEqual([]);
  });

  it('documents every field with its path, type, requiredness, default, example and description', () => {
    expect(markdown).toContain(
      [
        '### `services.<name>.health.timeoutMs`',
        '',
        'A new process that is not healthy after this many ms fails the deployment.',
        '',
        '- **Type:** integer ≥ 0 · **Required:** no · **Default:** `30000`',
        '- **Example:** `timeoutMs: 30000`',
      ].join('\n'),
    );
    expect(markdown).toContain(
      [
        '### `environments.<name>.services.<name>.port`',
        '',
        "The environment's stable local port for this service (local provider). Each environment needs its own.",
        '',
        '- **Type:** integer, 1 to 65535 · **Required:** in each environment · **Inheritance:** [per-environment](#inheritance)',
        '- **Example:** `port: 4100`',
      ].join('\n'),
    );
    // Every field heading is followed by a description.
    const headings = [...markdown.matchAll(/^### `([^`]+)`\n\n(.*)$/gm)];
    expect(headings.length).toBeGreaterThan(60);
    for (const [, path, description] of headings) {
      expect(description, path).toMatch(/^\S/);
      expect(description, path).not.toMatch(/^- \*\*Type/);
    }
  });

  it('explains the four inheritance classes with their fields', () => {
    expect(markdown).toContain('| `global-only` |');
    expect(markdown).toContain('| `root`, `build`, `database`, `data` |');
    expect(markdown).toContain(
      '| `run`, `health`, `checks`, `keepWarmMs`, `keepWarmReleases`, `drainTimeoutMs`, `stopTimeoutMs`, `cloudflare`, `fly`, `railway`, `command` |',
    );
    expect(markdown).toContain('| `port`, `databaseUrl` |');
    expect(markdown).toContain('| `vars` |');
    expect(markdown).toContain('**Inheritance:** [global-only](#inheritance)');
  });

  it('gives each check kind and each notification sink kind its own section', () => {
    const sections = [...markdown.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(sections).toEqual([
      'A complete example',
      'Inheritance',
      'Where Airlock keeps its files',
      'Contents',
      'Top level',
      'Notification sink: slack',
      'Notification sink: webhook',
      'Services',
      'Environments',
      'Service settings per environment',
      'Checks',
      'Check: http',
      'Check: command',
      'Check: latency',
      'Check: perf',
    ]);
    expect(markdown).toContain(
      '### `services.<name>.checks[].p95Ms`\n\nBudget for the 95th percentile latency (ms).\n\n- **Type:** integer ≥ 0 · **Required:** yes',
    );
  });
});
