/**
 * Literal secrets written into airlock.yaml (a password in a `databaseUrl`, a token in a var):
 * the secret-looking strings `airlock doctor` finds (`secrets/secret-strings.ts`, secretlint's
 * recommended rules), placed at their line and field as configuration warnings, each with how
 * to read the value from an environment variable instead. Never the value. Pure.
 */
import type { Document, Node } from 'yaml';
import { isMap, isScalar, isSeq } from 'yaml';
import type { ConfigDiagnostic } from '../errors.ts';
import type { SecretString } from '../secrets/secret-strings.ts';
import { type ConfigPath, dotted } from './diagnostics.ts';
import { databaseUrlVariable } from './references.ts';

type Ranged = Node & { range?: [number, number, number] | null };

const within = (node: unknown, offset: number): boolean => {
  const range = (node as Ranged | null)?.range;
  return !!range && range[0] <= offset && offset < Math.max(range[1], range[0] + 1);
};

/**
 * The path of the value whose text holds `offset` (a key holding it gives its mapping's path),
 * or null when no value does (a comment).
 */
export function pathAtOffset(doc: Document, offset: number): ConfigPath | null {
  let node: unknown = doc.contents;
  if (!within(node, offset)) return null;
  const path: Array<string | number> = [];
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.value, offset));
      if (!pair) return node.items.some((p) => within(p.key, offset)) ? path : null;
      path.push(isScalar(pair.key) ? String(pair.key.value) : String(pair.key));
      node = pair.value;
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => within(item, offset));
      if (index < 0) return null;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
}

/** `STAGING`, `EU_WEST` from an environment name (as `${STAGING_DATABASE_URL}` is named). */
const upper = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, '_');

/** `apiKey` → `API_KEY`. */
const snake = (key: string) => upper(key.replace(/([a-z0-9])([A-Z])/g, '$1_$2'));

/** What to write instead of the literal, by the field that holds it. */
function advice(path: ConfigPath, kind: string): { message: string; fix: string } {
  const [first, env, , , field] = path;
  const last = path.filter((s): s is string => typeof s === 'string').at(-1) ?? '';
  const notShown = `(secretlint: ${kind}; not shown)`;
  const exposed = 'whoever can read the file or its git history can use it.';
  const rotate = 'Then change the credential: the old value stays in the git history.';
  const fromEnv = (key: string, name: string) =>
    `read it from an environment variable: \`${key}: "\${${name}}"\`, with ${name} set where airlock runs (in CI as a secret; \`airlock ci init\` passes it to the jobs).`;
  if (first === 'environments' && typeof env === 'string' && field === 'databaseUrl')
    return {
      message: `holds a literal password ${notShown}: ${exposed}`,
      fix: `${fromEnv('databaseUrl', databaseUrlVariable(env))} ${rotate}`,
    };
  if (path.length === 1 && first === 'state')
    return {
      message: `holds a literal password ${notShown}: ${exposed}`,
      fix: `${fromEnv('state', 'AIRLOCK_STATE_URL')} ${rotate}`,
    };
  const varsAt = path.lastIndexOf('vars');
  if (varsAt >= 0 && varsAt === path.length - 2 && typeof path.at(-1) === 'string') {
    const inEnv = first === 'environments' && typeof env === 'string' ? env : '<environment>';
    return {
      message: `holds a secret-looking string ${notShown}: ${exposed}`,
      fix: `make it a secret of each environment rather than a var: remove it here and run \`airlock secret set ${inEnv} ${last}\` (the app still gets ${last}), or read it with \`${last}: "\${${last}}"\`. ${rotate}`,
    };
  }
  if (path.length === 0)
    return {
      message: `holds a secret-looking string outside any value, e.g. in a comment ${notShown}: ${exposed}`,
      fix: `remove it. ${rotate}`,
    };
  const name =
    first === 'environments' && typeof env === 'string'
      ? `${upper(env)}_${snake(last)}`
      : snake(last) || 'NAME';
  return {
    message: `holds a secret-looking string ${notShown}: ${exposed}`,
    fix: `${fromEnv(last, name)} ${rotate}`,
  };
}

/**
 * A warning for each secret-looking string of the configuration's text, at its line and column,
 * naming the field that holds it (`doc` is the parsed text) and the fix.
 */
export function literalSecretWarnings(
  file: string,
  doc: Document,
  found: readonly SecretString[],
): ConfigDiagnostic[] {
  return found.map((s) => {
    const path = pathAtOffset(doc, s.offset) ?? [];
    return {
      severity: 'warning',
      file,
      line: s.line,
      col: s.col,
      path: dotted(path),
      ...advice(path, s.kind),
    };
  });
}
