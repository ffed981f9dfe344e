import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start their own redis-server and child processes; two cores.
    maxWorkers: 2,
    fileParallelism: true,
    // a process warning (a listener leak, say) names where it was raised, in the run's log
    execArgv: ['--trace-warnings'],
    env: { TASK_SWARM_LOG: process.env.TASK_SWARM_LOG ?? 'error' },
  },
});
