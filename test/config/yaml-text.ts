import { CONFIG_EXAMPLE } from '../../src/config/reference.ts';
/**
 * `yaml` template tag for tests: drops the first line break and the indentation common to all
 * lines, so a config can be written indented inside a test and still have exact line:col.
 */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((out, s, i) => out + String(values[i - 1]) + s);
  const lines = raw
    .replace(/^\n/, '')
    .replace(/\n[ ]*$/, '\n')
    .split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** The valid example of the brief and of docs/configuration.md (one copy, in reference.ts). */
export const VALID_EXAMPLE = CONFIG_EXAMPLE;
