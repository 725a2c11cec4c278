/**
 * A bundle step (scripts/bundle.ts): the license notices of the packages whose code the bundle
 * contains. Those packages are not installed beside Airlock (they are devDependencies), so their
 * licenses ship in dist/THIRD-PARTY-LICENSES.txt instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** One package whose code the bundle contains. */
export interface BundledPackage {
  name: string;
  version: string;
  /** The package.json `license` (SPDX expression), or `UNKNOWN` when it declares none. */
  license: string;
  /** Absolute folder of the package (under a node_modules folder). */
  dir: string;
  /** Text of its license files (LICENSE*, LICENCE*, COPYING*, NOTICE*), in name order. */
  licenseTexts: Array<{ file: string; text: string }>;
}

const LICENSE_FILE = /^(licen[cs]e|copying|notice)([-._].*)?$/i;

/**
 * The package folder a module id belongs to: the folder after the last `node_modules` segment
 * (two segments for a scoped name), or null for a module outside node_modules (Airlock's own
 * sources, rolldown's runtime).
 */
export function packageDirOf(moduleId: string): string | null {
  const parts = moduleId.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length) return null;
  const scoped = parts[at + 1]?.startsWith('@');
  const end = at + (scoped ? 3 : 2);
  if (end > parts.length) return null;
  return parts.slice(0, end).join(path.sep);
}

function licenseOf(manifest: Record<string, unknown>): string {
  const { license, licenses } = manifest as {
    license?: string | { type?: string };
    licenses?: Array<{ type?: string }>;
  };
  if (typeof license === 'string') return license;
  if (license?.type) return license.type;
  const types = (licenses ?? []).map((l) => l.type).filter(Boolean);
  return types.length > 0 ? types.join(' OR ') : 'UNKNOWN';
}

/**
 * The packages the given module ids (rolldown's `chunk.moduleIds`) come from, sorted by name
 * then version, each once.
 * @throws Error when a package folder has no readable package.json.
 */
export function bundledPackages(moduleIds: Iterable<string>): BundledPackage[] {
  const dirs = new Set<string>();
  for (const id of moduleIds) {
    const dir = packageDirOf(id.replace(/^\0/, '').split('?')[0] as string);
    if (dir) dirs.add(dir);
  }
  const byKey = new Map<string, BundledPackage>();
  for (const dir of dirs) {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const name = String(manifest.name);
    const version = String(manifest.version);
    const key = `${name}@${version}`;
    if (byKey.has(key)) continue;
    const licenseTexts = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && LICENSE_FILE.test(entry.name))
      .map((entry) => entry.name)
      .sort()
      .map((file) => ({ file, text: readFileSync(path.join(dir, file), 'utf8').trimEnd() }));
    byKey.set(key, { name, version, license: licenseOf(manifest), dir, licenseTexts });
  }
  return [...byKey.values()].sort((a, b) =>
    a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name),
  );
}

/**
 * The text of dist/THIRD-PARTY-LICENSES.txt: a header, then per package a line
 * `name@version (license)` followed by its license files' text, or a sentence saying it ships
 * none.
 */
export function thirdPartyNotices(packages: BundledPackage[]): string {
  const rule = '-'.repeat(78);
  const sections = packages.map((pkg) => {
    const head = `${pkg.name}@${pkg.version} (${pkg.license})`;
    const body =
      pkg.licenseTexts.length > 0
        ? pkg.licenseTexts.map((l) => `${l.file}:\n\n${l.text}`).join('\n\n')
        : `The package ships no license file; its package.json declares: ${pkg.license}.`;
    return `${rule}\n${head}\n${rule}\n\n${body}\n`;
  });
  return [
    'Third-party software bundled into airlock-deploy',
    '',
    `dist/ contains code from the ${packages.length} packages below (they are not installed`,
    'separately). Each is listed with its version, its license, and the license text it ships.',
    '',
    ...sections,
  ].join('\n');
}
