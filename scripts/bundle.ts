/**
 * Bundles the CLI and the local runtime's entry into `dist/` (run by `npm ci`/`npm install`
 * through `prepare`, and by `npm pack`/`npm publish` through `prepack`). One file per entry plus
 * shared chunks, dependencies included, so a command loads a handful of modules instead of
 * ~575: `airlock status` starts in about half the time. An installed copy always runs the
 * bundle; in a checkout `bin/airlock.js` uses it only while it is newer than every source file.
 *
 * Only cli-table3 and log-update stay outside the bundle (and in `dependencies`), with
 * autocannon, the optional package perf checks load; every other package's code is in dist/, and
 * its license text in dist/THIRD-PARTY-LICENSES.txt (scripts/third-party-notices.ts).
 * test/scripts/bundle-deps.test.ts keeps `dependencies` and the bundle's imports in step.
 *
 * `--out <dir>` writes the bundle elsewhere (the install test packs a copy without touching
 * this checkout's dist/, which other tests use meanwhile).
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'rolldown';
import { builtinImportsToGetBuiltinModule } from './builtin-imports.ts';
import { bundledPackages, thirdPartyNotices } from './third-party-notices.ts';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const dist = values.out ? path.resolve(values.out) : path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const started = performance.now();
const output = await build({
  cwd: root,
  input: {
    airlock: 'src/cli/main.ts',
    'runtime-entry': 'src/cli/runtime-entry.ts',
  },
  platform: 'node',
  external: [/^node:/, 'cli-table3', 'log-update', 'autocannon'],
  resolve: {
    // jsonc-parser's main entry is a UMD module whose inner requires a bundler cannot follow;
    // its ES build (package.json `module`) is the same code as plain imports.
    alias: { 'jsonc-parser': path.join(root, 'node_modules/jsonc-parser/lib/esm/main.js') },
  },
  logLevel: 'warn',
  plugins: [
    {
      name: 'builtins-without-the-module-loader',
      renderChunk: (code) => ({ code: builtinImportsToGetBuiltinModule(code), map: null }),
    },
  ],
  output: {
    dir: dist,
    format: 'esm',
    entryFileNames: '[name].mjs',
    chunkFileNames: 'chunks/[name]-[hash].mjs',
    sourcemap: true,
    // What every command pays to load its modules: ASCII only (Node decodes a file with no
    // other byte on a fast path and V8 keeps it in one byte per character), no comments or
    // indentation (a third less to read and decode), names kept (stack traces stay readable;
    // the source maps give the files). A warm rollback's whole command: 260 → 240 ms, median of
    // 15 alternating runs.
    charset: 'ascii',
    comments: false,
    minify: { compress: false, mangle: false },
  },
});
const packages = bundledPackages(
  output.output.flatMap((item) => (item.type === 'chunk' ? item.moduleIds : [])),
);
writeFileSync(path.join(dist, 'THIRD-PARTY-LICENSES.txt'), thirdPartyNotices(packages));
process.stderr.write(
  `bundled the CLI into dist/ in ${Math.round(performance.now() - started)} ms\n`,
);
