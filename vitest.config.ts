import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // fails clearly when dist/ (run by the end-to-end tests and the worker pools) was never built
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two files at a time on the 2-core machines: vitest's default (cores − 1) runs one, and most files
    // wait on child processes (the CLI, worker pools, kinesalite); measured 666 s → 368 s (warm caches)
    maxWorkers: 2,
  },
})
