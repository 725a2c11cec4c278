/**
 * The package.json that ships: `prepack` runs `strip` and `postpack` runs `restore` (pinst does
 * the same for `postinstall`). The checkout's `prepare` builds the bundle after `npm ci`; an
 * installed copy already has it, and a `prepare` script in the published manifest would make
 * package managers list Airlock among packages with install scripts (npm's allowScripts
 * warning) for a script whose file is not even shipped.
 *
 * Usage: `node scripts/pack-manifest.ts strip|restore [package folder]` (default: this
 * repository). `strip` renames `scripts.prepare` to `scripts._prepare`; `restore` renames it
 * back. Both keep the file's formatting (two spaces, final newline) and do nothing when there is
 * nothing to rename.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [action, folder = path.resolve(import.meta.dirname, '..')] = process.argv.slice(2);
if (action !== 'strip' && action !== 'restore') {
  process.stderr.write('usage: node scripts/pack-manifest.ts strip|restore [package folder]\n');
  process.exit(2);
}
const file = path.join(folder, 'package.json');
const manifest = JSON.parse(readFileSync(file, 'utf8')) as { scripts?: Record<string, string> };
const [from, to] = action === 'strip' ? ['prepare', '_prepare'] : ['_prepare', 'prepare'];
const scripts = manifest.scripts ?? {};
if (scripts[from] !== undefined) {
  manifest.scripts = Object.fromEntries(
    Object.entries(scripts).map(([name, command]) => [name === from ? to : name, command]),
  );
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}
