// Builds the release artifact: wipes the output folder and copies src/ into it, plus a
// package.json so `node server.js` runs as ESM from the output folder alone.
// When node_modules/ exists (installed with `npm ci --omit=dev`), it is copied too, so the
// output is self-contained on Postgres (pg). Without it the build still works: SQLite needs no
// dependencies.
// Deterministic: the same sources always give byte-identical output (no timestamps).
//
// Usage: node scripts/build.mjs [outDir]   (default: dist)
//   Postgres: npm ci --omit=dev && node scripts/build.mjs

import { mkdir, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const modulesDir = join(root, 'node_modules');
const outDir = resolve(root, process.argv[2] ?? 'dist');

/** True when `child` is `parent` or inside it. */
function within(parent, child) {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

if ([srcDir, modulesDir].some((dir) => within(outDir, dir) || within(dir, outDir))) {
  console.error(`build: refusing to write to ${outDir} (it would overwrite the sources)`);
  process.exit(1);
}

async function copyTree(from, to) {
  await mkdir(to, { recursive: true });
  const entries = (await readdir(from, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  let count = 0;
  for (const entry of entries) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) count += await copyTree(source, target);
    else if (entry.isFile()) {
      await writeFile(target, await readFile(source));
      count++;
    } else if (entry.isSymbolicLink()) {
      // npm links package binaries into node_modules/.bin: keep them links.
      await symlink(await readlink(source), target);
      count++;
    }
  }
  return count;
}

async function isDirectory(path) {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (error.code === 'ENOENT') return false;
    throw error;
  }
}

await rm(outDir, { recursive: true, force: true });
let files = await copyTree(srcDir, outDir);
const withModules = await isDirectory(modulesDir);
if (withModules) files += await copyTree(modulesDir, join(outDir, 'node_modules'));
const manifest = { name: 'airlock-example-notes-dist', private: true, type: 'module' };
await writeFile(join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(
  `build: ${relative(process.cwd(), outDir) || '.'} (${files + 1} files${withModules ? ', node_modules included' : ''})`,
);
