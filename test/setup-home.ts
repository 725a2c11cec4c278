/**
 * Every test file gets its own AIRLOCK_HOME in the OS temp folder (removed after the file), so
 * no test writes Airlock's state, releases or logs to the real user's home. Projects are told
 * apart inside it by their folder (`config/home.ts`), so tests of one file never share a home
 * either. XDG_STATE_HOME (and XDG_CACHE_HOME, where the cache of validated airlock.yaml files
 * goes) point there too, for a child process started with an environment that leaves
 * AIRLOCK_HOME out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const root = mkdtempSync(path.join(os.tmpdir(), 'airlock-test-home-'));
process.env.AIRLOCK_HOME = root;
process.env.XDG_STATE_HOME = root;
process.env.XDG_CACHE_HOME = root;

// Registered first, so it runs after the file's own afterAll hooks (which stop runtimes).
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});
