/**
 * The configuration reference (`docs/configuration.md`), generated from the zod schema's
 * metadata so the docs cannot drift from what is validated. Written by
 * `npm run config:generate`; a test fails when the committed file is stale.
 *
 * Every field gets its dotted path (`<name>` for a key the user chooses, `[]` for a list item),
 * type, default, whether it is required, description and example; service fields also get their
 * inheritance class. Each check kind is its own section.
 */
import { stringify } from 'yaml';
import type { z } from 'zod';
import { configJsonSchema, configSchema } from './schema.ts';
import type { FieldMeta, Inheritance } from './schema-fields.ts';
import { defOf, metaOf } from './schema-walk.ts';

/** A field with its wrappers (optional, default) peeled off, keeping what they said. */
interface Unwrapped {
  schema: z.ZodType;
  meta: FieldMeta | undefined;
  required: boolean;
  hasDefault: boolean;
  defaultValue: unknown;
}

function unwrap(schema: z.ZodType): Unwrapped {
  const out: Unwrapped = {
    schema,
    meta: metaOf(schema),
    required: true,
    hasDefault: false,
    defaultValue: undefined,
  };
  for (;;) {
    const def = defOf(out.schema);
    if ((def.type === 'optional' || def.type === 'default') && def.innerType) {
      out.required = false;
      if (def.type === 'default' && !out.hasDefault) {
        out.hasDefault = true;
        out.defaultValue = def.defaultValue;
      }
      out.schema = def.innerType;
      out.meta ??= metaOf(out.schema);
    } else {
      return out;
    }
  }
}

/** `value` as inline YAML. */
function inline(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A short type: `integer ≥ 0`, `"GET" | "POST"`, `list of string`, `mapping: <name> → string`. */
function typeText(schema: z.ZodType): string {
  const s = unwrap(schema).schema;
  const def = defOf(s);
  switch (def.type) {
    case 'string': {
      const notes: string[] = [];
      for (const c of def.checks ?? []) {
        const check = c._zod.def;
        if (check.format === 'starts_with') notes.push(`starting with \`${check.prefix}\``);
        else if (check.format === 'regex' && check.pattern)
          notes.push(`matching \`${check.pattern.source}\``);
        else if (check.check === 'min_length' && check.minimum === 1) notes.push('not empty');
      }
      return notes.length ? `string, ${notes.join(', ')}` : 'string';
    }
    case 'number': {
      const n = s as unknown as {
        isInt: boolean;
        minValue: number | null;
        maxValue: number | null;
      };
      const base = n.isInt ? 'integer' : 'number';
      const min = n.minValue !== null && n.minValue > -MAX_SAFE ? n.minValue : undefined;
      const max = n.maxValue !== null && n.maxValue < MAX_SAFE ? n.maxValue : undefined;
      if (min !== undefined && max !== undefined) return `${base}, ${min} to ${max}`;
      if (min !== undefined) return `${base} ≥ ${min}`;
      if (max !== undefined) return `${base} ≤ ${max}`;
      return base;
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return Object.values(def.entries ?? {})
        .map((v) => JSON.stringify(v))
        .join(' | ');
    case 'literal':
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(' | ');
    case 'array':
      return `list of ${plural(typeText(def.element as z.ZodType))}`;
    case 'record':
      return `mapping: \`<name>\` → ${typeText(def.valueType as z.ZodType)}`;
    case 'object':
      return 'mapping';
    case 'union':
      if (def.discriminator) return 'check';
      return (def.options ?? []).map((o) => typeText(o)).join(' | ');
    case 'unknown':
      return 'any value';
    default:
      return def.type;
  }
}

function plural(type: string): string {
  if (type === 'mapping' || type === 'check') return `${type}s`;
  return type;
}

// ---------------------------------------------------------------------------------------------
// Walking the schema into sections of fields

interface FieldDoc {
  path: string;
  key: string;
  type: string;
  required: boolean;
  defaultText: string | undefined;
  meta: FieldMeta | undefined;
  /** Show the inheritance class (service fields). */
  service: boolean;
}

interface SectionDoc {
  id: string;
  title: string;
  /** The path every field of the section starts with. */
  prefix: string;
  intro: string;
  fields: FieldDoc[];
  /** Set on the section of one check kind. */
  kind?: string;
}

/** Where a record of mappings starts its own section, and what the section is called. */
const SECTION_TITLES: Record<string, string> = {
  '': 'Top level',
  'services.<name>': 'Services',
  'environments.<name>': 'Environments',
  'environments.<name>.services.<name>': 'Service settings per environment',
};

class Walker {
  readonly sections: SectionDoc[] = [];
  /** Check kinds already documented (the list appears under services and environments). */
  private readonly seenUnions = new Map<z.ZodType, string>();

  section(prefix: string, intro: string, fallbackTitle: string): SectionDoc {
    const title = SECTION_TITLES[prefix] ?? fallbackTitle;
    const doc: SectionDoc = {
      id: slug(title),
      title,
      prefix,
      intro,
      fields: [],
    };
    this.sections.push(doc);
    return doc;
  }

  object(
    schema: z.ZodType,
    prefix: string,
    section: SectionDoc,
    service: boolean,
    discriminator?: string,
  ): void {
    const shape = defOf(schema).shape ?? {};
    for (const [key, child] of Object.entries(shape)) {
      const u = unwrap(child);
      if (key === discriminator && !u.meta) {
        u.meta = { description: `${typeText(u.schema)} selects this kind of check.` };
      }
      const path = prefix ? `${prefix}.${key}` : key;
      section.fields.push({
        path,
        key,
        type: this.fieldType(u.schema, path),
        required: u.required,
        defaultText: u.hasDefault ? inline(u.defaultValue) : undefined,
        meta: u.meta,
        service: service && u.meta?.inherit !== undefined,
      });
      this.into(u.schema, path, section, u.meta);
    }
  }

  private fieldType(schema: z.ZodType, path: string): string {
    const def = defOf(schema);
    if (def.type === 'array') {
      const element = unwrap(def.element as z.ZodType).schema;
      if (defOf(element).discriminator) {
        return `list of [checks](#checks) (each item \`${path}[]\` is one of the kinds)`;
      }
    }
    return typeText(schema);
  }

  /** Descends into a field's value: nested mappings stay in the section; records start one. */
  private into(
    schema: z.ZodType,
    path: string,
    section: SectionDoc,
    meta: FieldMeta | undefined,
  ): void {
    const def = defOf(schema);
    if (def.type === 'object') {
      this.object(schema, path, section, false);
    } else if (def.type === 'record') {
      const value = unwrap(def.valueType as z.ZodType).schema;
      if (defOf(value).type === 'object') {
        const prefix = `${path}.<name>`;
        const child = this.section(prefix, meta?.description ?? '', prefix);
        this.object(value, prefix, child, prefix.endsWith('services.<name>'));
      }
    } else if (def.type === 'array') {
      const element = unwrap(def.element as z.ZodType).schema;
      this.into(element, `${path}[]`, section, meta);
    } else if (def.type === 'union' && def.discriminator) {
      if (this.seenUnions.has(schema)) return;
      this.seenUnions.set(schema, path);
      for (const option of def.options ?? []) {
        const o = unwrap(option);
        const shape = defOf(o.schema).shape ?? {};
        const tag = (defOf(shape[def.discriminator] as z.ZodType).values ?? [])[0];
        // Checks (`type`) get their own part of the page; other unions (notify sinks, `kind`)
        // are sections of the main part.
        const isCheck = def.discriminator === 'type';
        const title = isCheck ? `Check: ${String(tag)}` : `Notification sink: ${String(tag)}`;
        const kind = this.section(path, o.meta?.description ?? '', title);
        if (isCheck) kind.kind = String(tag);
        this.object(o.schema, path, kind, false, def.discriminator);
      }
    } else if (def.type === 'union') {
      for (const option of def.options ?? []) {
        const o = unwrap(option).schema;
        if (defOf(o).type === 'object') this.object(o, path, section, false);
      }
    }
  }
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Markdown

const INHERITANCE: Record<Inheritance, string> = {
  'global-only':
    'set once under `services.<name>`; an environment cannot change it (a release is built once and deployed everywhere).',
  inheritable:
    'set under `services.<name>`; an environment may override it under `environments.<name>.services.<name>`, and otherwise inherits it.',
  'per-environment':
    'set in each environment under `environments.<name>.services.<name>`; never inherited, because each environment needs its own value.',
  'non-inheritable':
    'may be set under `services.<name>`, but an environment that does not repeat it does not get it (as `vars` in wrangler); Airlock warns when that happens.',
};

/** A complete, valid airlock.yaml (a test checks that it passes validation). */
export const CONFIG_EXAMPLE = `project: notes
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

/** Text from the schema as Markdown: a `<placeholder>` outside code spans is not an HTML tag. */
function prose(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replaceAll('<', '\\<')))
    .join('');
}

function fieldMarkdown(f: FieldDoc): string[] {
  const facts = [
    `**Type:** ${f.type}`,
    `**Required:** ${f.required ? 'yes' : f.service && f.meta?.inherit === 'per-environment' ? 'in each environment' : 'no'}`,
    ...(f.defaultText !== undefined ? [`**Default:** \`${f.defaultText}\``] : []),
    ...(f.service && f.meta?.inherit ? [`**Inheritance:** [${f.meta.inherit}](#inheritance)`] : []),
  ];
  const example = f.meta?.examples?.[0];
  const out = [
    `### \`${f.path}\``,
    '',
    prose(f.meta?.description ?? ''),
    '',
    `- ${facts.join(' · ')}`,
  ];
  if (example !== undefined) out.push(`- **Example:** \`${f.key}: ${inline(example)}\``);
  out.push('');
  return out;
}

/** The files `npm run config:generate` writes, relative to the repository root. */
export function configGeneratedFiles(): Array<{ path: string; text: string }> {
  return [
    {
      path: 'schema/airlock.schema.json',
      text: `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
    },
    { path: 'docs/configuration.md', text: configReferenceMarkdown() },
  ];
}

/** The whole of `docs/configuration.md`. Deterministic: the same schema gives the same text. */
export function configReferenceMarkdown(): string {
  const walker = new Walker();
  const top = walker.section('', '', 'Top level');
  walker.object(configSchema, '', top, false);
  const checkSections = walker.sections.filter((s) => s.kind !== undefined);
  const mainSections = walker.sections.filter((s) => s.kind === undefined);

  const byClass = new Map<Inheritance, string[]>();
  for (const s of mainSections) {
    for (const f of s.fields) {
      const cls = f.service ? f.meta?.inherit : undefined;
      if (!cls) continue;
      const list = byClass.get(cls) ?? [];
      if (!list.includes(f.key)) list.push(f.key);
      byClass.set(cls, list);
    }
  }

  const lines: string[] = [
    '# Configuration reference (`airlock.yaml`)',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run config:generate`. Do not edit by hand. -->',
    '',
    "Airlock reads `airlock.yaml` (or `airlock.yml`) from the working folder or the nearest parent folder, or the file given with `-c/--config`. Unknown keys are errors, and every error names `file:line:col`, the dotted path of the field, what was expected and how to fix it. Check a file with `airlock config validate` (for Cloudflare services it also checks that the Worker's wrangler file has each environment's `[env.*]` section and D1 binding). A secret written into the file itself (a password in a `databaseUrl`, a token in a var) is a warning at its line and field, never shown: the strings `airlock doctor` finds (secretlint's recommended rules), reported by `config validate` and by every command that loads a changed file, with the `${NAME}` reference to write instead.",
    '',
    'Editors can validate and complete the file with the JSON Schema [`schema/airlock.schema.json`](../schema/airlock.schema.json): add `$schema: ./node_modules/airlock-deploy/schema/airlock.schema.json` at the top, or `# yaml-language-server: $schema=./node_modules/airlock-deploy/schema/airlock.schema.json`.',
    '',
    'In paths below, `<name>` stands for a name you choose (a service, an environment) and `[]` for an item of a list.',
    '',
    '## A complete example',
    '',
    '```yaml',
    CONFIG_EXAMPLE.trimEnd(),
    '```',
    '',
    '## Inheritance',
    '',
    'A service is declared once under `services.<name>`; each environment can adjust it under `environments.<name>.services.<name>`. Every service field belongs to one of four classes (the model of wrangler environments):',
    '',
    '| class | meaning | fields |',
    '| --- | --- | --- |',
    ...(Object.keys(INHERITANCE) as Inheritance[]).map(
      (cls) =>
        `| \`${cls}\` | ${INHERITANCE[cls]} | ${(byClass.get(cls) ?? []).map((k) => `\`${k}\``).join(', ')} |`,
    ),
    '',
    "Environment settings are resolved field by field: `health` merges the fields an environment sets over the service's; `checks` set in an environment replace the whole list.",
    '',
    '## Where Airlock keeps its files',
    '',
    "Not in the project folder: in the project's **Airlock home**, `$AIRLOCK_HOME/projects/<project>-<hash>/` when `AIRLOCK_HOME` is set, else `$XDG_STATE_HOME/airlock/projects/<project>-<hash>/`, else `~/.local/state/airlock/projects/<project>-<hash>/` (`<project>` is the `project:` field, `<hash>` the first 10 hex digits of the SHA-256 of the project folder's real path). `airlock home show` prints it and says why there; `airlock home path` prints the path alone, for scripts. It holds the built artifacts, the release folders the local provider runs, each local environment's SQLite database (`envs/<env>/data/`), the runtime's files, the logs and, unless `state:` says otherwise, `state.db`.",
    '',
    "Release folders live outside the project so that a release runs as it would anywhere else: Node resolves bare imports up the folder tree, so a release inside the project would find the project's own `node_modules` (an artifact without its dependencies would seem to work), and the project's test runners would pick up the test files copied into release folders.",
    '',
    "`state.db` lives in the home too, beside the artifacts and release folders it describes: the two are only meaningful together. Deleting the project folder then leaves the home behind (delete it with the path `airlock home show` prints); a fresh clone or a copy of the project in another folder starts with a fresh home and a fresh history rather than a state that names artifacts and releases it does not have; renaming the folder is a new home as well (move the old one by hand, or set `AIRLOCK_HOME`). History that must outlive one machine belongs in team mode: `state:` (or `AIRLOCK_STATE_URL`) on Postgres, or on Cloudflare D1 (`d1://<account-id>/<database-id>`), holds releases, approvals, locks and the audit log for everyone, and each machine's home keeps only what is local to it (artifacts, local environments, logs). A `state:` file path is still resolved against the project folder, for those who want the SQLite file there.",
    '',
    "Commands also keep a small cache of validated configuration files, so that one whose `airlock.yaml` has not changed since the last command skips parsing and validating it: `$AIRLOCK_HOME/cache/config/` when `AIRLOCK_HOME` is set, else `$XDG_CACHE_HOME/airlock/config/`, else `~/.cache/airlock/config/` (folders 0700, files 0600). It holds the validated shape of the file's text, never a value read from the environment (`${NAME}` references stay references and are resolved by each command), and it is keyed by the text, the file and the version of Airlock; a changed file, another version, or anything a command cannot trust in it means the full validation, with the same messages. One entry is kept per configuration file and Airlock version (about 1 kB); when a command writes one, entries not written for 90 days (another version's, a project that is gone) are removed. Deleting the folder is always safe. `airlock config validate` never uses it.",
    '',
    'Earlier versions kept everything in `.airlock/` inside the project. While that folder holds files, commands that use the state stop with `HOME_MOVE_NEEDED`; `airlock home move` stops the local runtime, moves the folder into the home (and rewrites the paths the runtime recorded), and starts the runtime again, which brings back what served. It refuses (`HOME_MOVE_CONFLICT`) when the home already has files: it never merges two states.',
    '',
    '## Contents',
    '',
    ...mainSections.map((s) => `- [${s.title}](#${s.id})`),
    `- [Checks](#checks): ${checkSections.map((s) => `[\`${s.kind}\`](#${s.id})`).join(', ')}`,
    '',
  ];
  for (const s of mainSections) {
    lines.push(`## ${s.title}`, '');
    if (s.intro) lines.push(prose(s.intro), '');
    if (s.prefix) lines.push(`Fields of \`${s.prefix}\`.`, '');
    for (const f of s.fields) lines.push(...fieldMarkdown(f));
  }
  lines.push(
    '## Checks',
    '',
    `Each item of \`${checkSections[0]?.prefix ?? 'checks[]'}\` (and of an environment's \`checks\`) is one of these kinds, chosen by \`type\`. Checks run against the environment URL after every deployment; a failed check blocks promotion.`,
    '',
  );
  for (const s of checkSections) {
    lines.push(`## ${s.title}`, '');
    if (s.intro) lines.push(prose(s.intro), '');
    for (const f of s.fields) lines.push(...fieldMarkdown(f));
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
