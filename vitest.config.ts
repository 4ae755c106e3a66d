import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One Temporal dev server and one workflow bundle for the whole run.
    globalSetup: ['./test/support/global-setup.ts'],
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
