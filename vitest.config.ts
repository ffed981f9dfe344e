import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start their own redis-server and child processes; two cores.
    maxWorkers: 2,
    fileParallelism: true,
    // Each file's tests run in an order drawn anew at every run (its seed printed at the start:
    // `--sequence.seed=N` runs that order again), so that no test passes only because another
    // ran before it.
    sequence: { shuffle: { files: false, tests: true } },
    // a process warning (a listener leak, say) names where it was raised, in the run's log
    execArgv: ['--trace-warnings'],
    env: { TASK_SWARM_LOG: process.env.TASK_SWARM_LOG ?? 'error' },
  },
});
