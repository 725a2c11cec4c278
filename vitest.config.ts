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
  },
});
