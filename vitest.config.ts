import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fixture projects have test suites of their own, run by their own runners.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // A temporary AIRLOCK_HOME per test file: tests never write to the real user's home.
    setupFiles: ['test/setup-home.ts'],
  },
});
