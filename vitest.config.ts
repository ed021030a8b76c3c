import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: DuckDB, Postgres, MariaDB and the dev broker share them with the test workers.
    maxWorkers: 2,
    pool: 'forks',
    // Spawned `coldpipe` processes run the sources under test, not dist/ (one test checks the compiled tree).
    env: { COLDPIPE_FROM_SOURCE: '1' },
  },
})
