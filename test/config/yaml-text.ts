/**
 * `yaml` template tag for tests: drops the first line break and the indentation common to all
 * lines, so a config can be written indented inside a test and still have exact line:col.
 */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((out, s, i) => out + s + (i < values.length ? String(values[i]) : ''));
  const lines = raw
    .replace(/^\n/, '')
    .replace(/\n[ ]*$/, '\n')
    .split('\n');
  const indent = Math.min(
    ...lines.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
  );
  return lines.map((l) => l.slice(indent)).join('\n');
}

/** The valid example of the brief and of docs/configuration.md. */
export const VALID_EXAMPLE = yaml`
  project: notes
  pipeline: [staging, production]
  services:
    notes:
      build: { command: node scripts/build.mjs, output: dist }
      run: node server.js
      database: { engine: sqlite }
      checks:
        - { name: smoke, type: http, path: /version, expect: { status: 200, json: { release: "\${release.id}" } } }
        - { name: e2e, type: command, run: node e2e/notes.e2e.mjs }
  environments:
    staging:
      services: { notes: { port: 4100 } }
    production:
      promotion: { approval: { required: 1 } }
      services: { notes: { port: 4200, keepWarmMs: 60000 } }
`;
