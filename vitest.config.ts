import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Commits made `asGiven` (instance snapshots) are checked to be plain JSON data, and frozen.
    env: { CHARTD_STORE_CHECKS: '1' },
  },
});
