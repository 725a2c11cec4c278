/**
 * Turns schema issues and rule findings into `ConfigDiagnostic`s positioned at `file:line:col`,
 * each saying what was expected, what was found, and how to fix it. Fixes come from the schema's
 * own metadata (field examples), so the schema stays the single source.
 */
import { closest, distance } from 'fastest-levenshtein';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  stringify,
} from 'yaml';
import type { z } from 'zod';
import type { ConfigDiagnostic } from '../errors.ts';
import type { FieldMeta } from './schema-fields.ts';
import { defOf, metaOf } from './schema-walk.ts';

export type ConfigPath = ReadonlyArray<string | number>;

/** A finding before it is positioned: `at: 'key'` points at the field name, `'value'` at its value. */
export interface Finding {
  severity: 'error' | 'warning';
  path: ConfigPath;
  message: string;
  fix?: string;
  at?: 'key' | 'value';
  /**
   * An error that stops only commands that use the value: the loader hands its diagnostic to
   * this callback instead of failing the whole file (an environment's secret that a job for
   * another environment does not have).
   */
  deferred?: (diagnostic: ConfigDiagnostic) => void;
}

/** What positioning needs: the parsed document and its line counter. */
export interface SourceMap {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
}

/** Dotted form of a path: `environments.production.services.web.port`, `pipeline[1]`. */
export function dotted(path: ConfigPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

interface Located {
  node: Node | null;
  keyNode: Node | null;
  found: boolean;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Finds the YAML node at `path`, or the deepest existing ancestor when the path is missing. */
function locate(doc: Document, path: ConfigPath): Located {
  let node = doc.contents as Node | null;
  let keyNode: Node | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (!pair) return { node, keyNode, found: false };
      keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? null;
      if (!node) return { node: keyNode, keyNode, found: true };
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
      node = node.items[seg] as Node;
      keyNode = null;
    } else {
      return { node, keyNode, found: false };
    }
  }
  return { node, keyNode, found: true };
}

/** Positions a finding in the file (1-based line and column). */
export function position(
  source: SourceMap,
  path: ConfigPath,
  at: 'key' | 'value' = 'value',
): { line: number; col: number } {
  const { node, keyNode, found } = locate(source.doc, path);
  const target = (found ? (at === 'key' ? (keyNode ?? node) : node) : (keyNode ?? node)) as Node & {
    range?: [number, number, number];
  };
  const offset = target?.range?.[0] ?? 0;
  return source.lineCounter.linePos(offset);
}

export function toDiagnostic(source: SourceMap, finding: Finding): ConfigDiagnostic {
  const { line, col } = position(source, finding.path, finding.at);
  return {
    severity: finding.severity,
    file: source.file,
    line,
    col,
    path: dotted(finding.path),
    message: finding.message,
    ...(finding.fix ? { fix: finding.fix } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Walking the zod schema (to find a field's metadata and allowed keys)

function unwrap(schema: z.ZodType): { schema: z.ZodType; meta: FieldMeta | undefined } {
  let meta = metaOf(schema);
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (
      (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') &&
      def.innerType
    ) {
      s = def.innerType;
      meta ??= metaOf(s);
    } else if (def.type === 'pipe' && def.in) {
      s = def.in;
      meta ??= metaOf(s);
    } else {
      return { schema: s, meta };
    }
  }
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(schema);
  if (def.type === 'object')
    return (schema as unknown as { shape: Record<string, z.ZodType> }).shape;
  return undefined;
}

/** Picks the union option that matches `value` (by discriminator, or by being an object). */
function pickOption(schema: z.ZodType, value: unknown): z.ZodType | undefined {
  const def = defOf(schema);
  const options = def.options ?? [];
  if (def.discriminator && value && typeof value === 'object') {
    const tag = (value as Record<string, unknown>)[def.discriminator];
    return options.find((o) => {
      const shape = objectShape(unwrap(o).schema);
      const lit = shape?.[def.discriminator as string];
      const values = lit ? (defOf(lit) as { values?: unknown[] }).values : undefined;
      return values?.includes(tag);
    });
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return options.find((o) => defOf(unwrap(o).schema).type === 'object');
  }
  return options[0];
}

/** The schema and metadata at `path`, following the data for unions. */
export function schemaAt(
  root: z.ZodType,
  path: ConfigPath,
  data: unknown,
): { schema: z.ZodType; meta: FieldMeta | undefined } | undefined {
  let current = unwrap(root);
  let value = data;
  for (const seg of path) {
    let s = current.schema;
    let def = defOf(s);
    if (def.type === 'union') {
      const option = pickOption(s, value);
      if (!option) return undefined;
      current = unwrap(option);
      s = current.schema;
      def = defOf(s);
    }
    const child =
      def.type === 'object'
        ? objectShape(s)?.[String(seg)]
        : def.type === 'record'
          ? def.valueType
          : def.type === 'array'
            ? def.element
            : undefined;
    if (!child) return undefined;
    current = unwrap(child);
    value =
      value && typeof value === 'object'
        ? (value as Record<string, unknown>)[String(seg)]
        : undefined;
  }
  return current;
}

/** Keys an object schema at `path` accepts. */
export function allowedKeys(root: z.ZodType, path: ConfigPath, data: unknown): string[] {
  const at = schemaAt(root, path, data);
  if (!at) return [];
  let s = at.schema;
  if (defOf(s).type === 'union') {
    const option = pickOption(s, valueAt(data, path));
    if (!option) return [];
    s = unwrap(option).schema;
  }
  return Object.keys(objectShape(s) ?? {});
}

export function valueAt(data: unknown, path: ConfigPath): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Wording

/** `"two"`, `2`, `a list`, `a mapping`, `nothing`. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
  never: 'nothing here',
};

/** `key: value` in YAML flow style, for fixes. */
export function yamlInline(key: string | number, value: unknown): string {
  const text = stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  return typeof key === 'number' ? `- ${text}` : `${key}: ${text}`;
}

/** Suggests the closest accepted word, if one is close enough to be a typo. */
export function didYouMean(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word, candidates);
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * Field names that people put in the wrong place, and where they belong. Keys are
 * `<context>:<field>` where context is `service` (under `services.<name>`), `override`
 * (under `environments.<env>.services.<name>`), `environment` or `root`.
 */
const MISPLACED: Record<string, string> = {
  'service:port':
    'port is set per environment, because each environment needs its own: move it to environments.<env>.services.<service>.port.',
  'override:build':
    'build is global-only: a release is built once and the same artifact is deployed to every environment. Set it under services.<service>.build.',
  'override:root': 'root is global-only: set it under services.<service>.root.',
  'override:database':
    'database is global-only: every environment runs the same migrations. Set it under services.<service>.database.',
  'environment:port':
    'port is set per service: move it to environments.<env>.services.<service>.port.',
  'environment:run':
    'run is a service setting: move it to environments.<env>.services.<service>.run.',
  'environment:approval':
    'approval belongs to the promotion policy: write promotion: { approval: { required: 1 } }.',
  'environment:approvals':
    'approvals belong to the promotion policy: write promotion: { approval: { required: 1 } }.',
  'root:environment': 'the key is environments (plural).',
  'root:service': 'the key is services (plural).',
  'root:name': 'the project name key is project.',
};

function contextOf(path: ConfigPath): string {
  if (path.length === 0) return 'root';
  if (path[0] === 'services' && path.length === 2) return 'service';
  if (path[0] === 'environments' && path.length === 2) return 'environment';
  if (path[0] === 'environments' && path[2] === 'services' && path.length === 4) return 'override';
  return 'other';
}

/** Environment names of the file (the pipeline, else the environments keys), for fixes. */
function environmentNames(data: unknown): string[] {
  const pipeline = valueAt(data, ['pipeline']);
  if (Array.isArray(pipeline) && pipeline.every((e) => typeof e === 'string')) return pipeline;
  const envs = valueAt(data, ['environments']);
  return envs && typeof envs === 'object' && !Array.isArray(envs) ? Object.keys(envs) : [];
}

/**
 * Puts the real environment and service names into a MISPLACED message. Outside an environment,
 * a dotted path through `environments.<env>` is spelled out once per environment of the file.
 */
function fillPlaceholders(
  text: string | undefined,
  context: string,
  path: ConfigPath,
  data: unknown,
): string | undefined {
  if (!text) return undefined;
  const env = context === 'environment' || context === 'override' ? String(path[1]) : undefined;
  const service =
    context === 'service' ? String(path[1]) : context === 'override' ? String(path[3]) : undefined;
  let out = text;
  if (env) out = out.replaceAll('<env>', env);
  if (service) out = out.replaceAll('<service>', service);
  const envs = environmentNames(data);
  if (envs.length > 0) {
    out = out.replace(/environments\.<env>(\.[\w<>-]+)*/g, (m) =>
      envs.map((e) => m.replace('<env>', e)).join(' and '),
    );
  }
  return out;
}

function exampleFix(
  path: ConfigPath,
  meta: FieldMeta | undefined,
  verb: 'set' | 'add',
): string | undefined {
  const key = path[path.length - 1];
  if (key === undefined || !meta?.examples?.length) return undefined;
  const example = yamlInline(key, meta.examples[0]);
  const parent = dotted(path.slice(0, -1));
  return verb === 'add'
    ? `add \`${example}\`${parent ? ` under ${parent}` : ''}.`
    : `for example \`${example}\`.`;
}

// ---------------------------------------------------------------------------------------------
// Zod issues → findings

type Issue = z.core.$ZodIssue;

/**
 * Converts zod issues to findings with wording and fixes.
 * @param root the schema that was parsed; @param data the parsed YAML as plain data.
 */
export function issuesToFindings(
  root: z.ZodType,
  issues: readonly Issue[],
  data: unknown,
): Finding[] {
  const out: Finding[] = [];
  const state: CollectState = { suggested: new Set(), missing: new WeakSet() };
  for (const issue of issues) collect(root, issue, [], data, out, state);
  // A typo such as `servics:` also makes `services` missing: report the typo only.
  return out.filter((f) => !(state.missing.has(f) && state.suggested.has(dotted(f.path))));
}

interface CollectState {
  /** Dotted paths that a did-you-mean on an unknown key pointed to. */
  suggested: Set<string>;
  /** Findings that say a field is missing. */
  missing: WeakSet<Finding>;
}

/** A fix for a value of the wrong type when the field has no example. */
function typeFix(key: string | number | undefined, expected: string, value: unknown): string {
  const name = key === undefined ? undefined : String(key);
  if (expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') && name)
    return `quote it: \`${name}: "${String(value)}"\`.`;
  if ((expected === 'object' || expected === 'record') && value === null && name)
    return `write \`${name}: {}\` or give it fields (docs/configuration.md lists them).`;
  return `docs/configuration.md lists what ${name ?? 'this field'} accepts.`;
}

/** A name close to `key` that `keySchema` accepts, if there is one. */
function validName(keySchema: z.ZodType | undefined, key: string): string | undefined {
  if (!keySchema) return undefined;
  const slug = key
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '');
  const variable = key.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
  return [variable, slug].find((c) => c && c !== key && keySchema.safeParse(c).success);
}

function collect(
  root: z.ZodType,
  issue: Issue,
  prefix: ConfigPath,
  data: unknown,
  out: Finding[],
  state: CollectState,
): void {
  const path = [...prefix, ...(issue.path as (string | number)[])];
  const value = valueAt(data, path);
  const meta = schemaAt(root, path, data)?.meta;
  const last = path[path.length - 1];

  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = allowedKeys(root, path, data);
      for (const key of issue.keys) {
        const context = contextOf(path);
        const misplaced = fillPlaceholders(MISPLACED[`${context}:${key}`], context, path, data);
        const guess = misplaced ? undefined : didYouMean(key, allowed);
        if (guess) state.suggested.add(dotted([...path, guess]));
        const allowedText = allowed.length ? ` (allowed here: ${allowed.join(', ')})` : '';
        out.push({
          severity: 'error',
          path: [...path, key],
          at: 'key',
          message: misplaced
            ? `"${key}" cannot be set here${allowedText}.`
            : `unknown field "${key}"${allowedText}.`,
          fix: misplaced ?? (guess ? `did you mean "${guess}"?` : `remove "${key}".`),
        });
      }
      return;
    }
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (path.length === 0) {
        out.push({
          severity: 'error',
          path,
          message: `expected the file to be ${expected}, got ${describeValue(value)}.`,
          fix: 'write the file as a mapping with project, pipeline, services and environments (docs/configuration.md has a complete example).',
        });
      } else if (value === undefined) {
        const finding: Finding = {
          severity: 'error',
          path,
          at: 'key',
          message: `is required (expected ${expected}).`,
          fix: exampleFix(path, meta, 'add') ?? `add ${String(last)}.`,
        };
        state.missing.add(finding);
        out.push(finding);
      } else {
        out.push({
          severity: 'error',
          path,
          message: `expected ${expected}, got ${describeValue(value)}.`,
          fix: exampleFix(path, meta, 'set') ?? typeFix(last, issue.expected, value),
        });
      }
      return;
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const guess =
        typeof value === 'string'
          ? didYouMean(
              value,
              issue.values.map((v) => String(v)),
            )
          : undefined;
      out.push({
        severity: 'error',
        path,
        message: `expected one of ${options.join(', ')}, got ${describeValue(value)}.`,
        fix:
          (guess ? `did you mean "${guess}"?` : exampleFix(path, meta, 'set')) ??
          `use one of ${options.join(', ')}.`,
      });
      return;
    }
    case 'invalid_key': {
      const key = String(last);
      const inner = issue.issues[0];
      const rule = inner?.code === 'invalid_format' ? inner.message : 'a valid name';
      const parent = schemaAt(root, path.slice(0, -1), data)?.schema;
      const keyType = parent ? (defOf(parent) as { keyType?: z.ZodType }).keyType : undefined;
      const better = validName(keyType, key);
      out.push({
        severity: 'error',
        path,
        at: 'key',
        message: `expected ${rule}, got ${describeValue(key)}.`,
        fix: better ? `rename it to "${better}".` : `rename "${key}" to ${rule}.`,
      });
      return;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const cmp = issue.code === 'too_small' ? '≥' : '≤';
      let message: string;
      if (issue.origin === 'array') {
        message =
          issue.code === 'too_small'
            ? `must list at least ${bound} item${Number(bound) === 1 ? '' : 's'}.`
            : `must list at most ${bound} items.`;
      } else if (issue.origin === 'string') {
        message =
          issue.code === 'too_small'
            ? 'must not be empty.'
            : `must be at most ${bound} characters.`;
      } else {
        message = `expected a number ${cmp} ${bound}, got ${describeValue(value)}.`;
      }
      out.push({
        severity: 'error',
        path,
        message,
        fix: exampleFix(path, meta, 'set') ?? typeFix(last, 'number', value),
      });
      return;
    }
    case 'invalid_format': {
      out.push({
        severity: 'error',
        path,
        message: `expected ${issue.message}, got ${describeValue(value)}.`,
        fix: exampleFix(path, meta, 'set') ?? typeFix(last, 'string', value),
      });
      return;
    }
    case 'invalid_union': {
      const disc = (issue as { discriminator?: string }).discriminator;
      if (disc) {
        const options = ((issue as { options?: unknown[] }).options ?? []).map((o) => String(o));
        const tag = valueAt(data, path);
        const guess = typeof tag === 'string' ? didYouMean(tag, options) : undefined;
        out.push({
          severity: 'error',
          path,
          message:
            tag === undefined
              ? `is required (one of ${options.map((o) => `"${o}"`).join(', ')}).`
              : `expected one of ${options.map((o) => `"${o}"`).join(', ')}, got ${describeValue(tag)}.`,
          ...(tag === undefined ? { at: 'key' as const } : {}),
          fix: guess
            ? `did you mean "${guess}"?`
            : `set ${String(disc)} to one of ${options.join(', ')}; each kind takes its own fields (docs/configuration.md).`,
        });
        return;
      }
      // A plain union: report the branch that matches the value's shape, if one does.
      const objectValue = value !== null && typeof value === 'object' && !Array.isArray(value);
      const branch = issue.errors.find((errs) =>
        errs.every(
          (e) =>
            !(e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')),
        ),
      );
      if (branch && objectValue) {
        for (const e of branch) collect(root, e, path, data, out, state);
        return;
      }
      // Otherwise name every accepted form: `"manual", "automatic" or a mapping (key: value)`.
      const words: string[] = [];
      const accepted: string[] = [];
      for (const errs of issue.errors) {
        for (const e of errs) {
          if (e.path.length > 0) continue;
          if (e.code === 'invalid_value') {
            for (const v of e.values) {
              words.push(JSON.stringify(v));
              accepted.push(String(v));
            }
          } else if (e.code === 'invalid_type') {
            words.push(EXPECTED[e.expected] ?? e.expected);
          }
        }
      }
      const list =
        words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0];
      const guess = typeof value === 'string' ? didYouMean(value, accepted) : undefined;
      out.push({
        severity: 'error',
        path,
        message: `expected ${list ?? 'another kind of value'}, got ${describeValue(value)}.`,
        fix:
          (guess ? `did you mean "${guess}"?` : exampleFix(path, meta, 'set')) ??
          typeFix(last, 'union', value),
      });
      return;
    }
    default: {
      out.push({
        severity: 'error',
        path,
        message: issue.message,
        fix: exampleFix(path, meta, 'set') ?? typeFix(last, issue.code, value),
      });
    }
  }
}
