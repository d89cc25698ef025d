import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Each file starts its own servers and embedded databases; two cores run two files at once.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
