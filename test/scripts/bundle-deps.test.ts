/**
 * What an install of airlock-deploy brings along: the bundle (scripts/bundle.ts) contains every
 * package's code except a few, and `dependencies` lists exactly those few. The bundle is built
 * into a temporary folder and every module specifier its files still import, require or resolve
 * is collected from their syntax tree: each must be a Node built-in, a dependency, or one of the
 * documented optional packages below; and each dependency must be one of them (a package whose
 * code the bundle contains would be installed twice). The license notices the bundle step writes
 * list the packages it contains.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseAst } from 'rolldown/parseAst';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPackages, packageDirOf } from '../../scripts/third-party-notices.ts';
import { run } from '../helpers/local-registry.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  files: string[];
};

/**
 * Packages the bundle may load that are not installed with Airlock, each with why. A user
 * without one gets a message naming the install command, or never reaches the code that loads it.
 */
const OPTIONAL: Record<string, string> = {
  autocannon: 'perf checks only; a missing one fails the check with `npm install -D autocannon`',
  'pg-native': "pg's native binding, loaded only through `pg.native`, which Airlock never uses",
};

/** One module specifier found in the bundle, with the file and the form it appeared in. */
interface Reference {
  specifier: string;
  file: string;
  form: 'import' | 'export' | 'import()' | 'require' | 'require.resolve';
}

type Node = { type?: string; [key: string]: unknown };

function literal(node: unknown): string | null {
  const n = node as Node | null;
  if (n?.type === 'Literal' && typeof n.value === 'string') return n.value;
  const quasis = (n as { quasis?: Array<{ value: { cooked: string } }> } | null)?.quasis;
  if (n?.type === 'TemplateLiteral' && quasis?.length === 1) return quasis[0]?.value.cooked ?? null;
  return null;
}

/**
 * `require`, `__require`, or `createRequire(import.meta.url)`: something that loads a module by
 * name from the bundle's folder. (`createRequire(<another package's file>)` resolves from that
 * package, whose own dependencies are its business.)
 */
function isRequire(node: unknown): boolean {
  const n = node as Node;
  if (n?.type === 'Identifier') return n.name === 'require' || n.name === '__require';
  if (n?.type !== 'CallExpression') return false;
  const callee = n.callee as Node;
  const [from] = n.arguments as Node[];
  const meta = from?.object as Node | undefined;
  return (
    callee.type === 'Identifier' &&
    callee.name === 'createRequire' &&
    from?.type === 'MemberExpression' &&
    meta?.type === 'MetaProperty' &&
    (from.property as Node).name === 'url'
  );
}

/**
 * Every specifier a bundle file loads or resolves: static imports and re-exports, `import()`,
 * `require()`/`__require()`/`createRequire(…)()`, and `….resolve()` on those. A dynamic load
 * whose argument is not a string is reported with the specifier `<computed>`.
 */
function referencesOf(code: string, file: string): Reference[] {
  const found: Reference[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const node = value as Node;
    switch (node.type) {
      case 'ImportDeclaration':
        found.push({ specifier: literal(node.source) ?? '<computed>', file, form: 'import' });
        break;
      case 'ExportNamedDeclaration':
      case 'ExportAllDeclaration':
        if (node.source)
          found.push({ specifier: literal(node.source) ?? '', file, form: 'export' });
        break;
      case 'ImportExpression':
        found.push({ specifier: literal(node.source) ?? '<computed>', file, form: 'import()' });
        break;
      case 'CallExpression': {
        const callee = node.callee as Node;
        const [first] = node.arguments as unknown[];
        if (isRequire(callee)) {
          found.push({ specifier: literal(first) ?? '<computed>', file, form: 'require' });
        } else if (
          callee.type === 'MemberExpression' &&
          (callee.property as Node).name === 'resolve' &&
          isRequire(callee.object)
        ) {
          found.push({ specifier: literal(first) ?? '<computed>', file, form: 'require.resolve' });
        }
        break;
      }
    }
    for (const [key, child] of Object.entries(node)) {
      if (key !== 'type' && typeof child === 'object') visit(child);
    }
  };
  visit(parseAst(code, { lang: 'js', sourceType: 'module' }, file));
  return found;
}

/** `@scope/name/deep/file` → `@scope/name`; `name/deep` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

function bundleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.mjs'))
    .map((f) => path.join(dir, f));
}

let out = '';
let references: Reference[] = [];

beforeAll(async () => {
  out = mkdtempSync(path.join(os.tmpdir(), 'airlock-bundle-deps-'));
  const built = await run(
    process.execPath,
    [path.join(ROOT, 'scripts/bundle.ts'), '--out', path.join(out, 'dist')],
    { cwd: ROOT },
  );
  expect(built.code, built.stderr).toBe(0);
  references = bundleFiles(path.join(out, 'dist')).flatMap((file) =>
    referencesOf(readFileSync(file, 'utf8'), path.relative(out, file)),
  );
}, 120_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('referencesOf', () => {
  it('finds every form of load and resolve, and only those', () => {
    const code = [
      'import a from "pkg-a";',
      'import "./chunks/local.mjs";',
      'export { b } from "@scope/pkg-b/deep";',
      'export * from "node:fs";',
      'const c = await import("pkg-c");',
      'const d = __require("pkg-d");',
      'const e = createRequire(import.meta.url)("pkg-e");',
      'const f = createRequire(import.meta.url).resolve("pkg-f/package.json");',
      'const g = require.resolve(`pkg-g`);',
      'const h = await import(name);',
      'const i = createRequire(elsewhere).resolve(`${platform}/bin/x`);',
      'const text = "import x from \\"not-a-module\\"; require(\\"nor-this\\")";',
      'other("pkg-z"); obj.require("pkg-y");',
    ].join('\n');
    expect(referencesOf(code, 'x.mjs').map((r) => `${r.form} ${r.specifier}`)).toEqual([
      'import pkg-a',
      'import ./chunks/local.mjs',
      'export @scope/pkg-b/deep',
      'export node:fs',
      'import() pkg-c',
      'require pkg-d',
      'require pkg-e',
      'require.resolve pkg-f/package.json',
      'require.resolve pkg-g',
      'import() <computed>',
    ]);
  });
});

describe('the bundle and `dependencies`', () => {
  it('loads by name only built-ins, dependencies and the documented optional packages', () => {
    const computed = references.filter((r) => r.specifier === '<computed>');
    expect(computed, 'a load whose module the test cannot check').toEqual([]);
    const unexpected = references.filter((r) => {
      if (r.specifier.startsWith('.') || isBuiltin(r.specifier)) return false;
      const name = packageName(r.specifier);
      return !(name in manifest.dependencies) && !(name in OPTIONAL);
    });
    expect(
      unexpected,
      'each package the bundle loads at run time must be in `dependencies` (or bundled)',
    ).toEqual([]);
  });

  it('lists in `dependencies` only packages the bundle loads, none it contains', () => {
    const loaded = new Set(
      references
        .filter((r) => !r.specifier.startsWith('.') && !isBuiltin(r.specifier))
        .map((r) => packageName(r.specifier)),
    );
    expect(Object.keys(manifest.dependencies).sort()).toEqual(
      [...loaded].filter((name) => !(name in OPTIONAL)).sort(),
    );
    // The optional packages are not installed with Airlock; the checkout tests with autocannon.
    for (const name of Object.keys(OPTIONAL))
      expect(manifest.dependencies).not.toHaveProperty(name);
    expect(manifest.devDependencies).toHaveProperty('autocannon');
  });

  it('writes the license notices of the packages it contains, none of them a dependency', () => {
    const notices = readFileSync(path.join(out, 'dist', 'THIRD-PARTY-LICENSES.txt'), 'utf8');
    for (const name of ['zod', 'yaml', 'hono', 'commander', 'pg', '@snaplet/copycat']) {
      const version = (
        JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
      expect(notices).toContain(`\n${name}@${version} (`);
    }
    // zod's MIT license text, as its LICENSE file has it.
    expect(notices).toContain('Copyright (c) 2025 Colin McDonnell');
    expect(notices).toMatch(/\nyaml@[\d.]+ \(ISC\)\n/);
    const listed = [...notices.matchAll(/^(@?[^@\s]+)@\S+ \(/gm)].map((m) => m[1]);
    expect(listed.length).toBeGreaterThan(30);
    for (const name of Object.keys(manifest.dependencies)) expect(listed).not.toContain(name);
    // `files` ships it.
    expect(manifest.files).toContain('dist/THIRD-PARTY-LICENSES.txt');
  });
});

describe('bundledPackages', () => {
  it('maps module ids to their package folders, nested and scoped ones included', () => {
    const nm = path.join(ROOT, 'node_modules');
    expect(packageDirOf(path.join(nm, 'zod/v4/core/core.js'))).toBe(path.join(nm, 'zod'));
    expect(packageDirOf(path.join(nm, '@hono/zod-openapi/dist/index.js'))).toBe(
      path.join(nm, '@hono/zod-openapi'),
    );
    expect(packageDirOf(path.join(nm, 'a/node_modules/@s/b/x.js'))).toBe(
      path.join(nm, 'a/node_modules/@s/b'),
    );
    expect(packageDirOf(path.join(ROOT, 'src/cli/main.ts'))).toBeNull();
    expect(packageDirOf('\0rolldown/runtime.js')).toBeNull();
    const packages = bundledPackages([
      path.join(nm, 'yaml/dist/index.js'),
      path.join(nm, 'yaml/dist/parse/lexer.js'),
      path.join(ROOT, 'src/cli/main.ts'),
    ]);
    expect(
      packages.map((p) => `${p.name} ${p.license} ${p.licenseTexts.map((l) => l.file)}`),
    ).toEqual([`yaml ISC LICENSE`]);
  });
});
