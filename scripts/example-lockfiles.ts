/**
 * Regenerates the lockfiles of the examples (examples/notes, examples/worker-d1), which list
 * airlock-deploy as a devDependency as a user's project does. npm resolves them against a local
 * registry holding this checkout's packed airlock-deploy (test/helpers/local-registry.ts); the
 * lockfile then names the public registry, and airlock-deploy's entry carries no integrity,
 * since its bytes change with every build of this checkout until a version is published.
 *
 * Usage: node scripts/example-lockfiles.ts
 */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ok, ROOT, run, startLocalRegistry } from '../test/helpers/local-registry.ts';

const EXAMPLES = ['examples/notes', 'examples/worker-d1'];
const PUBLIC = 'https://registry.npmjs.org/';

const registry = await startLocalRegistry();
try {
  for (const example of EXAMPLES) {
    const work = path.join(registry.dir, path.basename(example));
    mkdirSync(work, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) {
      // The existing lockfile keeps what it resolved already.
      if (existsSync(path.join(ROOT, example, file)))
        cpSync(path.join(ROOT, example, file), path.join(work, file));
    }
    await ok(
      run(
        'npm',
        [
          'install',
          '--package-lock-only',
          '--userconfig',
          registry.npmrc,
          '--no-audit',
          '--no-fund',
        ],
        { cwd: work },
      ),
    );
    const lock = JSON.parse(readFileSync(path.join(work, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string; integrity?: string }>;
    };
    for (const [key, entry] of Object.entries(lock.packages)) {
      if (entry.resolved) entry.resolved = entry.resolved.replace(registry.url, PUBLIC);
      if (key === 'node_modules/airlock-deploy') delete entry.integrity;
    }
    writeFileSync(
      path.join(ROOT, example, 'package-lock.json'),
      `${JSON.stringify(lock, null, 2)}\n`,
    );
    console.log(`${example}/package-lock.json: ${Object.keys(lock.packages).length - 1} packages`);
  }
} finally {
  registry.stop();
}
