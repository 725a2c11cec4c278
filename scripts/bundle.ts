/**
 * Bundles the CLI and the local runtime's entry into `dist/` (run by `npm ci`/`npm install`
 * through `prepare`, and by `npm pack`/`npm publish` through `prepack`). One file per entry plus
 * shared chunks, dependencies included, so a command loads a handful of modules instead of
 * ~575: `airlock status` starts in about half the time. An installed copy always runs the
 * bundle; in a checkout `bin/airlock.js` uses it only while it is newer than every source file.
 *
 * `--out <dir>` writes the bundle elsewhere (the install test packs a copy without touching
 * this checkout's dist/, which other tests use meanwhile).
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'rolldown';
import { builtinImportsToGetBuiltinModule } from './builtin-imports.ts';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const dist = values.out ? path.resolve(values.out) : path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const started = performance.now();
await build({
  cwd: root,
  input: {
    airlock: 'src/cli/main.ts',
    'runtime-entry': 'src/cli/runtime-entry.ts',
  },
  platform: 'node',
  external: [/^node:/, 'cli-table3', 'log-update', 'autocannon'],
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
  },
});
process.stderr.write(
  `bundled the CLI into dist/ in ${Math.round(performance.now() - started)} ms\n`,
);
