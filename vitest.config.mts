import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/package/ is the packaging check, run separately (npm run test:package).
    exclude: ['test/package/**', 'test/fixtures/**', '**/node_modules/**', 'dist/**'],
    // A native addon: one process per test file, not worker threads.
    pool: 'forks',
    // global.gc() for the async test's "inputs dropped by JS" check.
    execArgv: ['--expose-gc'],
    // Test the fresh source build, never a stale prebuilt binary (test:package tests that).
    env: { NATIVE_ATTENTION_FROM_SOURCE: '1' },
    testTimeout: 60000,
    hookTimeout: 60000,
  },
});
