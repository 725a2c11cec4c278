#!/usr/bin/env node
// Airlock's command line. It runs the bundle that `npm ci` builds into dist/ (a few modules
// to load instead of ~575) while that bundle is newer than every source file; otherwise, or
// with AIRLOCK_FROM_SOURCE=1, it runs the TypeScript sources directly (Node >= 24 strips
// types). The compile cache makes later starts fast either way.
import { readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

module.enableCompileCache?.();

// Output piped into a reader that stops early (`airlock history | head`): stop quietly, as
// other command-line tools do, instead of crashing with EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

function bundleIsFresh() {
  if (process.env.AIRLOCK_FROM_SOURCE === '1') return false;
  const root = fileURLToPath(new URL('..', import.meta.url));
  let built;
  try {
    built = statSync(`${root}dist/airlock.mjs`).mtimeMs;
  } catch {
    return false;
  }
  for (const entry of readdirSync(`${root}src`, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && statSync(`${entry.parentPath}/${entry.name}`).mtimeMs > built)
      return false;
  }
  return true;
}

const { main } = await import(bundleIsFresh() ? '../dist/airlock.mjs' : '../src/cli/main.ts');
await main(process.argv);
