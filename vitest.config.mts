import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the addon and dist/ first, so every test runs the current sources.
    globalSetup: ['test/global-setup.ts'],
    // Tags select tests by kind: scripts/test-asan.mjs leaves out `timing` (wall-clock
    // assertions measure the sanitizer there, not the code).
    tags: [{ name: 'timing', description: 'asserts on wall-clock time or event-loop lag' }],
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
