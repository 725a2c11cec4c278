/**
 * Where Airlock's own files are, whether it runs from its TypeScript sources (`src/…`) or from
 * the bundle `npm ci` builds (`dist/…`): the package root holds `package.json`, `bin/`,
 * `examples/` and both layouts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The name Airlock is published under (`airlock` on the registry is another package). */
export const PACKAGE_NAME = 'airlock-deploy';

function findRoot(from: string): string {
  let dir = path.dirname(from);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === PACKAGE_NAME
    ) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find Airlock's package.json above ${from}`);
    dir = parent;
  }
}

const here = fileURLToPath(import.meta.url);

/** Absolute path of the package root. */
export const PACKAGE_ROOT = findRoot(here);

/** The installed version (package.json's `version`), which `airlock --version` prints. */
export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** True when running from the bundle in `dist/`. */
export const BUNDLED = !here.endsWith('.ts');

/** A file of the package, by its path from the root. */
export function packagePath(...parts: string[]): string {
  return path.join(PACKAGE_ROOT, ...parts);
}

/** The entry the CLI starts the local runtime with (see `cli/runtime-entry.ts`). */
export const RUNTIME_ENTRY = BUNDLED
  ? packagePath('dist', 'runtime-entry.mjs')
  : packagePath('src', 'cli', 'runtime-entry.ts');
