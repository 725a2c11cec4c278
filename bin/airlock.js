#!/usr/bin/env node
// Airlock's command line (package `airlock-deploy`, command `airlock`).
//
// Installed from the registry (inside a node_modules folder, or without its sources and a git
// checkout beside them) it always runs the bundle in dist/: package managers do not keep file
// times, and Node refuses to strip types from files under node_modules. In a checkout of the
// repository it runs the bundle `npm ci` builds while that bundle is newer than every source
// file, else (or with AIRLOCK_FROM_SOURCE=1) the TypeScript sources directly; AIRLOCK_FROM_SOURCE=0
// runs the bundle without that check (one stat per source file: tenths of a second on a loaded
// machine; the bench sets it right after bundling, to time what an installed copy runs). The
// compile cache makes later starts fast either way.
//
// Written for any Node that can parse an ES module, so that an old one gets one clear line.
import { existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath } from 'node:url';

const REQUIRED_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    `airlock needs Node.js ${REQUIRED_MAJOR} or newer; this is Node.js ${process.versions.node}. Install Node ${REQUIRED_MAJOR} (https://nodejs.org, or \`nvm install ${REQUIRED_MAJOR}\`, \`fnm install ${REQUIRED_MAJOR}\`, \`volta install node@${REQUIRED_MAJOR}\`) and run it again.\n`,
  );
  process.exit(1);
}

module.enableCompileCache?.();

// Output piped into a reader that stops early (`airlock history | head`): stop writing to that
// stream, quietly, and carry on to the end of the command. Exiting there would cut a deployment
// short, its environment still locked by a process that is gone and its audit unwritten.
// Writes after the reader left are dropped (their callbacks still run: exiting waits for them).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    stream.write = (_chunk, encoding, callback) => {
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') process.nextTick(done);
      return true;
    };
  });
}

const root = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = `${root}dist/airlock.mjs`;

/** A checkout of Airlock's repository (sources and git beside them), not an installed copy. */
function isCheckout() {
  return (
    !root.split(/[\\/]/).includes('node_modules') &&
    existsSync(`${root}src/cli/main.ts`) &&
    existsSync(`${root}.git`)
  );
}

function bundleIsFresh() {
  if (process.env.AIRLOCK_FROM_SOURCE === '1') return false;
  if (process.env.AIRLOCK_FROM_SOURCE === '0') return existsSync(BUNDLE);
  let built;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    return false;
  }
  // One stat per entry (a recursive readdir with file types stats each entry once more).
  const pending = [`${root}src`];
  while (pending.length > 0) {
    const dir = pending.pop();
    for (const name of readdirSync(dir)) {
      const file = `${dir}/${name}`;
      const stat = statSync(file);
      if (stat.isDirectory()) pending.push(file);
      else if (stat.mtimeMs > built) return false;
    }
  }
  return true;
}

let entry = '../dist/airlock.mjs';
if (isCheckout()) {
  if (!bundleIsFresh()) entry = '../src/cli/main.ts';
} else if (!existsSync(BUNDLE)) {
  process.stderr.write(
    `airlock: ${BUNDLE} is missing: this copy of airlock-deploy is incomplete. Reinstall it (\`npm install -D airlock-deploy\`).\n`,
  );
  process.exit(1);
}
const { main } = await import(entry);
await main(process.argv);
