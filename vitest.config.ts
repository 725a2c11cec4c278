import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fixture projects have test suites of their own, run by their own runners.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    // End-to-end tests run real builds, processes and CLIs; on a busy 2-core CI machine one
    // story can take well over a minute. A hang still fails, after 3 minutes.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // A temporary AIRLOCK_HOME per test file: tests never write to the real user's home.
    setupFiles: ['test/setup-home.ts'],
    // Files and the tests in each file run in a random order, so a test that leans on another
    // one's leftovers fails. vitest picks the seed (Date.now()) and prints it in its banner;
    // the seed reporter repeats it at the end. Replay an order with --sequence.seed=<n>.
    sequence: { shuffle: true },
    reporters: ['default', './test/helpers/seed-reporter.ts'],
  },
});
