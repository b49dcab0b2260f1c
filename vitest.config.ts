import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/private-tmpdir.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The tests run in Node: its platform (files, worker threads, zlib) — src/node.ts installs it for the package.
    setupFiles: ['test/setup-node-platform.ts'],
  },
});
